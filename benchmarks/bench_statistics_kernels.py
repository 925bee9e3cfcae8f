"""Time the two ways of computing CTP's attention statistics in one block, on the CPU.

``eet.models.attention.mixed_heads`` runs a pruning block's attention up to the output projection
and returns the CLS attention row and the per-head output norms. It computes them either with
the fused kernel plus a separate CLS row, or with the explicit attention matrix. This script
times both in alternating rounds on one block of timm's ViT-S/16 (head size 64) and of the
default run's tiny student (head size 32), at the token counts where those models score
tokens. ``eet.models.attention.explicit_matrix_is_cheaper`` picks between them from these
measurements.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_statistics_kernels.py --threads 2
"""

import argparse
import statistics
import sys

import pandas as pd
import timm
import torch

from eet.bench.cli import non_negative_int, positive_int
from eet.bench.latency import device_name, time_models
from eet.models.attention import explicit_matrix_is_cheaper, mixed_heads

# (label, timm overrides, token counts entering the pruning blocks)
MODELS = (
    ("vit_s16_224", {}, (197, 99, 50)),
    ("default_run_student", {"img_size": 64, "patch_size": 8, "embed_dim": 96, "depth": 6,
                             "num_heads": 3}, (65, 33, 17)),
)


class StatisticsKernel(torch.nn.Module):
    """``mixed_heads`` of one block with a fixed kernel, as a module that ``time_models`` calls."""

    def __init__(self, block: torch.nn.Module, explicit: bool) -> None:
        super().__init__()
        self.block = block
        self.explicit = explicit

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return mixed_heads(self.block.attn, self.block.norm1(tokens), self.explicit)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=positive_int, default=2, help="CPU threads (default: 2)")
    parser.add_argument("--batch-sizes", type=positive_int, nargs="+", default=[1, 8, 64],
                        help="batch sizes to time (default: 1 8 64)")
    parser.add_argument("--rounds", type=positive_int, default=2000,
                        help="timed rounds at batch 1; batch B gets max(30, rounds / B) "
                        "(default: 2000)")
    parser.add_argument("--warmup", type=non_negative_int, default=10,
                        help="untimed calls per kernel (default: 10)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    cpu = torch.device("cpu")
    rows = []
    for label, overrides, token_counts in MODELS:
        torch.manual_seed(0)
        vit = timm.create_model("vit_small_patch16_224", pretrained=False, **overrides).eval()
        block = vit.blocks[1]
        kernels = {
            "fused": StatisticsKernel(block, explicit=False),
            "explicit": StatisticsKernel(block, explicit=True),
        }
        for batch_size in args.batch_sizes:
            rounds = max(30, args.rounds // batch_size)
            for num_tokens in token_counts:
                generator = torch.Generator().manual_seed(0)
                tokens = torch.randn(batch_size, num_tokens, vit.embed_dim, generator=generator)
                latencies = time_models(
                    kernels, {name: tokens for name in kernels}, args.warmup, rounds, cpu
                )
                fused = statistics.median(latencies["fused"])
                explicit = statistics.median(latencies["explicit"])
                differences = [f - e for f, e in zip(latencies["fused"], latencies["explicit"])]
                rows.append({
                    "model": label, "batch_size": batch_size, "tokens": num_tokens,
                    "head_dim": block.attn.head_dim, "rounds": rounds,
                    "fused_us": 1e6 * fused, "explicit_us": 1e6 * explicit,
                    "fused_minus_explicit_us": 1e6 * statistics.median(differences),
                    "fused_over_explicit": fused / explicit,
                    "rule_picks": "explicit" if explicit_matrix_is_cheaper(
                        num_tokens, block.attn.head_dim, cpu
                    ) else "fused",
                })

    print(f"device: {device_name(cpu)}, threads {torch.get_num_threads()}, torch "
          f"{torch.__version__}, timm {timm.__version__}")
    # object dtype keeps integer columns from being printed as floats.
    print(pd.DataFrame(rows).astype(object).to_markdown(index=False, floatfmt=".3f"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
