"""Run the real workflow end to end on the micro config: one tiny dataset, one bit length, one epoch."""
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def _snakemake(workdir: Path, config: Path, *arguments: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--configfile", str(config),
               "--cores", "2", *arguments]
    return subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("workflow")
    config = yaml.safe_load((REPO / "tests" / "configs" / "micro.yaml").read_text())
    config["results_dir"] = str(workdir / "results")
    config["resources_dir"] = str(workdir / "resources")
    config["datasets"]["synthetic_cub"]["root"] = str(workdir / "resources" / "datasets" / "synthetic_cub")
    config_path = workdir / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    result = _snakemake(workdir, config_path, "all_tables")
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir, config_path


def test_workflow_writes_tables_and_plots(finished_run):
    workdir, _ = finished_run
    results = workdir / "results"
    for name in ("tables/map_asymmetric.csv", "tables/map_asymmetric.md", "tables/map_asymmetric.tex",
                 "tables/map_symmetric.csv", "tables/latency.csv", "plots/map_vs_bits.png", "plots/latency_vs_map.png"):
        assert (results / name).stat().st_size > 0, name


def test_map_table_has_every_cell(finished_run):
    workdir, _ = finished_run
    table = pd.read_csv(workdir / "results" / "tables" / "map_asymmetric.csv")
    assert sorted(set(table["variant"])) == ["eet", "vit"]
    assert table["16 bits"].between(0, 100).all()


def test_latency_table_has_every_model(finished_run):
    workdir, _ = finished_run
    table = pd.read_csv(workdir / "results" / "tables" / "latency.csv")
    assert {"teacher", "vit", "eet"} <= set(table["model"])
    assert sorted(set(table["batch_size"])) == [1, 4]


def test_metrics_json_holds_both_protocols(finished_run):
    workdir, _ = finished_run
    metrics = json.loads((workdir / "results" / "synthetic_cub" / "16" / "eet" / "metrics.json").read_text())
    assert set(metrics["protocols"]) == {"asymmetric", "symmetric"}
    assert metrics["protocols"]["asymmetric"]["num_queries"] == 16


def test_mlflow_store_has_one_run_per_cell(finished_run):
    workdir, _ = finished_run
    client = MlflowClient(f"sqlite:///{workdir / 'results' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("eet-micro")
    runs = {run.info.run_name: run for run in client.search_runs([experiment.experiment_id])}
    assert sorted(runs) == ["synthetic_cub/16/eet", "synthetic_cub/16/vit", "synthetic_cub/teacher"]
    for name in ("synthetic_cub/16/eet", "synthetic_cub/16/vit"):
        metrics = runs[name].data.metrics
        assert "asymmetric.map" in metrics, name
        assert "symmetric.map_tie_aware" in metrics, name
        assert "train_loss" in metrics, name
        assert "latency.cpu.float32.bs1.median_ms" in metrics, name
    assert runs["synthetic_cub/teacher"].data.params["config.train.teacher.epochs"] == "1"
    for name, run in runs.items():
        assert run.info.status == "FINISHED", name


def test_second_run_has_nothing_to_do(finished_run):
    workdir, config_path = finished_run
    result = _snakemake(workdir, config_path, "all_tables", "--dry-run")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Nothing to be done" in result.stdout + result.stderr


def test_forcerun_one_cell_plans_only_that_cell(finished_run):
    workdir, config_path = finished_run
    model = workdir / "results" / "synthetic_cub" / "16" / "eet" / "model.pt"
    result = _snakemake(workdir, config_path, "all_tables", "--dry-run", "--forcerun", str(model))
    assert result.returncode == 0, result.stderr[-2000:]
    planned = _job_counts(result.stdout)
    assert planned == {"train_student": 1, "extract_codes": 1, "evaluate": 1, "tables": 1, "plots": 1,
                       "all_tables": 1, "total": 6}


def _job_counts(output: str) -> dict[str, int]:
    counts, in_table = {}, False
    for line in output.splitlines():
        fields = line.split()
        if fields[:2] == ["job", "count"]:
            in_table = True
        elif in_table and len(fields) == 2 and fields[1].isdigit():
            counts[fields[0]] = int(fields[1])
        elif in_table and counts:
            break
    return counts


def test_mlflow_ui_lists_one_row_per_cell(finished_run):
    workdir, _ = finished_run
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", f"sqlite:///{workdir / 'results' / 'mlflow.db'}",
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        experiments = _get_json(port, "/api/2.0/mlflow/experiments/get-by-name?experiment_name=eet-micro")
        experiment_id = experiments["experiment"]["experiment_id"]
        runs = _post_json(port, "/api/2.0/mlflow/runs/search", {"experiment_ids": [experiment_id]})["runs"]
        names = sorted(run["info"]["run_name"] for run in runs)
        assert names == ["synthetic_cub/16/eet", "synthetic_cub/16/vit", "synthetic_cub/teacher"]
    finally:
        server.terminate()
        server.wait(timeout=30)


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get_json(port: int, path: str, timeout: float = 60.0) -> dict:
    return _request(port, path, None, timeout)


def _post_json(port: int, path: str, body: dict, timeout: float = 60.0) -> dict:
    return _request(port, path, body, timeout)


def _request(port: int, path: str, body: dict | None, timeout: float) -> dict:
    """Call the local MLflow server, waiting up to ``timeout`` seconds for it to start."""
    import time
    import urllib.error
    import urllib.request

    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    deadline = time.monotonic() + timeout
    while True:
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read())
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
