from mlflow.tracking import MlflowClient

from eet import tracking


def _uri(tmp_path):
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


def test_default_uri_is_absolute_sqlite(tmp_path):
    uri = tracking.resolve_tracking_uri({"results_dir": str(tmp_path / "results"), "mlflow": {}})
    assert uri == f"sqlite:///{tmp_path / 'results' / 'mlflow.db'}"


def test_new_cell_run_replaces_older_one(tmp_path):
    uri = _uri(tmp_path)
    first = tracking.start_cell_run(uri, "exp", "cub/16/eet", "student", {"bits": "16"})
    second = tracking.start_cell_run(uri, "exp", "cub/16/eet", "student", {"bits": "16"})
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("exp")
    live = [run.info.run_id for run in client.search_runs([experiment.experiment_id])]
    assert live == [second]
    assert client.get_run(first).info.lifecycle_stage == "deleted"


def test_resumed_run_keeps_its_id(tmp_path):
    uri = _uri(tmp_path)
    first = tracking.start_cell_run(uri, "exp", "cub/teacher", "teacher", {})
    assert tracking.start_cell_run(uri, "exp", "cub/teacher", "teacher", {}, resume_run_id=first) == first


def test_metrics_logged_with_clean_keys(tmp_path):
    uri = _uri(tmp_path)
    run_id = tracking.start_cell_run(uri, "exp", "cub/16/vit", "student", {})
    tracking.log_metrics(uri, run_id, {"map@100": 0.5, "skip": "text", "nan": float("nan")}, step=2)
    metrics = MlflowClient(uri).get_run(run_id).data.metrics
    assert metrics == {"map_at_100": 0.5}


def test_params_flattened(tmp_path):
    uri = _uri(tmp_path)
    run_id = tracking.start_cell_run(uri, "exp", "cub/16/vit", "student", {})
    tracking.log_params(uri, run_id, {"train": {"teacher": {"lr": 0.01}}, "bits": [16, 32]})
    params = MlflowClient(uri).get_run(run_id).data.params
    assert params["train.teacher.lr"] == "0.01"
    assert params["bits"] == "[16, 32]"


def test_sqlite_artifacts_stored_beside_database(tmp_path):
    uri = _uri(tmp_path)
    experiment_id = tracking.ensure_store(uri, "exp")
    location = MlflowClient(uri).get_experiment(experiment_id).artifact_location
    assert location == (tmp_path / "mlartifacts").as_uri()


def test_end_run_sets_status_and_resume_reopens(tmp_path):
    uri = _uri(tmp_path)
    run_id = tracking.start_cell_run(uri, "exp", "cub/teacher", "teacher", {})
    tracking.end_run(uri, run_id, status="FAILED")
    assert MlflowClient(uri).get_run(run_id).info.status == "FAILED"
    tracking.start_cell_run(uri, "exp", "cub/teacher", "teacher", {}, resume_run_id=run_id)
    assert MlflowClient(uri).get_run(run_id).info.status == "RUNNING"
