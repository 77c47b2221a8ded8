"""Chapter 11's checkers: the reference answers pass, and plausible wrong answers fail with the
hint that names their mistake."""

from __future__ import annotations

import pytest

from mingpt_lite.exercises import check

from conftest import failed as _failed

pytestmark = pytest.mark.usefixtures("one_thread")


def weighted(grads, counts):
    """Each rank's mean-loss gradient times its number of targets, over the total."""
    return sum(c * g for c, g in zip(counts, grads)) / sum(counts)


def test_11_1_the_count_weighted_average_passes():
    assert check("11.1", weighted, quiet=True)


def test_11_1_the_plain_average_is_named_as_ddps_rule():
    message = _failed("11.1", lambda grads, counts: sum(grads) / len(grads))
    assert "plain average over ranks is DDP's rule" in message and "[18, 12, 6]" in message


def test_11_1_the_bare_sum_is_named():
    assert "you summed" in _failed("11.1", lambda grads, counts: sum(grads))


def test_11_1_weights_without_the_normalisation_are_named():
    assert "but not divided by the total" in _failed(
        "11.1", lambda grads, counts: sum(c * g for c, g in zip(counts, grads)))


def test_11_1_dividing_by_the_counts_is_named():
    assert "multiply by its count" in _failed(
        "11.1", lambda grads, counts: sum(g / c for c, g in zip(counts, grads)) / len(grads))


def test_11_1_a_wrong_shape_is_named():
    assert "wrong shape" in _failed("11.1", lambda grads, counts: grads[0][:10])


def test_11_2_two_passes_and_the_mean_answer_and_the_inverse_are_named():
    assert check("11.2", 2, quiet=True)
    assert "answer for the mean loss" in _failed("11.2", 1)
    assert "inverted" in _failed("11.2", 0.5)
    assert "give a number" in _failed("11.2", "2")
