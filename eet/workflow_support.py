"""Glue for the scripts that Snakemake rules run: logging to the rule's log file, thread setup."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@contextmanager
def rule_logging(snakemake: Any) -> Iterator[logging.Logger]:
    """Send log records to the rule's ``log:`` file and stderr; log and re-raise any failure.

    Also sets torch's CPU thread count to the job's ``threads`` so that parallel jobs share the
    cores instead of oversubscribing them.
    """
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if snakemake.log:
        log_path = Path(str(snakemake.log[0]))
        log_path.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w"))
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, handlers=handlers, force=True)
    logger = logging.getLogger(f"eet.rules.{snakemake.rule}")

    import torch

    torch.set_num_threads(max(int(snakemake.threads), 1))
    logger.info("rule %s, wildcards %s, %d thread(s)", snakemake.rule, dict(snakemake.wildcards), snakemake.threads)
    try:
        yield logger
    except Exception:
        logger.exception("rule %s failed for wildcards %s", snakemake.rule, dict(snakemake.wildcards))
        raise
