"""Training of the teacher (once per dataset) and of the students (once per cell).

Both follow the same stages: build data, build models, build the optimiser and schedule, resume if
a checkpoint exists, loop over epochs (logging every epoch to MLflow), save the final model. The
teacher is trained first with one hash head per bit length; each student then learns with the
teacher frozen. The last epoch's model is the result: no checkpoint is picked by test-set mAP.
"""

from __future__ import annotations

import logging
import os
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm import tqdm

from eet import tracking
from eet.models.vit import HashViT, build_hash_vit
from eet.train.checkpoint import (
    FORMAT_VERSION,
    git_commit,
    load_checkpoint,
    load_state_strictly,
    restore_rng_states,
    rng_states,
    save_atomically,
)
from eet.train.data import SplitImageDataset, make_loader, split_rows, train_transform
from eet.train.drg import mask_patches, select_patches
from eet.train.losses import LossWeights, student_loss, teacher_loss
from eet.train.schedule import warmup_cosine
from eet.train.variants import Variant, get_variant

logger = logging.getLogger(__name__)

StepFunction = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], tuple[torch.Tensor, dict[str, float], torch.Tensor]]


@dataclass
class RunContext:
    """Output path and MLflow identity of one training job."""

    out_path: Path  # final model file
    tracking_uri: str
    experiment: str
    cell: str  # MLflow cell tag, e.g. "synthetic_cub/teacher" or "synthetic_cub/16/eet"
    role: str  # "teacher" or "student"
    tags: dict[str, str]

    @property
    def checkpoint_path(self) -> Path:
        return self.out_path.with_name("checkpoint.pt")


def select_device(name: str) -> torch.device:
    """Map the config's train.device ("auto", "cpu", "cuda") to a torch device."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("train.device is 'cuda' but torch finds no CUDA device; set train.device to auto or cpu")
    return torch.device(name)


def train_teacher(table: pd.DataFrame, targets: Mapping[int, np.ndarray], config: Mapping[str, Any], context: RunContext) -> None:
    """Fine-tune the unpruned teacher with CE plus one hash-regression loss per bit length.

    Args:
        table: split table of the dataset.
        targets: bit length -> (n_train, K) ±1 target codes in the order of the training rows.
        config: the resolved workflow config.
        context: output path and MLflow identity.
    """
    train_rows = split_rows(table, "train")
    num_classes = int(table["label"].max()) + 1
    bits = sorted(targets)
    torch.manual_seed(int(config["seed"]))  # initial weights depend on the seed alone
    model = build_hash_vit(
        config["model"]["teacher"], num_classes, bits, prune=False, config_key="model.teacher"
    )
    target_tensors = {k: torch.as_tensor(targets[k], dtype=torch.float32) for k in bits}
    _check_target_rows(target_tensors, len(train_rows))

    def step(images: torch.Tensor, labels: torch.Tensor, indices: torch.Tensor):
        output = model(images)
        batch_targets = {k: target_tensors[k][indices].to(images.device) for k in bits}
        loss, parts = teacher_loss(output.logits, output.hashes, labels, batch_targets)
        return loss, parts, output.logits

    meta = {"role": "teacher", "num_classes": num_classes, "bits": bits, "arch": dict(config["model"]["teacher"])}
    run_id = _fit(model, step, train_rows, config, config["train"]["teacher"], context, meta)
    # A student's run stays open for its evaluation; the teacher's is complete here.
    tracking.end_run(context.tracking_uri, run_id)


def train_student(
    table: pd.DataFrame,
    target: np.ndarray,
    bits: int,
    variant_name: str,
    teacher_path: Path | None,
    config: Mapping[str, Any],
    context: RunContext,
) -> None:
    """Train one student variant for one bit length, distilling from the frozen teacher if needed."""
    variant = get_variant(variant_name)
    train_rows = split_rows(table, "train")
    num_classes = int(table["label"].max()) + 1
    student_arch = config["model"]["student"]
    torch.manual_seed(int(config["seed"]))
    model = build_hash_vit(
        student_arch, num_classes, [bits], prune=variant.prune, config_key="model.student"
    )
    target_tensor = torch.as_tensor(target, dtype=torch.float32)
    _check_target_rows({bits: target_tensor}, len(train_rows))

    teacher = None
    if variant.needs_teacher:
        if teacher_path is None:
            raise ValueError(f"variant {variant.name} needs a trained teacher, but no teacher model was given")
        teacher = load_model(teacher_path)
        _check_teacher(teacher, config, bits, num_classes)
        teacher.requires_grad_(False)
    weights = LossWeights(**config["loss"])
    drg = config["drg"]
    patch_size = int(config["model"]["teacher"]["patch_size"])

    def step(images: torch.Tensor, labels: torch.Tensor, indices: torch.Tensor):
        return _student_step(
            model, teacher, variant, bits, weights, drg, patch_size, images, labels,
            target_tensor[indices].to(images.device),
        )

    meta = {
        "role": "student", "num_classes": num_classes, "bits": [bits], "variant": variant.name,
        "arch": dict(student_arch), "prune": variant.prune,
    }
    _fit(model, step, train_rows, config, config["train"]["student"], context, meta, frozen=teacher)


def _student_step(
    model: HashViT,
    teacher: HashViT | None,
    variant: Variant,
    bits: int,
    weights: LossWeights,
    drg: Mapping[str, Any],
    patch_size: int,
    images: torch.Tensor,
    labels: torch.Tensor,
    target: torch.Tensor,
) -> tuple[torch.Tensor, dict[str, float], torch.Tensor]:
    teacher_output = None
    if teacher is not None:
        with torch.no_grad():
            teacher_output = teacher(images, return_importance=variant.drg)

    output = model(images)
    masked_logits = None
    if variant.drg:
        patches = select_patches(teacher_output.importance, int(drg["num_patches"]))
        masked = mask_patches(images, patches, patch_size, swap_row_col=bool(drg["swap_row_col"]))
        masked_logits = model(masked).logits

    teacher_hash = teacher_output.hashes[bits] if variant.dkt else None
    loss, parts = student_loss(
        output.logits, output.hashes[bits], labels, target, weights,
        masked_logits=masked_logits, teacher_hash=teacher_hash,
    )
    return loss, parts, output.logits


def _fit(
    model: HashViT,
    step: StepFunction,
    train_rows: pd.DataFrame,
    config: Mapping[str, Any],
    schedule: Mapping[str, Any],
    context: RunContext,
    meta: dict[str, Any],
    frozen: nn.Module | None = None,
) -> str:
    """Run the epochs of one training job, resuming from its checkpoint when one exists.

    Returns the MLflow run id. The run is marked ``FAILED`` if training raises.
    """
    train_config = config["train"]
    device = select_device(train_config["device"])
    seed = int(config["seed"])
    model.to(device)
    if frozen is not None:
        frozen.to(device).eval()

    img_size = int(meta["arch"]["img_size"])
    dataset = SplitImageDataset(train_rows, train_transform(img_size, train_config["crop_scale"]))
    batch_size = int(schedule["batch_size"])
    steps_per_epoch = max(len(dataset) // batch_size, 1)
    epochs = int(schedule["epochs"])
    optimizer = build_optimizer(model, schedule)
    scheduler = warmup_cosine(optimizer, int(schedule["warmup_steps"]), epochs * steps_per_epoch)

    start_epoch, run_id = 0, None
    if context.checkpoint_path.exists():
        state = load_checkpoint(context.checkpoint_path)
        load_state_strictly(model, state["model"], context.checkpoint_path)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        restore_rng_states(state["rng"])
        start_epoch, run_id = int(state["epoch"]), state.get("run_id")
        logger.info("resuming %s from %s at epoch %d of %d", context.cell, context.checkpoint_path, start_epoch, epochs)

    run_id = tracking.start_cell_run(
        context.tracking_uri, context.experiment, context.cell, context.role, context.tags, resume_run_id=run_id
    )
    if start_epoch == 0:
        tracking.log_params(context.tracking_uri, run_id, {"config": config, "git_commit": git_commit(), **context.tags})
    logger.info(
        "training %s on %s: %d images, %d epochs of %d steps, batch %d",
        context.cell, device, len(dataset), epochs, steps_per_epoch, batch_size,
    )

    autocast = (
        torch.autocast("cuda", dtype=torch.bfloat16)
        if device.type == "cuda" and train_config["bf16_autocast"] else nullcontext()
    )
    try:
        _run_epochs(model, step, dataset, optimizer, scheduler, start_epoch, epochs, batch_size, seed,
                    int(train_config["num_workers"]), device, autocast, config, context, run_id, meta)
    except BaseException:
        tracking.end_run(context.tracking_uri, run_id, status="FAILED")
        raise
    return run_id


def _run_epochs(model, step, dataset, optimizer, scheduler, start_epoch, epochs, batch_size, seed,
                num_workers, device, autocast, config, context, run_id, meta) -> None:
    """Train from ``start_epoch`` to ``epochs``, checkpointing every epoch, then save the model."""
    for epoch in range(start_epoch, epochs):
        loader = make_loader(
            dataset, batch_size, shuffle=True, num_workers=num_workers,
            seed=seed * 1000 + epoch, drop_last=len(dataset) >= batch_size,
        )
        model.train()
        sums: dict[str, float] = defaultdict(float)
        correct = seen = 0
        started = time.perf_counter()
        progress = tqdm(loader, desc=f"{context.cell} epoch {epoch + 1}/{epochs}", unit="batch", disable=None, leave=False)
        for images, labels, indices in progress:
            images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
            with autocast:
                loss, parts, logits = step(images, labels, indices)
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"{context.cell}: loss became {loss.item()} at epoch {epoch + 1}; lower the learning rate "
                    f"(train.{context.role}.lr) or check the input data"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            count = labels.shape[0]
            sums["loss"] += loss.item() * count
            for name, value in parts.items():
                sums[name] += value * count
            correct += (logits.argmax(dim=1) == labels).sum().item()
            seen += count
            progress.set_postfix(loss=f"{loss.item():.4f}")

        metrics = {f"train_{name}": total / seen for name, total in sums.items()}
        metrics["train_accuracy"] = correct / seen
        metrics["lr"] = scheduler.get_last_lr()[0]
        metrics["epoch_seconds"] = time.perf_counter() - started
        tracking.log_metrics(context.tracking_uri, run_id, metrics, step=epoch + 1)
        logger.info(
            "%s epoch %d/%d: %s", context.cell, epoch + 1, epochs,
            ", ".join(f"{name}={value:.4f}" for name, value in metrics.items()),
        )
        save_atomically(
            {
                "format_version": FORMAT_VERSION, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "epoch": epoch + 1, "rng": rng_states(), "run_id": run_id,
                "config": config, "git_commit": git_commit(), "meta": meta,
            },
            context.checkpoint_path,
        )

    save_atomically(
        {
            "format_version": FORMAT_VERSION, "model": model.cpu().state_dict(), "meta": meta, "run_id": run_id,
            "config": config, "git_commit": git_commit(), "epochs": epochs,
        },
        context.out_path,
    )
    os.remove(context.checkpoint_path)
    logger.info("saved %s to %s", context.cell, context.out_path)


def build_optimizer(model: nn.Module, schedule: Mapping[str, Any]) -> torch.optim.Optimizer:
    """Build SGD with momentum (the EET paper's recipe) or AdamW (suited to ViTs trained from scratch)."""
    lr, weight_decay = float(schedule["lr"]), float(schedule["weight_decay"])
    if schedule["optimizer"] == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=float(schedule["momentum"]), weight_decay=weight_decay)


def load_model(path: Path) -> HashViT:
    """Rebuild a trained model from a file written by :func:`train_teacher` or :func:`train_student`."""
    payload = load_checkpoint(path)
    meta = payload["meta"]
    # The trained weights replace any pretrained ones, so the pretrained file is not read again.
    arch = {**meta["arch"], "pretrained_file": None}
    model = build_hash_vit(
        arch, int(meta["num_classes"]), meta["bits"], prune=meta.get("prune", False),
        config_key=f"{path} meta.arch",
    )
    load_state_strictly(model, payload["model"], Path(path))
    model.eval()
    return model


def model_run_id(path: Path) -> str:
    """Return the MLflow run id stored with a trained model."""
    return load_checkpoint(path)["run_id"]


def _check_target_rows(targets: Mapping[int, torch.Tensor], num_rows: int) -> None:
    for bits, codes in targets.items():
        if codes.shape != (num_rows, bits):
            raise ValueError(
                f"{bits}-bit target codes have shape {tuple(codes.shape)}, expected ({num_rows}, {bits}) for the "
                "training split; rebuild them with the target_codes rule"
            )


def _check_teacher(teacher: HashViT, config: Mapping[str, Any], bits: int, num_classes: int) -> None:
    if bits not in teacher.bits:
        raise ValueError(f"the teacher has hash heads for {teacher.bits} bits, not {bits}; retrain it with this bit length")
    if teacher.backbone.num_classes != num_classes:
        raise ValueError(f"the teacher predicts {teacher.backbone.num_classes} classes, the dataset has {num_classes}")
    teacher_size = config["model"]["teacher"]["img_size"]
    student_size = config["model"]["student"]["img_size"]
    if teacher_size != student_size:
        raise ValueError(
            f"teacher and student see the same images, so model.teacher.img_size ({teacher_size}) must equal "
            f"model.student.img_size ({student_size})"
        )
