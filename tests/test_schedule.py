import math

import pytest
import torch

from eet.train.schedule import warmup_cosine


def _factors(warmup: int, total: int) -> list[float]:
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = warmup_cosine(optimizer, warmup, total)
    factors = []
    for _ in range(total):
        factors.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return factors


def test_schedule_warms_up_linearly():
    assert _factors(4, 10)[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])


def test_schedule_decays_by_cosine_to_zero():
    factors = _factors(2, 6)
    # After warm-up: steps 2..5 sit at progress 0, 1/4, 2/4, 3/4 of the cosine.
    expected = [0.5 * (1 + math.cos(math.pi * p)) for p in (0, 0.25, 0.5, 0.75)]
    assert factors[2:] == pytest.approx(expected)


def test_schedule_cuts_warmup_to_total():
    assert _factors(100, 4) == pytest.approx([0.25, 0.5, 0.75, 1.0])


def test_schedule_rejects_zero_steps():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    with pytest.raises(ValueError, match="positive"):
        warmup_cosine(optimizer, 1, 0)
