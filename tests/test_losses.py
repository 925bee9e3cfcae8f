import math

import pytest
import torch
import torch.nn.functional as F

from eet.train.losses import LossWeights, student_loss, teacher_loss

LOGITS = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
LABELS = torch.tensor([0, 1])
HASH = torch.tensor([[1.0, -1.0], [0.5, 0.5]])
TARGET = torch.tensor([[1.0, 1.0], [1.0, -1.0]])
# MSE by hand: errors (0, -2, -0.5, 1.5) -> (0 + 4 + 0.25 + 2.25) / 4 = 1.625.
MSE = 1.625
CE = F.cross_entropy(LOGITS, LABELS).item()


def test_student_loss_without_teacher_terms():
    loss, parts = student_loss(LOGITS, HASH, LABELS, TARGET, LossWeights(ce_weight=0.1))
    assert parts["mse"] == pytest.approx(MSE)
    assert loss.item() == pytest.approx(0.1 * CE + MSE)
    assert "dkt" not in parts


def test_student_loss_adds_masked_ce():
    loss, parts = student_loss(LOGITS, HASH, LABELS, TARGET, LossWeights(ce_weight=0.1), masked_logits=LOGITS)
    assert parts["ce_masked"] == pytest.approx(CE)
    assert loss.item() == pytest.approx(0.1 * 2 * CE + MSE)


def test_student_loss_dkt_is_one_minus_cosine():
    # Row 0: identical directions (cos 1); row 1: opposite (cos -1). Mean of (1 - cos) = (0 + 2) / 2 = 1.
    teacher_hash = torch.tensor([[2.0, -2.0], [-0.5, -0.5]])
    loss, parts = student_loss(
        LOGITS, HASH, LABELS, TARGET, LossWeights(ce_weight=0.0, hash_weight=0.0, dkt_weight=3.0),
        teacher_hash=teacher_hash,
    )
    assert parts["dkt"] == pytest.approx(1.0)
    assert loss.item() == pytest.approx(3.0)


def test_teacher_loss_sums_every_head():
    hashes = {2: HASH, 4: torch.zeros(2, 4)}
    targets = {2: TARGET, 4: torch.ones(2, 4)}
    loss, parts = teacher_loss(LOGITS, hashes, LABELS, targets)
    assert parts["mse_4"] == pytest.approx(1.0)
    assert loss.item() == pytest.approx(CE + MSE + 1.0)


def test_cross_entropy_reference_value():
    # CE by hand: mean of -log softmax = (log(1 + e^-2) + log(1 + e^-1)) / 2.
    assert CE == pytest.approx((math.log(1 + math.exp(-2)) + math.log(1 + math.exp(-1))) / 2)
