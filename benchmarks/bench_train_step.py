"""Time one training step of the eet student against one of the vit student and print the table.

The eet step runs the frozen teacher, the student's clean and DRG-masked passes, the backward pass
and the update. The vit step runs one clean pass and the update. By default the models are those
of the EET paper (arXiv 2504.16691), a ViT-B/16 teacher and a ViT-S/16 student at 224.
``--config`` takes them from a workflow config instead.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_train_step.py --device cuda --batch-size 64
"""

import argparse
import logging
import sys
from pathlib import Path

import torch

from eet.bench.cli import (
    device, existing_file, non_negative_int, output_file, positive_int, workflow_config,
)
from eet.bench.train_step import time_train_steps

PAPER_MODELS = {
    "teacher": {"name": "vit_base_patch16_224"},
    "student": {
        "name": "vit_small_patch16_224", "prune_blocks": [4, 8, 10], "keep_counts": [98, 49, 12],
    },
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=existing_file, help="workflow config whose model, loss and drg "
                        "sections to use (default: ViT-B/16 and ViT-S/16 at 224 as in EET)")
    parser.add_argument("--device", type=device, default="cpu", help="cpu, cuda or cuda:<index> (default: cpu)")
    parser.add_argument("--batch-size", type=positive_int, default=64, help="images per step (default: 64)")
    parser.add_argument("--threads", type=positive_int, default=2, help="CPU threads (default: 2)")
    parser.add_argument("--warmup", type=non_negative_int, default=2, help="untimed steps per variant (default: 2)")
    parser.add_argument("--iterations", type=positive_int, default=10,
                        help="timed steps per variant (default: 10)")
    parser.add_argument("--autocast", choices=["float32", "bfloat16", "float16"], default="float32",
                        help="dtype of the forward passes under torch.autocast (default: float32, "
                        "no autocast)")
    parser.add_argument("--out", type=output_file, default=Path("results/latency/bench_train_step.csv"),
                        help="CSV file to write (default: results/latency/bench_train_step.csv)")
    args = parser.parse_args(argv)
    args.workflow_config = workflow_config(parser, args.config, check_files=True)
    return args


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args = parse_args(argv)
    config = args.workflow_config or {"model": PAPER_MODELS}
    if args.device == "cpu":
        torch.set_num_threads(args.threads)
    autocast_dtype = None if args.autocast == "float32" else getattr(torch, args.autocast)

    table = time_train_steps(
        config, args.device, args.batch_size, warmup=args.warmup, iterations=args.iterations,
        autocast_dtype=autocast_dtype,
    )
    table.insert(2, "autocast", args.autocast)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    temporary = args.out.with_name(f".{args.out.name}.tmp")
    table.to_csv(temporary, index=False)
    temporary.replace(args.out)

    device_name = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else "cpu"
    print(f"device: {device_name}, torch {torch.__version__}, {args.iterations} timed steps per variant")
    print(table.to_markdown(index=False, floatfmt=".3f"))
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
