"""Training resumes exactly: an interrupted run continued from its checkpoint equals an uninterrupted one."""
from pathlib import Path

import pytest
import torch

from eet.config import load_config
from eet.data.synthetic import generate_synthetic_cub
from eet.data.split import build_split_table
from eet.hashing.targets import learn_target_codes
from eet.train import loop
from eet.train.checkpoint import load_checkpoint
from eet.train.data import split_rows

REPO = Path(__file__).resolve().parent.parent
OPTIONS = {"num_classes": 3, "train_per_class": 4, "test_per_class": 2, "image_size": 32}


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic_cub")
    generate_synthetic_cub(root, seed=0, **OPTIONS)
    return build_split_table("synthetic_cub", root, OPTIONS)


def _config(tmp_path: Path) -> dict:
    config = load_config(REPO / "tests" / "configs" / "micro.yaml", {"results_dir": str(tmp_path / "results")})
    config["train"]["teacher"].update(epochs=3, batch_size=4)
    return config


def _context(tmp_path: Path, name: str) -> loop.RunContext:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    return loop.RunContext(tmp_path / name / "model.pt", uri, "resume-test", f"cub/{name}", "teacher", {})


def _targets(table) -> dict:
    labels = split_rows(table, "train")["label"].to_numpy()
    return {16: learn_target_codes(labels, num_classes=3, bits=16)}


def test_interrupted_teacher_resumes_to_same_weights(tmp_path, table, monkeypatch):
    config = _config(tmp_path)
    loop.train_teacher(table, _targets(table), config, _context(tmp_path, "straight"))

    original_log = loop.tracking.log_metrics

    def interrupt_at_epoch_two(uri, run_id, metrics, step=0):
        if step == 2:
            raise KeyboardInterrupt("simulated kill during epoch 2")
        original_log(uri, run_id, metrics, step)

    context = _context(tmp_path, "interrupted")
    monkeypatch.setattr(loop.tracking, "log_metrics", interrupt_at_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        loop.train_teacher(table, _targets(table), config, context)
    assert context.checkpoint_path.exists()
    assert not context.out_path.exists()
    assert load_checkpoint(context.checkpoint_path)["epoch"] == 1

    monkeypatch.setattr(loop.tracking, "log_metrics", original_log)
    loop.train_teacher(table, _targets(table), config, context)

    straight = load_checkpoint(tmp_path / "straight" / "model.pt")["model"]
    resumed = load_checkpoint(context.out_path)["model"]
    assert straight.keys() == resumed.keys()
    for key in straight:
        assert torch.equal(straight[key], resumed[key]), f"weights differ at {key}"


def test_resumed_run_keeps_mlflow_run(tmp_path, table, monkeypatch):
    config = _config(tmp_path)
    context = _context(tmp_path, "teacher")
    original_log = loop.tracking.log_metrics

    def interrupt_at_epoch_two(uri, run_id, metrics, step=0):
        if step == 2:
            raise KeyboardInterrupt
        original_log(uri, run_id, metrics, step)

    monkeypatch.setattr(loop.tracking, "log_metrics", interrupt_at_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        loop.train_teacher(table, _targets(table), config, context)
    first_run = load_checkpoint(context.checkpoint_path)["run_id"]
    monkeypatch.setattr(loop.tracking, "log_metrics", original_log)
    loop.train_teacher(table, _targets(table), config, context)
    assert load_checkpoint(context.out_path)["run_id"] == first_run


def test_student_rejects_teacher_of_other_bits(tmp_path, table):
    config = _config(tmp_path)
    config["train"]["teacher"]["epochs"] = 1
    teacher = _context(tmp_path, "teacher16")
    loop.train_teacher(table, _targets(table), config, teacher)
    labels = split_rows(table, "train")["label"].to_numpy()
    student = loop.RunContext(tmp_path / "s" / "model.pt", teacher.tracking_uri, "resume-test", "cub/32/eet", "student", {})
    with pytest.raises(ValueError, match="hash heads for \\(16,\\) bits, not 32"):
        loop.train_student(table, learn_target_codes(labels, 3, 32), 32, "eet", teacher.out_path, config, student)
