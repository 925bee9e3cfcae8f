"""MLflow helpers: one run per cell (dataset x bits x variant) and one per teacher.

Runs are addressed by an explicit run id through ``MlflowClient`` rather than MLflow's global active
run, so training, evaluation and latency jobs in different processes add to the same run. The tag
``eet.cell`` identifies the run of a cell. Starting a fresh training run for a cell marks older runs
of that cell as deleted, so the MLflow UI shows one row per cell.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from mlflow.entities import Metric, Param
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

logger = logging.getLogger(__name__)

CELL_TAG = "eet.cell"
ROLE_TAG = "eet.role"
MAX_PARAM_LENGTH = 6000  # MLflow 3.x limit on one param value
RETRIES = 8
T = TypeVar("T")


def resolve_tracking_uri(config: Mapping[str, Any]) -> str:
    """Return the configured tracking URI, or a SQLite store at an absolute path under results_dir."""
    uri = config.get("mlflow", {}).get("tracking_uri")
    if uri:
        return str(uri)
    database = Path(config["results_dir"]).resolve() / "mlflow.db"
    return f"sqlite:///{database}"


def ensure_store(uri: str, experiment: str) -> str:
    """Create the store (its schema) and the experiment if missing; return the experiment id.

    Call this once before parallel jobs start: several processes creating a fresh SQLite store at
    the same moment race on its schema.
    """
    artifact_location = None
    if uri.startswith("sqlite:///"):
        # Artifacts go beside the database; MLflow's default is ./mlruns in whatever folder a job runs.
        database_dir = Path(uri.removeprefix("sqlite:///")).parent
        database_dir.mkdir(parents=True, exist_ok=True)
        artifact_location = (database_dir / "mlartifacts").as_uri()
    client = MlflowClient(uri)
    found = _retry(lambda: client.get_experiment_by_name(experiment))
    if found is not None:
        return found.experiment_id
    experiment_id = _retry(lambda: client.create_experiment(experiment, artifact_location=artifact_location))
    logger.info("created MLflow experiment %r (id %s) in %s", experiment, experiment_id, uri)
    return experiment_id


def start_cell_run(
    uri: str, experiment: str, cell: str, role: str, tags: Mapping[str, str], resume_run_id: str | None = None
) -> str:
    """Return the run id for ``cell``: ``resume_run_id`` if given, else a new run replacing older ones."""
    client = MlflowClient(uri)
    if resume_run_id:
        _retry(lambda: client.update_run(resume_run_id, status="RUNNING"))
        logger.info("continuing MLflow run %s of %s", resume_run_id, cell)
        return resume_run_id
    experiment_id = ensure_store(uri, experiment)
    previous = _retry(lambda: client.search_runs([experiment_id], filter_string=f"tags.`{CELL_TAG}` = '{cell}'"))
    for run in previous:
        _retry(lambda run=run: client.delete_run(run.info.run_id))
        logger.info("marked older MLflow run %s of %s as deleted", run.info.run_id, cell)
    all_tags = {CELL_TAG: cell, ROLE_TAG: role, **tags}
    run = _retry(lambda: client.create_run(experiment_id, tags=all_tags, run_name=cell))
    logger.info("started MLflow run %s for %s in %s", run.info.run_id, cell, uri)
    return run.info.run_id


def find_cell_run(uri: str, experiment: str, cell: str) -> str:
    """Return the id of the live run tagged with ``cell``, or raise if there is none."""
    client = MlflowClient(uri)
    found = _retry(lambda: client.get_experiment_by_name(experiment))
    runs = [] if found is None else _retry(
        lambda: client.search_runs([found.experiment_id], filter_string=f"tags.`{CELL_TAG}` = '{cell}'")
    )
    if not runs:
        raise LookupError(f"no MLflow run for {cell} in experiment {experiment!r} at {uri}; rerun its training rule")
    return runs[0].info.run_id


def log_params(uri: str, run_id: str, params: Mapping[str, Any]) -> None:
    """Log a nested mapping as flat ``a.b.c`` params (long values are cut to MLflow's limit)."""
    flat = flatten(params)
    entries = [Param(key, str(value)[:MAX_PARAM_LENGTH]) for key, value in flat.items()]
    client = MlflowClient(uri)
    for start in range(0, len(entries), 100):
        _retry(lambda start=start: client.log_batch(run_id, params=entries[start:start + 100]))


def log_metrics(uri: str, run_id: str, metrics: Mapping[str, float], step: int = 0) -> None:
    """Log numeric metrics at ``step``; non-finite and non-numeric values are skipped."""
    now = int(time.time() * 1000)
    entries = []
    for key, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if value != value or value in (float("inf"), float("-inf")):
            logger.warning("metric %s is %s; not logged", key, value)
            continue
        entries.append(Metric(_clean_key(key), float(value), now, step))
    client = MlflowClient(uri)
    for start in range(0, len(entries), 500):
        _retry(lambda start=start: client.log_batch(run_id, metrics=entries[start:start + 500]))


def log_artifact(uri: str, run_id: str, path: Path) -> None:
    """Attach a file to the run."""
    _retry(lambda: MlflowClient(uri).log_artifact(run_id, str(path)))


def end_run(uri: str, run_id: str, status: str = "FINISHED") -> None:
    """Mark a run as ``FINISHED`` or ``FAILED``, with its end time."""
    _retry(lambda: MlflowClient(uri).set_terminated(run_id, status=status))


def set_tags(uri: str, run_id: str, tags: Mapping[str, str]) -> None:
    client = MlflowClient(uri)
    for key, value in tags.items():
        _retry(lambda key=key, value=value: client.set_tag(run_id, key, value))


def flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested mappings to ``{"a.b": value}``; lists stay values."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, prefix=f"{name}."))
        else:
            flat[name] = value
    return flat


def _clean_key(key: str) -> str:
    # MLflow keys allow letters, digits, _ - . space / and nothing else; "@" becomes "_at_".
    return key.replace("@", "_at_").replace("+", "_plus_")


def _retry(call: Callable[[], T]) -> T:
    """Run ``call``, retrying with back-off while SQLite reports the database as locked."""
    for attempt in range(RETRIES):
        try:
            return call()
        except MlflowException as error:
            if "locked" not in str(error).lower() or attempt == RETRIES - 1:
                raise
            wait = 0.2 * 2**attempt
            logger.warning("MLflow store is locked; retrying in %.1f s (attempt %d)", wait, attempt + 1)
            time.sleep(wait)
    raise AssertionError("unreachable")
