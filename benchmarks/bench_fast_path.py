"""Time the EET student's fast path against its explicit reference path, round by round.

Both are EET's ViT-S/16 student at 224 (arXiv 2504.16691), pruned to 98, 49 and 12 patches
after blocks 4, 8 and 10 (or ``model.student`` of ``--config``), with the same random weights.
The fast path scores tokens with the fused attention kernel plus a separate CLS row (on the CPU,
the explicit matrix for sequences of at most twice the head size) and projects only the kept
tokens. The explicit path computes the full attention matrix in every pruning block and drops
tokens after the attention residual. Both run in alternating rounds in one process
(``eet.bench.latency.time_models``). The table reports the median per-round difference with a
bootstrap interval, so a difference smaller than the machine's drift between runs can still be
resolved.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_fast_path.py --threads 2 \\
        --batch-sizes 1 64 --rounds 300 20

On CUDA (``--device cuda``) the device is synchronised around every timed call.
"""

import argparse
import logging
import sys
from pathlib import Path

import pandas as pd
import torch

from eet.atomic import atomic_output
from eet.bench.cli import (
    add_round_options, device, existing_file, output_file, rounds_per_batch_size,
    workflow_config,
)
from eet.bench.latency import build_latency_models, device_name, paired_comparison, time_models

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
PAPER_STUDENT = {
    "name": "vit_small_patch16_224", "prune_blocks": [4, 8, 10], "keep_counts": [98, 49, 12],
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=existing_file,
                        help="workflow config whose model.student to time "
                        "(default: the paper's ViT-S/16 at 224)")
    parser.add_argument("--device", type=device, default="cpu",
                        help="cpu, cuda or cuda:<index> (default: cpu)")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="float32",
                        help="dtype of weights and images (default: float32)")
    add_round_options(parser, warmup_help="untimed calls per model")
    parser.add_argument("--out", type=output_file,
                        help="CSV file to write (default: results/latency/fast_path_<device>.csv)")
    args = parser.parse_args(argv)
    args.rounds = rounds_per_batch_size(parser, args.rounds, args.batch_sizes)
    args.workflow_config = workflow_config(parser, args.config)
    device_type = torch.device(args.device).type
    if args.out is None:
        args.out = Path(f"results/latency/fast_path_{device_type}.csv")
    return args


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    student = PAPER_STUDENT
    if args.workflow_config is not None:
        student = args.workflow_config["model"]["student"]
    config = {"bits": [64], "model": {"teacher": student, "student": student}}
    built = build_latency_models(config, ["eet", "eet_explicit"])
    torch_device = torch.device(args.device)
    dtype = DTYPES[args.dtype]
    models = {name: model.to(torch_device, dtype) for name, (model, _) in built.items()}
    image_size = built["eet"][1]

    rows = []
    for batch_size, rounds in zip(args.batch_sizes, args.rounds):
        generator = torch.Generator().manual_seed(0)
        images = torch.randn(batch_size, 3, image_size, image_size, generator=generator)
        images = images.to(torch_device, dtype)
        latencies = time_models(
            models, {name: images for name in models}, args.warmup, rounds, torch_device
        )
        result = paired_comparison(latencies["eet"], latencies["eet_explicit"])
        rows.append({
            "device": torch_device.type,
            "dtype": args.dtype,
            "batch_size": batch_size,
            "rounds": rounds,
            "fast_ms": 1000 * result["median_first"],
            "explicit_ms": 1000 * result["median_second"],
            "fast_over_explicit": result["median_ratio"],
            "difference_ms": 1000 * result["median_difference"],
            "difference_low_ms": 1000 * result["difference_low"],
            "difference_high_ms": 1000 * result["difference_high"],
            "fast_faster_share": result["first_faster_share"],
        })
    table = pd.DataFrame(rows)
    with atomic_output(args.out) as temporary:
        table.to_csv(temporary, index=False)

    threads = f", threads {torch.get_num_threads()}" if torch_device.type == "cpu" else ""
    print(f"device: {device_name(torch_device)}{threads}, torch {torch.__version__}, "
          f"{args.warmup} warm-up calls per model")
    # object dtype keeps integer columns from being printed as floats.
    print(table.astype(object).to_markdown(index=False, floatfmt=".3f"))
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
