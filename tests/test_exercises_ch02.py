"""Chapter 02's checkers: the reference answers pass, and plausible wrong answers fail with the
hint that names their mistake."""

from __future__ import annotations

import pytest
import torch

from mingpt_lite.exercises import check

from conftest import failed as _failed

pytestmark = pytest.mark.usefixtures("one_thread")


# --- 2.1


def layer_norm(x, weight, bias, eps=1e-5):
    mean = x.mean(dim=-1, keepdim=True)
    var = x.var(dim=-1, keepdim=True, unbiased=False)
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


def test_2_1_accepts_layer_norm():
    assert check("2.1", layer_norm, quiet=True)
    assert check("2.1", lambda x, w, b, eps: torch.nn.functional.layer_norm(x, x.shape[-1:], w, b, eps), quiet=True)


def test_2_1_names_unbiased_variance_and_a_missing_gain():
    def unbiased(x, weight, bias, eps=1e-5):
        return (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, keepdim=True) + eps) * weight + bias

    def no_affine(x, weight, bias, eps=1e-5):
        return (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, keepdim=True, unbiased=False) + eps)

    assert "divides by C - 1" in _failed("2.1", unbiased)
    assert "not scaled and shifted" in _failed("2.1", no_affine)


def test_2_1_names_eps_outside_the_root_rmsnorm_and_the_wrong_axis():
    def eps_outside(x, weight, bias, eps=1e-5):
        return (x - x.mean(-1, keepdim=True)) / (x.std(-1, keepdim=True, unbiased=False) + eps) * weight + bias

    def rms(x, weight, bias, eps=1e-5):
        return x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight + bias

    def over_positions(x, weight, bias, eps=1e-5):
        mean, var = x.mean(-2, keepdim=True), x.var(-2, keepdim=True, unbiased=False)
        return (x - mean) / torch.sqrt(var + eps) * weight + bias

    def no_keepdim(x, weight, bias, eps=1e-5):
        return (x - x.mean(-1)[..., None]) / torch.sqrt(x.var(-1, unbiased=False) + eps) * weight + bias

    assert "eps belongs inside the square root" in _failed("2.1", eps_outside)
    assert "that is RMSNorm" in _failed("2.1", rms)
    assert "normalised over the positions" in _failed("2.1", over_positions)
    assert "keepdim=True" in _failed("2.1", no_keepdim)


# --- 2.2


def count(vocab_size, block_size, n_layer, n_embd, bias=True, tie_weights=False):
    """Written from the chapter's table: per block 12C^2 weights, 13C biases and LayerNorm numbers."""
    C, b = n_embd, int(bias)
    per_block = 12 * C * C + 2 * C * (1 + b) + b * (3 * C + C + 4 * C + C)
    total = (vocab_size + block_size) * C + n_layer * per_block + C * (1 + b)
    return total + (0 if tie_weights else vocab_size * C)


def test_2_2_accepts_the_count():
    assert check("2.2", count, quiet=True)


def test_2_2_names_a_tied_head_counted_twice_and_a_forgotten_final_norm():
    def head_always(V, P, L, C, bias=True, tie_weights=False):
        return count(V, P, L, C, bias, tie_weights=False)

    def no_final_norm(V, P, L, C, bias=True, tie_weights=False):
        return count(V, P, L, C, bias, tie_weights) - C * (1 + int(bias))

    assert "counted the tied head twice" in _failed("2.2", head_always)
    assert "forgot the final LayerNorm" in _failed("2.2", no_final_norm)


def test_2_2_names_forgotten_biases_and_a_bias_flag_that_is_ignored():
    def no_linear_biases(V, P, L, C, bias=True, tie_weights=False):
        return count(V, P, L, C, bias, tie_weights) - (L * 9 * C if bias else 0)

    def ignores_bias_flag(V, P, L, C, bias=True, tie_weights=False):
        return count(V, P, L, C, True, tie_weights)

    def drops_gains_too(V, P, L, C, bias=True, tie_weights=False):
        return count(V, P, L, C, bias, tie_weights) - (0 if bias else (2 * L + 1) * C)

    assert "forgot the biases of the Linear layers" in _failed("2.2", no_linear_biases)
    assert "no biases at all" in _failed("2.2", ignores_bias_flag)
    assert "keeps its gain" in _failed("2.2", drops_gains_too)


def test_2_2_names_a_missing_head_and_position_embedding():
    def no_head(V, P, L, C, bias=True, tie_weights=False):
        return count(V, P, L, C, bias, tie_weights=True)

    def no_positions(V, P, L, C, bias=True, tie_weights=False):
        return count(V, P, L, C, bias, tie_weights) - P * C

    assert "output head" in _failed("2.2", no_head)
    assert "position embedding" in _failed("2.2", no_positions)


# --- 2.3


def test_2_3_accepts_the_crossover_width():
    # 12 (12C^2 + 13C) > 50257 C  <=>  144 C > 50101  <=>  C >= 348
    assert check("2.3", 348, quiet=True)


def test_2_3_names_the_usual_wrong_widths():
    assert "embedding *and* the head" in _failed("2.3", 697)   # 144 C + 156 > 2 x 50257
    assert "left out the biases" in _failed("2.3", 350)       # 144 C > 50257
    assert "single block" in _failed("2.3", 4188)             # 12 C^2 + 13 C > 50257 C
    assert "go wider" in _failed("2.3", 100)
    assert "find the smallest" in _failed("2.3", 1000)
    assert "whole number" in _failed("2.3", "348")


def test_2_1_names_normalising_over_positions_and_channels_together():
    """Issue 25: a LayerNorm over (T, C) used to get only a generic 'differs by up to ...'."""
    def over_sequence(x, weight, bias, eps=1e-5):
        mean = x.mean(dim=(-2, -1), keepdim=True)
        var = x.var(dim=(-2, -1), keepdim=True, unbiased=False)
        return (x - mean) / torch.sqrt(var + eps) * weight + bias

    message = _failed("2.1", over_sequence)
    assert "positions and channels together" in message and "differs" not in message
