"""Time one ViT-S/16 block at the token counts the EET student runs with, and its FLOP rate.

The pruned student runs blocks 1-4 on 197 tokens, 5-8 on 99, 9-10 on 50 and 11-12 on 13 (CLS
plus 196, 98, 49 and 12 patches). Its latency ratio to the unpruned ViT follows its FLOP ratio only
if a block's time scales with its FLOPs. This script times one block of timm's ViT-S/16 (random
weights, fused attention) at each token count in alternating rounds
(``eet.bench.latency.time_models``), counts the block's FLOPs with ``FlopCounterMode`` and
prints the FLOP rate. From the block times it estimates the student's latency ratio as
``sum(block time at the tokens entering each block) / (12 * block time at 197)``, which leaves out
the patch embedding, the head, scoring and gathering, and the MLP of a pruning block running on
the kept tokens only.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_block_tokens.py --threads 2 \\
        --batch-sizes 1 64 --rounds 300 20
"""

import argparse
import logging
import statistics
import sys

import pandas as pd
import timm
import torch
from torch.utils.flop_counter import FlopCounterMode

from eet.bench.cli import non_negative_int, positive_int, rounds_per_batch_size
from eet.bench.latency import device_name, time_models

# Tokens entering each of the 12 blocks of the paper's student (keep 98, 49, 12 after 4, 8, 10).
STUDENT_TOKENS = (197,) * 4 + (99,) * 4 + (50,) * 2 + (13,) * 2
UNPRUNED_TOKENS = (197,) * 12


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=positive_int, default=2, help="CPU threads (default: 2)")
    parser.add_argument("--batch-sizes", type=positive_int, nargs="+", default=[1, 64],
                        help="batch sizes to time (default: 1 64)")
    parser.add_argument("--rounds", type=positive_int, nargs="+", default=[300, 20],
                        help="timed rounds per batch size, one number each or one for all "
                        "(default: 300 20)")
    parser.add_argument("--warmup", type=non_negative_int, default=5,
                        help="untimed calls per token count (default: 5)")
    args = parser.parse_args(argv)
    args.rounds = rounds_per_batch_size(parser, args.rounds, args.batch_sizes)
    return args


def count_flops(block: torch.nn.Module, tokens: torch.Tensor) -> int:
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), torch.nn.attention.sdpa_kernel(
        torch.nn.attention.SDPBackend.MATH
    ), counter:
        block(tokens)
    return counter.get_total_flops()


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    block = timm.create_model("vit_small_patch16_224", pretrained=False).blocks[0].eval()
    token_counts = sorted(set(STUDENT_TOKENS), reverse=True)
    cpu = torch.device("cpu")

    rows = []
    estimates = []
    for batch_size, rounds in zip(args.batch_sizes, args.rounds):
        generator = torch.Generator().manual_seed(0)
        inputs = {f"{n} tokens": torch.randn(batch_size, n, 384, generator=generator)
                  for n in token_counts}
        latencies = time_models(
            {name: block for name in inputs}, inputs, args.warmup, rounds, cpu
        )
        median_s = {}
        for n in token_counts:
            name = f"{n} tokens"
            median_s[n] = statistics.median(latencies[name])
            flops = count_flops(block, inputs[name])
            rows.append({
                "batch_size": batch_size, "tokens": n, "rounds": rounds,
                "median_ms": 1000 * median_s[n], "gflops": flops / 1e9,
                "gflop_per_s": flops / 1e9 / median_s[n],
                "time_per_token_vs_197": (median_s[n] / n) / (median_s[197] / 197)
                if 197 in median_s else float("nan"),
            })
        estimate = sum(median_s[n] for n in STUDENT_TOKENS) / sum(
            median_s[n] for n in UNPRUNED_TOKENS
        )
        estimates.append((batch_size, estimate))

    print(f"device: {device_name(cpu)}, threads {torch.get_num_threads()}, torch "
          f"{torch.__version__}, timm {timm.__version__}")
    # object dtype keeps integer columns from being printed as floats.
    print(pd.DataFrame(rows).astype(object).to_markdown(index=False, floatfmt=".3f"))
    for batch_size, estimate in estimates:
        print(f"batch {batch_size}: block-time estimate of the student's latency ratio "
              f"{estimate:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
