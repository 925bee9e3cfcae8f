"""Wall time of one training step of the student variants, to budget training runs.

A step is what ``eet.train.loop`` runs per batch: the frozen teacher's forward pass (for variants
with DKT or DRG), the student's clean pass, its DRG-masked pass, the loss, the backward pass and
an SGD update. Steps of the variants alternate, as the latency rounds do.
"""

import logging
import statistics
import time
from collections.abc import Mapping, Sequence

import pandas as pd
import torch
from tqdm import tqdm

from eet.models.vit import build_hash_vit
from eet.train.loop import _student_step, build_optimizer
from eet.train.losses import LossWeights
from eet.train.variants import get_variant

logger = logging.getLogger(__name__)

SGD = {"optimizer": "sgd", "lr": 0.01, "momentum": 0.9, "weight_decay": 0.0}


def time_train_steps(
    config: Mapping,
    device: str,
    batch_size: int,
    variants: Sequence[str] = ("vit", "eet"),
    warmup: int = 2,
    iterations: int = 10,
    num_classes: int = 200,
    bits: int = 64,
    autocast_dtype: torch.dtype | None = None,
) -> pd.DataFrame:
    """Time training steps of student variants on random images and labels.

    Args:
        config: workflow config with ``model.teacher`` and ``model.student``. Its ``loss`` and
            ``drg`` sections are optional. Without them the loss weights are 0.1, 1 and 1 and
            DRG masks 4 patches, the defaults of the official EET code.
        device: ``cpu``, ``cuda`` or ``cuda:<index>``.
        batch_size: images per step.
        variants: student variants to time, from ``eet.train.variants``.
        warmup: untimed steps per variant.
        iterations: timed steps per variant.
        num_classes: classes of the classifier head.
        bits: hash code length of the student.
        autocast_dtype: run the forward passes under ``torch.autocast`` with this dtype.

    Returns:
        One row per variant: variant, device, batch_size, median_ms, p90_ms, images_per_s and
        step_ratio (median relative to the first variant).
    """
    torch_device = torch.device(device)
    on_cuda = torch_device.type == "cuda"
    weights = LossWeights(**config.get("loss", {}))
    drg = {"num_patches": 4, "swap_row_col": False, **config.get("drg", {})}
    student_arch = config["model"]["student"]
    teacher_arch = config["model"]["teacher"]

    steps = {}
    for name in variants:
        variant = get_variant(name)
        torch.manual_seed(0)
        student = build_hash_vit(
            student_arch, num_classes, [bits], prune=variant.prune, config_key="model.student"
        )
        student.to(torch_device).train()
        teacher = None
        if variant.needs_teacher:
            teacher = build_hash_vit(
                teacher_arch, num_classes, [bits], prune=False, config_key="model.teacher"
            )
            teacher.to(torch_device).eval().requires_grad_(False)
        steps[name] = (variant, student, teacher, build_optimizer(student, SGD))

    image_size = steps[variants[0]][1].backbone.patch_embed.img_size[0]
    patch_size = steps[variants[0]][1].backbone.patch_embed.patch_size[0]
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(batch_size, 3, image_size, image_size, generator=generator).to(torch_device)
    labels = torch.randint(num_classes, (batch_size,), generator=generator).to(torch_device)
    target = (torch.randint(2, (batch_size, bits), generator=generator) * 2 - 1).float()
    target = target.to(torch_device)

    def run_step(name: str) -> None:
        variant, student, teacher, optimizer = steps[name]
        with torch.autocast(torch_device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
            loss, _, _ = _student_step(
                student, teacher, variant, bits, weights, drg, patch_size, images, labels, target
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for name in variants:
        for _ in range(warmup):
            run_step(name)
    durations = {name: [] for name in variants}
    for _ in tqdm(range(iterations), desc="timed training steps", leave=False):
        for name in variants:
            if on_cuda:
                torch.cuda.synchronize(torch_device)
            start = time.perf_counter()
            run_step(name)
            if on_cuda:
                torch.cuda.synchronize(torch_device)
            durations[name].append(time.perf_counter() - start)

    rows = []
    for name in variants:
        ordered = sorted(durations[name])
        median_s = statistics.median(ordered)
        rows.append({
            "variant": name, "device": torch_device.type, "batch_size": batch_size,
            "image_size": image_size, "median_ms": 1000 * median_s,
            "p90_ms": 1000 * ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))],
            "images_per_s": batch_size / median_s, "threads": torch.get_num_threads(),
            "iterations": iterations,
        })
    table = pd.DataFrame(rows)
    table["step_ratio"] = table["median_ms"] / table["median_ms"].iloc[0]
    medians = dict(zip(table["variant"], table["median_ms"].round(1)))
    logger.info("training step at batch %d, median ms: %s", batch_size, medians)
    return table
