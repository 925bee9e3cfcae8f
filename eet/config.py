"""Loading and validating workflow configs outside Snakemake (tests, benchmarks, notebooks)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "workflow" / "schemas" / "config.schema.yaml"


def load_config(path: Path, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Read a YAML config, apply top-level ``overrides``, validate it and fill defaults.

    Validation and defaults are exactly Snakemake's (``snakemake.utils.validate`` with the
    workflow's JSON schema), so a config accepted here is accepted by the workflow.
    """
    from snakemake.utils import validate

    with open(path) as handle:
        config = yaml.safe_load(handle) or {}
    config.update(overrides or {})
    validate(config, schema=str(SCHEMA_PATH), set_default=True)
    return config
