"""Time the EET student against the unpruned ViT at paper size and print the latency table.

By default the models are those of the EET paper (arXiv 2504.16691): a ViT-B/16 teacher and a
ViT-S/16 student at 224 pruned to 98, 49 and 12 patches after blocks 4, 8 and 10, plus timm's own
ViT-S/16. ``--config`` takes the models from a workflow config instead. All models and batch
sizes are timed in one process, in alternating rounds. The table is written as CSV (``--out``) and
printed as Markdown.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_latency.py --device cpu --threads 2 \\
        --batch-sizes 1 64 --iterations 300 30 \\
        --models vit eet eet_explicit eet_per_sample_gather timm_vit_s16_224
"""

import argparse
import logging
import sys
from pathlib import Path

from eet.bench.cli import (
    device, existing_file, non_negative_int, output_file, positive_int, rounds_per_batch_size,
    workflow_config,
)
from eet.bench.latency import MODEL_NAMES, write_latency_report

PAPER_MODELS = {
    "teacher": {"name": "vit_base_patch16_224"},
    "student": {
        "name": "vit_small_patch16_224", "prune_blocks": [4, 8, 10], "keep_counts": [98, 49, 12],
    },
}
# Columns printed in the Markdown table; the CSV has every column.
SHOWN_COLUMNS = [
    "model", "dtype", "batch_size", "iterations", "median_ms", "p90_ms", "images_per_s",
    "gflops_per_image", "params", "flop_ratio", "latency_ratio", "latency_ratio_timm",
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=existing_file, help="workflow config whose model.teacher and "
                        "model.student to time (default: ViT-B/16 and ViT-S/16 at 224 as in EET)")
    parser.add_argument("--device", type=device, default="cpu", help="cpu, cuda or cuda:<index> (default: cpu)")
    parser.add_argument("--batch-sizes", type=positive_int, nargs="+", default=[1, 64],
                        help="batch sizes to time (default: 1 64)")
    parser.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"],
                        choices=["float32", "bfloat16", "float16"],
                        help="CUDA dtypes (default: float32 bfloat16); the CPU uses float32")
    parser.add_argument("--threads", type=positive_int, default=2, help="CPU threads (default: 2)")
    parser.add_argument("--warmup", type=non_negative_int, default=5, help="untimed calls per model (default: 5)")
    parser.add_argument("--iterations", type=positive_int, nargs="+", default=[30],
                        help="timed calls per model and batch size, one number for all or one per "
                        "batch size (default: 30)")
    parser.add_argument("--models", nargs="+", choices=MODEL_NAMES, default=list(MODEL_NAMES),
                        help="models to time (default: all)")
    parser.add_argument("--num-classes", type=positive_int, default=200,
                        help="classes of the classifier head (default: 200, as CUB-200-2011)")
    parser.add_argument("--out", type=output_file, default=Path("results/latency/bench_latency.csv"),
                        help="CSV file to write (default: results/latency/bench_latency.csv)")
    args = parser.parse_args(argv)
    args.iterations = rounds_per_batch_size(
        parser, args.iterations, args.batch_sizes, option="--iterations"
    )
    args.workflow_config = workflow_config(parser, args.config)
    return args


def build_config(args: argparse.Namespace) -> dict:
    """Build the workflow-config sections that ``write_latency_report`` reads from the options."""
    if args.workflow_config is not None:
        models = {role: args.workflow_config["model"][role] for role in ("teacher", "student")}
        bits = args.workflow_config["bits"]
    else:
        models = PAPER_MODELS
        bits = [16, 32, 48, 64]
    return {
        "bits": bits,
        "model": models,
        "latency": {
            "batch_sizes": args.batch_sizes, "threads": args.threads, "warmup": args.warmup,
            "iterations": args.iterations, "cuda_batch_sizes": args.batch_sizes,
            "cuda_dtypes": args.dtypes, "reference_timm": "timm_vit_s16_224" in args.models,
            "num_classes": args.num_classes,
        },
    }


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args = parse_args(argv)
    table = write_latency_report(build_config(args), args.device, args.out, models=args.models)
    first = table.iloc[0]
    print(f"device: {first['device_name']} ({first['device']}), threads {first['threads']}, "
          f"torch {first['torch_version']}, timm {first['timm_version']}, "
          f"{first['warmup']} warm-up calls per model")
    # The timm ratios are NaN unless timm's ViT-S/16 was timed, so empty columns are left out.
    printed_table = table[SHOWN_COLUMNS].dropna(axis="columns", how="all")
    print(printed_table.to_markdown(index=False, floatfmt=".3f"))
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
