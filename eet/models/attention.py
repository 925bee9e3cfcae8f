"""A timm ViT block forward, split where CTP needs it, with the statistics CTP scores tokens with.

timm's fused attention (``F.scaled_dot_product_attention``) returns no attention weights. The
CTP score needs only two statistics per head: the CLS query's attention row over all tokens and
the norm of the head's attention output at every token. Two paths compute them:

- fast: the fused kernel for the attention output, plus the CLS row alone (one query against all
  keys, O(N) instead of the O(N^2) attention matrix);
- explicit: the full softmax attention matrix, with the operations of timm's non-fused path. It
  is the reference that tests compare the fast path against.

On the CPU the fast path still computes the explicit matrix for short sequences
(``explicit_matrix_is_cheaper``). The attention half stops before the output projection
(``mixed_heads``), so a caller can drop tokens before projecting. Both paths run the block's own
timm submodules, so timm's weight keys are unchanged.
"""

import torch
import torch.nn.functional as F
from timm.layers import Attention
from timm.models.vision_transformer import Block


def explicit_matrix_is_cheaper(num_tokens: int, head_dim: int, device: torch.device) -> bool:
    """Return True where the explicit attention matrix gives the CTP statistics faster.

    That is on the CPU when ``num_tokens <= 2 * head_dim``. Each head's N x N matrix is then no
    larger than the keys and values it is computed from, so materialising it costs little. The
    fused kernel plus a separate CLS row cost more there. ``benchmarks/bench_statistics_kernels.py``
    measured this with ``mixed_heads`` on a 2-core AMD EPYC (docs/benchmarks.md). With head size
    64 at batch 1, 8 and 64, the fused kernel was 9% to 28% faster at 197 tokens, the explicit
    matrix 0.4% to 8% faster at 50, and the two within 5% of each other at 99.
    Off the CPU the fused kernel is always used.
    """
    # NOTE: the CPU rule comes from one machine; CUDA has not been measured.
    return device.type == "cpu" and num_tokens <= 2 * head_dim


def check_scoring_block(block: torch.nn.Module, block_id: int) -> None:
    """Raise ``ValueError`` unless ``block`` is a timm ``Block`` with timm's standard ``Attention``.

    Args:
        block: the module at ``blocks[block_id - 1]`` of a timm ``VisionTransformer``.
        block_id: 1-based block number, used in the error message.
    """
    if type(block) is not Block or type(getattr(block, "attn", None)) is not Attention:
        raise ValueError(
            f"CTP scores tokens in timm's standard Block with Attention, but block {block_id} is "
            f"{type(block).__name__} with {type(getattr(block, 'attn', None)).__name__}; "
            "choose a plain ViT architecture (for example vit_small_patch16_224) in model.*.name"
        )


def mixed_heads(
    attn: Attention, normed: torch.Tensor, explicit: bool = False
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Run timm ``Attention`` up to, but not including, its output projection.

    ``attn.proj_drop(attn.proj(mixed_heads(attn, x)[0]))`` equals ``attn(x)`` up to float
    rounding. Everything after this function acts on each token separately, so tokens can be
    dropped before the output projection without changing the kept tokens.

    Args:
        attn: timm's standard ``Attention``.
        normed: (B, N, C) block input after ``norm1``, CLS at index 0.
        explicit: compute the full attention matrix instead of the fused kernel plus the CLS row.

    Returns:
        Three tensors. The first is the (B, N, C) head outputs, concatenated over heads, after
        ``attn.norm`` and the gate. The second is the (B, H, N) softmax attention of the CLS
        query over all tokens. The third is the (B, H, N) L2 norm of each head's attention
        output at each token. The two statistics carry no gradient.
    """
    batch, num_tokens, _ = normed.shape
    qkv = attn.qkv(normed).reshape(batch, num_tokens, 3, attn.num_heads, attn.head_dim)
    q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
    q, k = attn.q_norm(q), attn.k_norm(k)

    if explicit:
        # The operations of timm's non-fused path, in the same order.
        weights = ((q * attn.scale) @ k.transpose(-2, -1)).softmax(dim=-1)
        cls_attention = weights[:, :, 0].detach()
        heads = attn.attn_drop(weights) @ v
    else:
        heads = F.scaled_dot_product_attention(
            q, k, v, dropout_p=attn.attn_drop.p if attn.training else 0.0
        )
        # The statistics only select tokens, so they need no gradient.
        with torch.no_grad():
            cls_logits = (q[:, :, :1] * attn.scale) @ k.transpose(-2, -1)
            cls_attention = cls_logits.softmax(dim=-1).squeeze(2)
    with torch.no_grad():
        head_output_norms = torch.linalg.vector_norm(heads, dim=-1)

    mixed = attn.norm(heads.transpose(1, 2).reshape(batch, num_tokens, attn.attn_dim))
    if attn.gate is not None:
        mixed = mixed * attn.gate(normed).sigmoid()
    return mixed, cls_attention, head_output_norms


def attention_output_residual(block: Block, x: torch.Tensor, mixed: torch.Tensor) -> torch.Tensor:
    """Add the projected attention output ``mixed`` (from ``mixed_heads``) to the tokens ``x``.

    Both are (B, N, C) with the same tokens in the same order. They may be a gathered subset of
    the tokens ``mixed_heads`` ran on.
    """
    attn_out = block.attn.proj_drop(block.attn.proj(mixed))
    return x + block.drop_path1(block.ls1(attn_out))


def attention_residual_with_statistics(
    block: Block, x: torch.Tensor, explicit: bool = False
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Run the attention half of a timm ViT block and return the statistics CTP scores tokens with.

    ``mlp_residual(block, attention_residual_with_statistics(block, x)[0])`` equals ``block(x)``
    up to float rounding (without attention masks). Because the MLP half acts on every token
    separately, tokens can be pruned between the two halves without changing the kept tokens.

    Args:
        block: a timm ``Block`` whose ``attn`` is timm's ``Attention`` (see ``check_scoring_block``).
        x: (B, N, C) tokens, CLS at index 0.
        explicit: compute the full attention matrix instead of the fused kernel plus the CLS row.

    Returns:
        The (B, N, C) tokens after the attention residual, the (B, H, N) softmax attention of the
        CLS query over all tokens, and the (B, H, N) L2 norm of each head's attention output at
        each token. The two statistics carry no gradient.
    """
    mixed, cls_attention, head_output_norms = mixed_heads(block.attn, block.norm1(x), explicit)
    return attention_output_residual(block, x, mixed), cls_attention, head_output_norms


def mlp_residual(block: Block, x: torch.Tensor) -> torch.Tensor:
    """Run the MLP half of a timm ViT block on (B, N, C) tokens."""
    return x + block.drop_path2(block.ls2(block.mlp(block.norm2(x))))
