"""Discriminative region guidance (DRG): hide the teacher's most important patches.

The teacher ranks the patches of a clean image by its last-block CTP importance. The student then
classifies the same image with the top ``num_patches`` patches zeroed, so it has to learn from the
remaining regions as well.
"""

from __future__ import annotations

import torch


def select_patches(importance: torch.Tensor, num_patches: int) -> torch.Tensor:
    """Return the indices of the ``num_patches`` highest-importance patches.

    Args:
        importance: (B, N) importance of the N patches of each image, in row-major patch order.
        num_patches: how many patches to select per image.

    Returns:
        (B, num_patches) int64 patch indices in 0..N-1, highest importance first.
    """
    if not 0 < num_patches <= importance.shape[1]:
        raise ValueError(
            f"drg.num_patches must be in 1..{importance.shape[1]} (patches per image), got {num_patches}; "
            "fix drg.num_patches in the config"
        )
    return importance.topk(num_patches, dim=1).indices


def mask_patches(
    images: torch.Tensor, patch_indices: torch.Tensor, patch_size: int, swap_row_col: bool = False
) -> torch.Tensor:
    """Zero the selected patches of already-normalised images.

    Patch ``p`` of an image with a ``G x G`` patch grid lies at row ``p // G`` and column ``p % G``,
    the order in which a ViT flattens its patch embeddings. With ``swap_row_col=True`` the mask lands
    at row ``p % G`` and column ``p // G`` instead, which reproduces the transposed mask of the
    official EET code (the hidden regions are then not the ones the teacher selected).

    Args:
        images: (B, C, H, W) normalised images, H and W multiples of ``patch_size``.
        patch_indices: (B, w) int64 patch indices.
        patch_size: side of a square patch in pixels.
        swap_row_col: reproduce the official code's transposed mask.

    Returns:
        (B, C, H, W) copy of ``images`` with the selected patches set to zero.
    """
    batch, _, height, width = images.shape
    if height % patch_size or width % patch_size:
        raise ValueError(f"image size {height}x{width} is not a multiple of the patch size {patch_size}")
    grid_rows, grid_cols = height // patch_size, width // patch_size
    if swap_row_col and grid_rows != grid_cols:
        raise ValueError(f"swap_row_col needs a square patch grid, got {grid_rows}x{grid_cols}")

    keep = torch.ones(batch, grid_rows * grid_cols, dtype=images.dtype, device=images.device)
    keep.scatter_(1, patch_indices, 0.0)
    keep = keep.view(batch, grid_rows, grid_cols)
    if swap_row_col:
        keep = keep.transpose(1, 2)
    keep = keep.repeat_interleave(patch_size, dim=1).repeat_interleave(patch_size, dim=2)
    return images * keep.unsqueeze(1)
