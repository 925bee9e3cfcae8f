"""Checkpoints that continue a run exactly, and the final model files.

A training checkpoint stores the model, optimiser and scheduler states, the epoch and step counts,
every RNG state, the resolved config, the git commit and a format version. Files are written to a
temporary name and renamed, so a killed job leaves either the previous checkpoint or the new one.
"""

from __future__ import annotations

import logging
import random
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import torch

from eet.atomic import atomic_output

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1


def git_commit() -> str:
    """Return the current git commit hash, or "unknown" outside a git checkout."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return result.stdout.strip()


def rng_states() -> dict[str, Any]:
    """Capture the Python, NumPy and torch RNG states."""
    return {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }


def restore_rng_states(states: dict[str, Any]) -> None:
    """Restore states captured by :func:`rng_states`."""
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])


def save_atomically(payload: dict[str, Any], path: Path) -> None:
    """Save ``payload`` with torch.save to a temporary name, then rename it to ``path``."""
    with atomic_output(path) as temporary:
        torch.save(payload, temporary)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load a checkpoint written by this package and check its format version."""
    # weights_only=False: the checkpoint contains RNG states and config dicts written by this package.
    payload = torch.load(path, map_location="cpu", weights_only=False)
    version = payload.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(
            f"checkpoint {path} has format version {version}, this code reads version {FORMAT_VERSION}; "
            "delete the file to retrain, or check out the commit that wrote it"
        )
    return payload


def load_state_strictly(module: torch.nn.Module, state: dict[str, torch.Tensor], source: Path) -> None:
    """Load ``state`` into ``module``; on a key mismatch, raise listing missing and unexpected keys."""
    missing, unexpected = module.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(
            f"weights in {source} do not match the model built from the config: missing keys {missing}, "
            f"unexpected keys {unexpected}; the config's model section probably changed since training"
        )
