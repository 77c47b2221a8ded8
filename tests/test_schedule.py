"""Tests for mingpt_lite.schedule: warmup + constant / cosine / linear, progress by another measure, cool-down."""

import math

import pytest

from mingpt_lite.schedule import Schedule, learning_rate_at
from mingpt_lite.trainer import TrainerConfig


def test_learning_rate_schedule():
    c = TrainerConfig(max_iters=100, learning_rate=1.0, min_lr=0.1, warmup_iters=10, lr_schedule="cosine")
    lrs = [learning_rate_at(c, i) for i in range(101)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(a < b for a, b in zip(lrs[:9], lrs[1:10]))  # rising during warmup
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))  # then never rising
    assert lrs[55] == pytest.approx(0.55) and lrs[100] == pytest.approx(0.1)
    linear = TrainerConfig(max_iters=100, learning_rate=1.0, min_lr=0.1, warmup_iters=10, lr_schedule="linear")
    lrs = [learning_rate_at(linear, i) for i in range(101)]
    assert lrs[9] == pytest.approx(1.0) and lrs[55] == pytest.approx(0.55) and lrs[100] == pytest.approx(0.1)
    assert lrs[32] - lrs[33] == pytest.approx(0.9 / 90) == pytest.approx(lrs[80] - lrs[81])  # a straight line
    constant = TrainerConfig(learning_rate=0.5)
    assert {learning_rate_at(constant, i) for i in (0, 10, 1999)} == {0.5}


def _formula(lr, kind, warmup, max_iters, min_lr, it):
    """The schedule written out once more, operation for operation, to hold the bits."""
    if it < warmup:
        return lr * (it + 1) / warmup
    if kind == "constant":
        return lr
    progress = min(1.0, (it - warmup) / max(1, max_iters - warmup))
    if kind == "linear":
        return lr + progress * (min_lr - lr)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (lr - min_lr)


@pytest.mark.parametrize("kind", ["constant", "cosine", "linear"])
def test_the_schedule_object_gives_the_same_bits_as_the_formula(kind):
    schedule = Schedule(3e-3, kind, warmup_iters=7, max_iters=120, min_lr=1e-5)
    assert [schedule(i) for i in range(130)] == [_formula(3e-3, kind, 7, 120, 1e-5, i) for i in range(130)]


def test_progress_by_another_measure_replaces_steps_after_warmup():
    spent = {"share": 0.0}
    schedule = Schedule(1.0, "cosine", warmup_iters=2, max_iters=10**6, min_lr=0.0)
    schedule.measure_progress_by(lambda it: spent["share"])
    assert schedule(0) == 0.5  # warmup stays in steps
    assert schedule(500) == 1.0  # no time spent: still at the peak, whatever the step
    spent["share"] = 0.5
    assert schedule(3) == pytest.approx(0.5)
    spent["share"] = 7.0  # past the budget: held at the floor
    assert schedule(4) == pytest.approx(0.0)
    with pytest.raises(TypeError, match="function of the step"):
        schedule.measure_progress_by(0.5)


def test_cool_down_lowers_the_peak_in_stairs_from_its_start():
    schedule = Schedule(1.0, "constant", warmup_iters=0)
    schedule.cool_down(start=100, length=100, floor=0.02, every=25)
    assert [schedule(i) for i in (0, 99, 100, 124)] == [1.0, 1.0, 1.0, 1.0]
    assert schedule(125) == schedule(149) == pytest.approx(1 - 0.98 * 0.25)
    assert schedule(200) == pytest.approx(0.02) and schedule(10**5) == pytest.approx(0.02)
    with pytest.raises(ValueError, match="floor"):
        schedule.cool_down(start=10, length=10, floor=2.0)


def test_a_bad_kind_is_refused():
    with pytest.raises(ValueError, match="constant"):
        Schedule(1e-3, "exponential")
