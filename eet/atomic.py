"""Atomic file output: write to a temporary name beside the target, rename when complete."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_output(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path to write instead of ``path``; rename it to ``path`` when the block succeeds.

    The temporary name keeps the target's suffix, so writers that choose a format from it (NumPy,
    matplotlib) behave as they would for ``path``. On an exception the temporary file is deleted,
    so an interrupted write never leaves a file that looks finished.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp{path.suffix}")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
