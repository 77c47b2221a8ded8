"""Chapter 01's checkers: the reference answers pass, and plausible wrong answers fail with the
hint that names their mistake."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from mingpt_lite.attention import explicit_attention
from mingpt_lite.exercises import check

from conftest import failed as _failed

pytestmark = pytest.mark.usefixtures("one_thread")


def _scores(q, k, scale=None):
    d = q.size(-1)
    return q @ k.transpose(-2, -1) / (math.sqrt(d) if scale is None else scale)


def _tril(T):
    return torch.ones(T, T, dtype=torch.bool).tril()


def reference_attention(q, k, v):
    """Written the chapter's way (not the checker's): scores, -inf mask, softmax over keys, @ v."""
    T = q.size(-2)
    s = _scores(q, k).masked_fill(~_tril(T), float("-inf"))
    return torch.softmax(s, dim=-1) @ v




# --- 1.1


def test_1_1_accepts_correct_attention_with_or_without_weights():
    assert check("1.1", reference_attention, quiet=True)
    assert check("1.1", lambda q, k, v: explicit_attention(q, k, v, _tril(q.size(-2))), quiet=True)  # (y, w)
    assert check("1.1", lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True), quiet=True)


def test_1_1_names_a_missing_mask():
    def no_mask(q, k, v):
        return torch.softmax(_scores(q, k), dim=-1) @ v

    assert "leaks future positions" in _failed("1.1", no_mask)


def test_1_1_names_a_missing_scale_and_a_1_over_d_scale():
    def unscaled(q, k, v):
        s = _scores(q, k, scale=1.0).masked_fill(~_tril(q.size(-2)), float("-inf"))
        return torch.softmax(s, dim=-1) @ v

    def over_d(q, k, v):
        s = _scores(q, k, scale=q.size(-1)).masked_fill(~_tril(q.size(-2)), float("-inf"))
        return torch.softmax(s, dim=-1) @ v

    assert "missing the 1/sqrt(d) factor" in _failed("1.1", unscaled)
    assert "divided by d instead of sqrt(d)" in _failed("1.1", over_d)


def test_1_1_names_softmax_over_the_wrong_dim_and_masking_after_softmax():
    def wrong_dim(q, k, v):
        s = _scores(q, k).masked_fill(~_tril(q.size(-2)), float("-inf"))
        return torch.softmax(s, dim=-2) @ v

    def mask_after(q, k, v):
        return (torch.softmax(_scores(q, k), dim=-1) * _tril(q.size(-2))) @ v

    assert "softmax over the wrong dimension" in _failed("1.1", wrong_dim)
    assert "after the softmax" in _failed("1.1", mask_after)


@pytest.mark.filterwarnings("ignore:The use of `x.T`")
def test_1_1_names_wrong_shapes_and_unbatched_only_code():
    def returns_weights(q, k, v):
        s = _scores(q, k).masked_fill(~_tril(q.size(-2)), float("-inf"))
        return torch.softmax(s, dim=-1)

    def only_2d(q, k, v):  # k.T reverses every axis of a 4-D tensor
        T, D = q.shape[-2:]
        s = (q @ k.T / math.sqrt(D)).masked_fill(~_tril(T), float("-inf"))
        return torch.softmax(s, dim=-1) @ v

    assert "those are the weights" in _failed("1.1", returns_weights)
    assert "batched" in _failed("1.1", only_2d)


# --- 1.2


def test_1_2_accepts_one_step_per_layer():
    assert check("1.2", [3, 4, 5], quiet=True)
    assert check("1.2", range(3, 6), quiet=True)


def test_1_2_names_the_usual_wrong_predictions():
    assert "the leak compounds" in _failed("1.2", [3])
    assert "not every future position" in _failed("1.2", range(3, 12))
    assert "something from the future does reach it" in _failed("1.2", [])
    assert "are not the future" in _failed("1.2", [2, 3, 4, 5])


# --- 1.3


def _head(shift: int, T: int = 8, sharpness: float = 10.0):
    """Weights of a position-matching head: query t matches the key of position t - shift."""
    eye = torch.eye(T, dtype=torch.float64)
    queries = torch.roll(eye, shifts=-shift, dims=1) if shift else eye  # row t is one-hot at t - shift
    s = sharpness * queries @ eye.T
    return torch.softmax(s.masked_fill(~_tril(T), float("-inf")), dim=-1)


def test_1_3_accepts_a_previous_token_head():
    assert check("1.3", _head(shift=1), quiet=True)
    assert check("1.3", (torch.zeros(8, 8), _head(shift=1)), quiet=True)  # the chapter's attend returns (y, weights)


def test_1_3_names_a_same_position_head_a_leak_and_unnormalised_rows():
    assert "attends to itself" in _failed("1.3", _head(shift=0))
    eye = torch.eye(8, dtype=torch.float64)
    leaky = torch.softmax(10.0 * torch.roll(eye, shifts=1, dims=1), dim=-1)  # row t looks at t + 1
    assert "leaks future positions" in _failed("1.3", leaky)
    assert "do not sum to one" in _failed("1.3", _head(shift=1) * 0.5)
    assert "(T, T) weight matrix" in _failed("1.3", torch.ones(2, 8, 8) / 8)
