"""Learning-rate schedule: linear warm-up, then cosine decay to zero, stepped per batch."""

from __future__ import annotations

import math

import torch


def warmup_cosine(optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Scale the base learning rate by ``step/warmup_steps`` during warm-up, then by a cosine to zero.

    The factor at step ``s`` (0-based, the step about to run) is ``(s + 1) / warmup_steps`` while
    ``s < warmup_steps`` and ``0.5 * (1 + cos(pi * (s - warmup_steps) / (total_steps - warmup_steps)))``
    afterwards. Warm-up is cut to the total when the run is shorter than the warm-up.
    """
    if total_steps < 1:
        raise ValueError(f"total training steps must be positive, got {total_steps}")
    warmup_steps = min(max(warmup_steps, 0), total_steps)

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        decay_steps = max(total_steps - warmup_steps, 1)
        progress = min((step - warmup_steps) / decay_steps, 1.0)
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
