"""Pure CTP functions: score formula, patch selection and token gather on hand-made tensors."""

import pytest
import torch

from eet.models.pruning import (
    ctp_scores,
    gather_token_rows,
    gather_tokens,
    gather_tokens_per_sample,
    kept_token_rows,
    select_patches,
)


def test_ctp_scores_hand_computed():
    # Two heads, three tokens. Head weights per token: token 0 (1, 3) / 4, token 1 (3, 1) / 4,
    # token 2 (2, 2) / 4. Scores: 0.25*0.5 + 0.75*0.1 = 0.2, 0.75*0.3 + 0.25*0.6 = 0.375,
    # 0.5*0.2 + 0.5*0.3 = 0.25.
    cls_attention = torch.tensor([[[0.5, 0.3, 0.2], [0.1, 0.6, 0.3]]])
    head_output_norms = torch.tensor([[[1.0, 3.0, 2.0], [3.0, 1.0, 2.0]]])

    scores = ctp_scores(cls_attention, head_output_norms)

    torch.testing.assert_close(scores, torch.tensor([[0.2, 0.375, 0.25]]))


def test_ctp_scores_zero_norms_give_zero():
    cls_attention = torch.tensor([[[0.5, 0.5], [0.5, 0.5]]])
    head_output_norms = torch.tensor([[[0.0, 1.0], [0.0, 1.0]]])

    scores = ctp_scores(cls_attention, head_output_norms)

    torch.testing.assert_close(scores, torch.tensor([[0.0, 0.5]]))


def test_select_patches_ties_to_lower_index():
    scores = torch.tensor([[1.0, 3.0, 3.0, 0.0, 3.0]])

    assert select_patches(scores, 2).tolist() == [[1, 2]]


def test_select_patches_returns_ascending_indices():
    scores = torch.tensor([[5.0, 1.0, 4.0, 9.0], [0.0, 2.0, 1.0, 3.0]])

    assert select_patches(scores, 3).tolist() == [[0, 2, 3], [1, 2, 3]]


@pytest.mark.parametrize("keep_count", [0, 5])
def test_select_patches_rejects_bad_count(keep_count):
    with pytest.raises(ValueError, match="keep_count must be between 1 and the 4 patches"):
        select_patches(torch.zeros(1, 4), keep_count)


def test_gather_tokens_keeps_cls_first():
    tokens = torch.arange(2 * 5 * 3, dtype=torch.float32).reshape(2, 5, 3)
    patch_indices = torch.tensor([[3, 0], [1, 2]])

    kept = gather_tokens(tokens, patch_indices)

    assert torch.equal(kept[:, 0], tokens[:, 0])
    assert torch.equal(kept[0, 1:], tokens[0, [4, 1]])
    assert torch.equal(kept[1, 1:], tokens[1, [2, 3]])


def test_gather_per_sample_matches_batched():
    generator = torch.Generator().manual_seed(0)
    tokens = torch.randn(4, 9, 6, generator=generator)
    patch_indices = torch.stack([torch.randperm(8, generator=generator)[:3] for _ in range(4)])

    assert torch.equal(
        gather_tokens_per_sample(tokens, patch_indices), gather_tokens(tokens, patch_indices)
    )


def test_gather_tokens_of_non_contiguous_tokens():
    tokens = torch.arange(2 * 3 * 5, dtype=torch.float32).reshape(2, 3, 5).transpose(1, 2)
    patch_indices = torch.tensor([[1], [3]])

    kept = gather_tokens(tokens, patch_indices)

    assert kept.tolist() == [[[0.0, 5.0, 10.0], [2.0, 7.0, 12.0]],
                             [[15.0, 20.0, 25.0], [19.0, 24.0, 29.0]]]


def test_gather_tokens_passes_gradient_to_kept_tokens_only():
    tokens = torch.zeros(1, 4, 2, requires_grad=True)

    gather_tokens(tokens, torch.tensor([[2]])).sum().backward()

    assert tokens.grad[0].tolist() == [[1.0, 1.0], [0.0, 0.0], [0.0, 0.0], [1.0, 1.0]]


def test_kept_token_rows_hand_computed():
    # 4 tokens per image (CLS + 3 patches). Image 0 keeps patches 2, 0: tokens 3, 1, rows 3, 1.
    # Image 1 keeps patch 1 twice: token 2, rows 4 + 2.
    rows = kept_token_rows(torch.tensor([[2, 0], [1, 1]]), num_tokens=4)

    assert rows.tolist() == [0, 3, 1, 4, 6, 6]


def test_gather_token_rows_shares_rows_across_tensors():
    tokens = torch.arange(2 * 4 * 3, dtype=torch.float32).reshape(2, 4, 3)
    patch_indices = torch.tensor([[2], [0]])
    rows = kept_token_rows(patch_indices, num_tokens=4)

    first, second = gather_token_rows(tokens, rows), gather_token_rows(tokens * 10, rows)

    assert torch.equal(first, gather_tokens(tokens, patch_indices))
    assert torch.equal(second, 10 * first)
