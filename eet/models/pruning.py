"""Content-based token pruning (CTP) as pure tensor functions.

CTP is the token-pruning step of EET ("Rethinking Vision Transformer for Large-Scale Fine-Grained
Image Retrieval", Jiang, Tang, Pan, Li, arXiv 2504.16691). After a pruning block every patch token
gets a score, the best ``keep_count`` patch tokens and the CLS token go on to the next block, and
the others are discarded.

Every function here assumes one prefix token (CLS) at index 0 of the token axis.
"""

import torch
import torch.nn.functional as F


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


def kept_token_rows(patch_indices: torch.Tensor, num_tokens: int) -> torch.Tensor:
    """Return the row indices of the CLS token and the given patch tokens of every image.

    The rows index tokens flattened to (B * num_tokens, C), the layout that ``gather_token_rows``
    reads. Computing them once lets several tensors of the same tokens share them.

    Args:
        patch_indices: (B, K) int64 indices into the P = num_tokens - 1 patch tokens.
        num_tokens: tokens per image, CLS included.

    Returns:
        (B * (1 + K),) int64 rows: per image, its CLS row and then its patch rows in the order of
        ``patch_indices``.
    """
    batch = patch_indices.shape[0]
    # Token index 0 is CLS, so patch p is token p + 1.
    token_indices = F.pad(patch_indices + 1, (1, 0))
    image_offsets = torch.arange(
        0, batch * num_tokens, num_tokens, device=patch_indices.device
    ).unsqueeze(1)
    return (token_indices + image_offsets).reshape(-1)


def gather_token_rows(tokens: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """Read the given rows (from ``kept_token_rows``) of (B, N, C) tokens in one ``index_select``.

    ``index_select`` reads one index per token rather than one per channel as ``torch.gather``
    with an expanded index does.

    Returns:
        (B, len(rows) / B, C) tokens.
    """
    batch, num_tokens, channels = tokens.shape
    kept_rows = tokens.reshape(batch * num_tokens, channels).index_select(0, rows)
    return kept_rows.view(batch, -1, channels)


def gather_tokens(tokens: torch.Tensor, patch_indices: torch.Tensor) -> torch.Tensor:
    """Keep the CLS token and the given patch tokens of every image, in one batched gather.

    Args:
        tokens: (B, 1 + P, C) CLS token followed by P patch tokens.
        patch_indices: (B, K) int64 indices into the P patch tokens.

    Returns:
        (B, 1 + K, C) CLS token followed by the selected patch tokens in the order of
        ``patch_indices``.
    """
    return gather_token_rows(tokens, kept_token_rows(patch_indices, tokens.shape[1]))


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
