import pytest
import torch

from eet.train.drg import mask_patches, select_patches


def test_select_patches_takes_highest_importance():
    importance = torch.tensor([[0.1, 0.9, 0.3, 0.7], [0.5, 0.2, 0.8, 0.0]])
    assert select_patches(importance, 2).tolist() == [[1, 3], [2, 0]]


def test_select_patches_rejects_too_many():
    with pytest.raises(ValueError, match="drg.num_patches"):
        select_patches(torch.zeros(1, 4), 5)


def test_mask_zeroes_selected_patch_only():
    # 4x4 image, 2x2 patches: patch 1 is row 0, column 1 = pixels [0:2, 2:4].
    images = torch.ones(1, 1, 4, 4)
    masked = mask_patches(images, torch.tensor([[1]]), patch_size=2)
    expected = torch.ones(1, 1, 4, 4)
    expected[0, 0, 0:2, 2:4] = 0
    assert torch.equal(masked, expected)


def test_mask_swap_row_col_transposes():
    # The official code's transposed mask hides patch 2 (row 1, column 0) when patch 1 was selected.
    images = torch.ones(1, 1, 4, 4)
    masked = mask_patches(images, torch.tensor([[1]]), patch_size=2, swap_row_col=True)
    expected = torch.ones(1, 1, 4, 4)
    expected[0, 0, 2:4, 0:2] = 0
    assert torch.equal(masked, expected)


def test_mask_applies_per_image_and_channel():
    images = torch.full((2, 3, 4, 4), 2.0)
    masked = mask_patches(images, torch.tensor([[0], [3]]), patch_size=2)
    assert masked[0, :, 0:2, 0:2].abs().sum() == 0
    assert masked[1, :, 2:4, 2:4].abs().sum() == 0
    assert masked.sum() == 2.0 * (2 * 3 * 16 - 2 * 3 * 4)


def test_mask_leaves_input_unchanged():
    images = torch.ones(1, 1, 4, 4)
    mask_patches(images, torch.tensor([[0]]), patch_size=2)
    assert images.sum() == 16
