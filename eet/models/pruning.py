"""Content-based token pruning (CTP) as pure tensor functions.

CTP is the token-pruning step of EET ("Rethinking Vision Transformer for Large-Scale Fine-Grained
Image Retrieval", Jiang, Tang, Pan, Li, arXiv 2504.16691). After a pruning block every patch token
gets a score, the best ``keep_count`` patch tokens and the CLS token go on to the next block, and
the others are discarded.

Every function here assumes one prefix token (CLS) at index 0 of the token axis.
"""

import torch


def ctp_scores(cls_attention: torch.Tensor, head_output_norms: torch.Tensor) -> torch.Tensor:
    """Compute the CTP importance of every token from one block's attention statistics.

    Let n[h, i] be the L2 norm of head h's attention output at token i, which is the head's slice
    of A_h V_h before the output projection. The normalised norm n[h, i] / sum_h n[h, i] weights
    the CLS query's attention A_h[CLS, i], and the score of token i is the sum over heads.

    Args:
        cls_attention: (B, H, N) softmax attention of the CLS query over all N tokens, per head.
        head_output_norms: (B, H, N) L2 norm of each head's attention output at each token.

    Returns:
        (B, N) score of every token, CLS included at index 0.
    """
    head_sum = head_output_norms.sum(dim=1, keepdim=True)
    # A token whose attention output is zero in every head gets weight 0 rather than NaN.
    head_weights = head_output_norms / head_sum.clamp_min(torch.finfo(head_sum.dtype).tiny)
    return (head_weights * cls_attention).sum(dim=1)


def select_patches(patch_scores: torch.Tensor, keep_count: int) -> torch.Tensor:
    """Select the ``keep_count`` highest-scoring patch tokens of every image.

    Ties are broken toward the lower patch index (stable descending sort), so the selection is
    deterministic. The returned indices are in increasing order, so kept tokens keep their
    original relative order.

    Args:
        patch_scores: (B, P) scores of the P patch tokens (CLS excluded).
        keep_count: number of patches to keep, 1 <= keep_count <= P.

    Returns:
        (B, keep_count) int64 patch indices in [0, P), sorted ascending in each row.
    """
    num_patches = patch_scores.shape[1]
    if not 1 <= keep_count <= num_patches:
        raise ValueError(
            f"keep_count must be between 1 and the {num_patches} patches present, got {keep_count}"
        )
    order = torch.sort(patch_scores, dim=1, descending=True, stable=True).indices
    return order[:, :keep_count].sort(dim=1).values


def gather_tokens(tokens: torch.Tensor, patch_indices: torch.Tensor) -> torch.Tensor:
    """Keep the CLS token and the given patch tokens of every image, in one batched gather.

    The batch is flattened to (B * (1 + P), C) rows and the kept rows are read with one
    ``index_select``, which reads one index per token rather than one per channel as
    ``torch.gather`` with an expanded index does.

    Args:
        tokens: (B, 1 + P, C) CLS token followed by P patch tokens.
        patch_indices: (B, K) int64 indices into the P patch tokens.

    Returns:
        (B, 1 + K, C) CLS token followed by the selected patch tokens in the order of
        ``patch_indices``.
    """
    batch, num_tokens, channels = tokens.shape
    cls_index = patch_indices.new_zeros(batch, 1)
    token_indices = torch.cat([cls_index, patch_indices + 1], dim=1)
    row_offsets = torch.arange(batch, device=tokens.device).unsqueeze(1) * num_tokens
    rows = (token_indices + row_offsets).reshape(-1)
    kept_rows = tokens.reshape(batch * num_tokens, channels).index_select(0, rows)
    return kept_rows.view(batch, token_indices.shape[1], channels)


def gather_tokens_per_sample(tokens: torch.Tensor, patch_indices: torch.Tensor) -> torch.Tensor:
    """Compute the same result as ``gather_tokens`` with one indexing call per image.

    This is the slow baseline that latency benchmarks compare against (a Python loop over the
    batch, as some token-pruning implementations gather). Models use ``gather_tokens``.

    Args:
        tokens: (B, 1 + P, C) CLS token followed by P patch tokens.
        patch_indices: (B, K) int64 indices into the P patch tokens.

    Returns:
        (B, 1 + K, C), equal to ``gather_tokens(tokens, patch_indices)``.
    """
    kept = []
    for image_tokens, image_indices in zip(tokens, patch_indices):
        kept.append(torch.cat([image_tokens[:1], image_tokens[1:][image_indices]], dim=0))
    return torch.stack(kept, dim=0)
