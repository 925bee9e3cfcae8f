"""Split the EET student's latency ratio into the cost of its token counts and of CTP scoring.

197 tokens enter blocks 1-4 of the pruned student, 99 enter blocks 5-8, 50 enter 9-10 and 13
enter 11-12 (CLS plus 196, 98, 49 and 12 patches). A pruning block runs its output projection
and MLP on the kept tokens only. Its latency ratio to the unpruned ViT follows its FLOP ratio
only if a block's time scales with its FLOPs and scoring costs nothing. This script measures
both, with random weights, in alternating rounds (``eet.bench.latency.time_models``):

1. one block of timm's ViT-S/16 at each of those token counts, with its FLOPs
   (``FlopCounterMode``) and FLOP rate;
2. three whole models at 224: the unpruned student ``vit``, the student ``eet`` on the fast path,
   and ``eet_fixed_selection``. The last runs the same blocks on the same token counts but keeps
   the first tokens by position, with no CLS row, scores, sort or gather. The difference between
   ``eet`` and ``eet_fixed_selection`` is the cost of CTP's token selection.

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
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from eet.bench.cli import add_round_options, rounds_per_batch_size
from eet.bench.flops import count_flops_per_image
from eet.bench.latency import build_latency_models, device_name, time_models
from eet.models.attention import attention_output_residual, mlp_residual
from eet.models.vit import HashViT

PAPER_STUDENT = {
    "name": "vit_small_patch16_224", "prune_blocks": [4, 8, 10], "keep_counts": [98, 49, 12],
}
TOKEN_COUNTS = (197, 99, 50, 13)


class FixedSelection(nn.Module):
    """The pruned student's forward pass with the first tokens kept instead of the best-scored.

    Each pruning block keeps CLS and the first ``keep_count`` patch tokens before its attention
    output projection, as the fast path does with the selected tokens. No statistics, scores or
    gathers are computed, so its time is the student's time without CTP's selection. It runs the
    fused attention kernel in every block, where the student on the CPU uses the explicit matrix
    for the statistics of sequences of at most twice the head size. That choice is faster, so
    the difference between the two understates the selection's cost slightly.
    """

    def __init__(self, student: HashViT) -> None:
        super().__init__()
        for index in student.keep_after_block:
            if student.backbone.blocks[index].attn.gate is not None:
                raise ValueError(
                    f"FixedSelection needs attention without a gate, but block {index + 1} has "
                    "one; time a plain ViT such as vit_small_patch16_224"
                )
        self.student = student

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        vit = self.student.backbone
        x = vit.norm_pre(vit.patch_drop(vit._pos_embed(vit.patch_embed(images))))
        for index, block in enumerate(vit.blocks):
            keep_count = self.student.keep_after_block.get(index)
            if keep_count is None:
                x = block(x)
                continue
            attn = block.attn
            normed = block.norm1(x)
            batch, num_tokens, _ = normed.shape
            qkv = attn.qkv(normed).reshape(batch, num_tokens, 3, attn.num_heads, attn.head_dim)
            q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
            heads = F.scaled_dot_product_attention(attn.q_norm(q), attn.k_norm(k), v)
            mixed = attn.norm(heads.transpose(1, 2).reshape(batch, num_tokens, attn.attn_dim))
            kept_tokens = 1 + keep_count
            x = attention_output_residual(block, x[:, :kept_tokens], mixed[:, :kept_tokens])
            x = mlp_residual(block, x)
        return vit.forward_head(vit.norm(x))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_round_options(parser, warmup_help="untimed calls per token count")
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
    config = {"bits": [64], "model": {"teacher": PAPER_STUDENT, "student": PAPER_STUDENT}}
    built = build_latency_models(config, ["vit", "eet"])
    models = {
        "vit": built["vit"][0],
        "eet_fixed_selection": FixedSelection(built["eet"][0]).eval(),
        "eet": built["eet"][0],
    }
    model_flops = {name: count_flops_per_image(model, 224) for name, model in models.items()}
    cpu = torch.device("cpu")

    block_rows = []
    model_rows = []
    for batch_size, rounds in zip(args.batch_sizes, args.rounds):
        generator = torch.Generator().manual_seed(0)
        inputs = {f"{n} tokens": torch.randn(batch_size, n, 384, generator=generator)
                  for n in TOKEN_COUNTS}
        latencies = time_models(
            {name: block for name in inputs}, inputs, args.warmup, rounds, cpu
        )
        median_197 = statistics.median(latencies["197 tokens"])
        for n in TOKEN_COUNTS:
            median_s = statistics.median(latencies[f"{n} tokens"])
            flops = count_flops(block, inputs[f"{n} tokens"])
            block_rows.append({
                "batch_size": batch_size, "tokens": n, "rounds": rounds,
                "median_ms": 1000 * median_s, "gflops": flops / 1e9,
                "gflop_per_s": flops / 1e9 / median_s,
                "time_per_token_vs_197": (median_s / n) / (median_197 / 197),
            })

        images = torch.randn(batch_size, 3, 224, 224, generator=generator)
        latencies = time_models(
            models, {name: images for name in models}, args.warmup, rounds, cpu
        )
        vit_median = statistics.median(latencies["vit"])
        for name in models:
            median_s = statistics.median(latencies[name])
            model_rows.append({
                "batch_size": batch_size, "model": name, "rounds": rounds,
                "median_ms": 1000 * median_s, "gflops_per_image": model_flops[name] / 1e9,
                "flop_ratio": model_flops[name] / model_flops["vit"],
                "latency_ratio": median_s / vit_median,
            })

    print(f"device: {device_name(cpu)}, threads {torch.get_num_threads()}, torch "
          f"{torch.__version__}, timm {timm.__version__}")
    # object dtype keeps integer columns from being printed as floats.
    print(pd.DataFrame(block_rows).astype(object).to_markdown(index=False, floatfmt=".3f"))
    print()
    print(pd.DataFrame(model_rows).astype(object).to_markdown(index=False, floatfmt=".3f"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
