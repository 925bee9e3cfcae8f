"""eet.models.attention: fast against explicit statistics, and the split block against timm."""

import pytest
import torch
from timm.models.vision_transformer import Block

from eet.models.attention import (
    attention_output_residual,
    explicit_matrix_is_cheaper,
    attention_residual_with_statistics,
    mixed_heads,
    mlp_residual,
)

def random_block(dim=48, num_heads=3):
    torch.manual_seed(0)
    return Block(dim, num_heads, qkv_bias=True).eval().double()


def tokens(batch=2, num_tokens=9, dim=48):
    return torch.randn(batch, num_tokens, dim, generator=torch.Generator().manual_seed(1),
                       dtype=torch.float64)


def test_mixed_heads_paths_agree():
    block = random_block()
    normed = block.norm1(tokens())
    with torch.no_grad():
        fast = mixed_heads(block.attn, normed, explicit=False)
        explicit = mixed_heads(block.attn, normed, explicit=True)

    for fast_part, explicit_part in zip(fast, explicit):
        torch.testing.assert_close(fast_part, explicit_part)


def test_mixed_heads_cls_row_sums_to_one():
    block = random_block()
    with torch.no_grad():
        _, cls_attention, _ = mixed_heads(block.attn, block.norm1(tokens()))

    torch.testing.assert_close(cls_attention.sum(-1), torch.ones(2, 3, dtype=torch.float64))


@pytest.mark.parametrize("explicit", [False, True])
def test_block_halves_equal_timm_block(explicit):
    block = random_block()
    x = tokens()
    with torch.no_grad():
        expected = block(x)
        out = mlp_residual(block, attention_residual_with_statistics(block, x, explicit)[0])

    torch.testing.assert_close(out, expected)


def test_explicit_attention_equals_timm_non_fused_exactly():
    block = random_block()
    block.attn.fused_attn = False
    x = tokens()
    with torch.no_grad():
        expected = block.attn(block.norm1(x))
        mixed, _, _ = mixed_heads(block.attn, block.norm1(x), explicit=True)
        out = attention_output_residual(block, torch.zeros_like(x), mixed)

    torch.testing.assert_close(out, expected, rtol=0, atol=0)


def test_projection_of_gathered_tokens_equals_gathered_projection():
    block = random_block()
    x = tokens()
    kept = torch.tensor([[0, 2, 5], [0, 8, 1]])
    with torch.no_grad():
        mixed, _, _ = mixed_heads(block.attn, block.norm1(x))
        expected = attention_output_residual(block, x, mixed)[torch.arange(2)[:, None], kept]
        out = attention_output_residual(
            block, x[torch.arange(2)[:, None], kept], mixed[torch.arange(2)[:, None], kept]
        )

    torch.testing.assert_close(out, expected)


@pytest.mark.parametrize(
    ("num_tokens", "expected"), [(13, True), (128, True), (129, False), (197, False)]
)
def test_explicit_rule_on_cpu(num_tokens, expected):
    assert explicit_matrix_is_cheaper(num_tokens, 64, torch.device("cpu")) is expected


def test_explicit_rule_never_on_cuda():
    assert explicit_matrix_is_cheaper(13, 64, torch.device("cuda")) is False
