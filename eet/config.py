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
    with open(path) as handle:
        config = yaml.safe_load(handle) or {}
    if not isinstance(config, dict):
        raise ValueError(
            f"config {str(path)!r} is a YAML {type(config).__name__}, not a mapping of keys; "
            "start from config/config.yaml"
        )
    config.update(overrides or {})
    validate_config(config)
    return config


def validate_config(config: dict[str, Any]) -> None:
    """Validate ``config`` against the workflow's JSON schema, then fill its defaults in place.

    Errors list each offending key with its problem in one line each. Snakemake's own message
    prints the whole schema and config, which buries the key.

    Raises:
        ValueError: listing up to ten invalid keys.
    """
    import jsonschema
    from snakemake.utils import validate

    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(config), key=lambda error: list(map(str, error.absolute_path)))
    if errors:
        lines = [f"{'.'.join(map(str, error.absolute_path)) or '(top level)'}: {error.message}" for error in errors[:10]]
        raise ValueError(
            "invalid config:\n  " + "\n  ".join(lines)
            + f"\nFix these keys in the config file; {SCHEMA_PATH.relative_to(SCHEMA_PATH.parents[2])} "
            "lists every key with its type, default and meaning."
        )
    validate(config, schema=str(SCHEMA_PATH), set_default=True)


def check_pretrained_files(config: dict[str, Any]) -> None:
    """Check that the pretrained files named in ``model.teacher`` and ``model.student`` exist.

    Raises:
        ValueError: naming the config key and the missing path.
    """
    for role in ("teacher", "student"):
        pretrained = config["model"][role].get("pretrained_file")
        if pretrained and not Path(pretrained).is_file():
            raise ValueError(
                f"model.{role}.pretrained_file {pretrained!r} does not exist; put the timm checkpoint there "
                "or set it to null to train from scratch"
            )


def check_config(config: dict[str, Any], check_files: bool = True) -> None:
    """Check what the JSON schema cannot, so a bad config fails before any job runs.

    Checks these points:
    - every dataset is in the registry and its options are valid;
    - both model sections build, pruning schedule included, and the pretrained files exist;
    - teacher and student see the same image size when a variant needs the teacher;
    - DRG hides no more patches than an image has. Models are built on
    torch's meta device, which allocates no memory and reads no weights. ``check_files=False`` skips
    the pretrained files (``check_pretrained_files``), so a dry run can plan a grid whose weights
    are not in place yet.

    Raises:
        ValueError: naming the config key and the value at fault.
    """
    import torch

    from eet.data.registry import get_dataset
    from eet.models.vit import build_hash_vit

    for name, entry in config["datasets"].items():
        try:
            spec = get_dataset(name)
        except KeyError as error:
            raise ValueError(f"datasets.{name}: {error.args[0]}") from None
        spec.resolve_options(entry.get("options"))

    models = config["model"]
    if check_files:
        check_pretrained_files(config)
    with torch.device("meta"):
        teacher = build_hash_vit(
            {**models["teacher"], "pretrained_file": None}, 2, [8], prune=False,
            config_key="model.teacher",
        )
        build_hash_vit(
            {**models["student"], "pretrained_file": None}, 2, [8], prune=True,
            config_key="model.student",
        )

    needs_teacher = {"eet", "ctp+dkt", "ctp+drg"} & set(config["variants"])
    teacher_size, student_size = models["teacher"].get("img_size"), models["student"].get("img_size")
    if needs_teacher and teacher_size != student_size:
        raise ValueError(
            f"variants {sorted(needs_teacher)} feed the same images to teacher and student, so "
            f"model.teacher.img_size ({teacher_size}) must equal model.student.img_size ({student_size})"
        )
    num_patches = config["drg"]["num_patches"]
    if num_patches > teacher.num_patches:
        raise ValueError(
            f"drg.num_patches is {num_patches}, but an image has only {teacher.num_patches} patches; lower it"
        )
