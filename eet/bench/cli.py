"""Argument types and checks shared by the command lines under benchmarks/.

Each type raises ``argparse.ArgumentTypeError``, so argparse exits with status 2 and a message
that names the option and the invalid value before any model is built.
"""

import argparse
from collections.abc import Sequence
from pathlib import Path

import torch
import yaml

from eet.config import check_config, load_config


def positive_int(text: str) -> int:
    """Parse an integer of at least 1."""
    value = _parse_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer; give 1 or more")
    return value


def non_negative_int(text: str) -> int:
    """Parse an integer of at least 0."""
    value = _parse_int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is negative; give 0 or more")
    return value


def _parse_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


def device(text: str) -> str:
    """Check that ``text`` names the CPU or an available CUDA device, and return it."""
    try:
        parsed = torch.device(text)
    except RuntimeError:
        parsed = None
    if parsed is None or parsed.type not in ("cpu", "cuda"):
        raise argparse.ArgumentTypeError(f"{text!r} is not cpu, cuda or cuda:<index>")
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(
            f"{text!r} requested but torch sees no CUDA device; use cpu"
        )
    return text


def existing_file(text: str) -> Path:
    """Check that ``text`` is the path of an existing file, and return it as a ``Path``."""
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text!r} does not exist or is not a file")
    return path


def output_file(text: str) -> Path:
    """Check that ``text`` is not an existing folder, and return it as a ``Path``.

    The check runs before the measurement, so a wrong ``--out`` does not waste a long run.
    """
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a folder; give the path of a file")
    return path


def workflow_config(
    parser: argparse.ArgumentParser, path: Path | None, check_files: bool = False
) -> dict | None:
    """Load, validate and check the workflow config at ``path``, or return None without a path.

    Runs the workflow's schema and model checks (``eet.config``) before any model is timed, and
    exits through ``parser.error`` with the file and the invalid key when they fail.
    ``check_files`` also checks the pretrained files, for commands that load them.
    """
    if path is None:
        return None
    try:
        config = load_config(path)
        check_config(config, check_files=check_files)
    except (ValueError, yaml.YAMLError) as error:
        parser.error(f"--config {str(path)!r} is invalid: {error}")
    return config


def rounds_per_batch_size(
    parser: argparse.ArgumentParser,
    rounds: Sequence[int],
    batch_sizes: Sequence[int],
    option: str = "--rounds",
) -> list[int]:
    """Return one round count per batch size: ``rounds`` itself, or its one number repeated.

    Exits through ``parser.error``, naming ``option``, when the counts do not match.
    """
    if len(rounds) == 1:
        return list(rounds) * len(batch_sizes)
    if len(rounds) != len(batch_sizes):
        sizes = "batch size" if len(batch_sizes) == 1 else "batch sizes"
        parser.error(
            f"{option} has {len(rounds)} numbers for {len(batch_sizes)} {sizes}; give one number "
            "for all or one per batch size"
        )
    return list(rounds)


def add_round_options(parser: argparse.ArgumentParser, warmup_help: str) -> None:
    """Add ``--threads``, ``--batch-sizes``, ``--rounds`` and ``--warmup`` to ``parser``.

    Call ``rounds_per_batch_size`` on the parsed values to get one round count per batch size.
    """
    parser.add_argument("--threads", type=positive_int, default=2, help="CPU threads (default: 2)")
    parser.add_argument("--batch-sizes", type=positive_int, nargs="+", default=[1, 64],
                        help="batch sizes to time (default: 1 64)")
    parser.add_argument("--rounds", type=positive_int, nargs="+", default=[300, 20],
                        help="timed rounds per batch size, one number each or one for all "
                        "(default: 300 20)")
    parser.add_argument("--warmup", type=non_negative_int, default=5,
                        help=f"{warmup_help} (default: 5)")
