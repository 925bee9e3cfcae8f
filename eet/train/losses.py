"""Training losses of the teacher and of the student variants.

Teacher: CE(logits) + sum over bit lengths of MSE(hash, target code).
Student: ce_weight * (CE(clean) + CE(DRG-masked)) + hash_weight * MSE(hash, target code)
         + dkt_weight * mean(1 - cos(student hash, teacher hash)).
A variant without DRG drops the masked CE term, and one without DKT drops the cosine term. The
weights stay the same, so the ablations differ only in the parts they switch off.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class LossWeights:
    """Weights of the student loss terms (config section ``loss``)."""

    ce_weight: float = 0.1
    hash_weight: float = 1.0
    dkt_weight: float = 1.0


def teacher_loss(
    logits: torch.Tensor,
    hashes: dict[int, torch.Tensor],
    labels: torch.Tensor,
    targets: dict[int, torch.Tensor],
) -> tuple[torch.Tensor, dict[str, float]]:
    """Return the teacher's loss and its parts (``ce`` and ``mse_<bits>``) for logging."""
    cross_entropy = F.cross_entropy(logits, labels)
    total = cross_entropy
    parts = {"ce": cross_entropy.item()}
    for bits, hash_output in hashes.items():
        mse = F.mse_loss(hash_output, targets[bits])
        total = total + mse
        parts[f"mse_{bits}"] = mse.item()
    return total, parts


def student_loss(
    logits: torch.Tensor,
    hash_output: torch.Tensor,
    labels: torch.Tensor,
    target: torch.Tensor,
    weights: LossWeights,
    masked_logits: torch.Tensor | None = None,
    teacher_hash: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Return the student's loss and its parts for logging.

    Args:
        logits: (B, C) class logits of the clean image.
        hash_output: (B, K) real-valued hash output.
        labels: (B,) class ids.
        target: (B, K) ±1 target codes.
        weights: loss weights.
        masked_logits: (B, C) logits of the DRG-masked image, or None without DRG.
        teacher_hash: (B, K) frozen teacher's hash output, or None without DKT.
    """
    cross_entropy = F.cross_entropy(logits, labels)
    parts = {"ce": cross_entropy.item()}
    if masked_logits is not None:
        masked_cross_entropy = F.cross_entropy(masked_logits, labels)
        cross_entropy = cross_entropy + masked_cross_entropy
        parts["ce_masked"] = masked_cross_entropy.item()

    mse = F.mse_loss(hash_output, target)
    parts["mse"] = mse.item()
    total = weights.ce_weight * cross_entropy + weights.hash_weight * mse

    if teacher_hash is not None:
        dkt = (1.0 - F.cosine_similarity(hash_output, teacher_hash, dim=1)).mean()
        parts["dkt"] = dkt.item()
        total = total + weights.dkt_weight * dkt
    return total, parts
