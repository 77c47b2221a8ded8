"""Chapter 13's checkers: the package's references pass, plausible wrong answers fail with their hint."""

from __future__ import annotations

import torch

from mingpt_lite.attention import rotate_explicit
from mingpt_lite.exercises import check
from mingpt_lite.norms import rms_norm_explicit

from conftest import failed


def _fails_with(exercise, attempt, hint):
    message = failed(exercise, attempt)
    assert hint in message, message


def test_rms_norm():
    assert check("13.1", rms_norm_explicit, quiet=True)
    assert check("13.1", lambda x, w, eps: torch.nn.functional.rms_norm(x, (x.size(-1),), w, eps), quiet=True)
    _fails_with("13.1", lambda x, w, eps: torch.nn.functional.layer_norm(x, (x.size(-1),), w, None, eps), "LayerNorm")
    _fails_with("13.1", lambda x, w, eps: rms_norm_explicit(x, None, eps), "gain is missing")
    _fails_with("13.1", lambda x, w, eps: x / (x.pow(2).mean(-1, keepdim=True) + eps) * w, "*root*")
    _fails_with("13.1", lambda x, w, eps: x.pow(2).mean(-1), "shape")


def test_rotate():
    assert check("13.2", rotate_explicit, quiet=True)
    _fails_with("13.2", lambda x, p: rotate_explicit(x, -p), "other way")
    _fails_with("13.2", lambda x, p: rotate_explicit(x, p - p[0]), "absolute positions")
    _fails_with("13.2", lambda x, p: 2 * rotate_explicit(x, p), "length")

    def interleaved(x, p):
        B, T, D = x.shape
        halves = x.view(B, T, D // 2, 2).transpose(-1, -2).reshape(B, T, D)
        return rotate_explicit(halves, p).view(B, T, 2, D // 2).transpose(-1, -2).reshape(B, T, D)

    _fails_with("13.2", interleaved, "neighbouring channels")


def test_rotary_savings():
    assert check("13.3", 64 * 128, quiet=True)
    _fails_with("13.3", 0, "no position table")
    _fails_with("13.3", 4 * 64 * 128, "not one per layer")
    _fails_with("13.3", 12345, "position embedding table")


def test_rms_norm_fallback_hint_does_not_give_the_formula_away():
    """Issue 25: the fallback hint printed the whole RMSNorm formula; now it points at the part that is off."""
    def mean_abs(x, w, eps):                          # a per-position statistic, but the wrong one
        return x / (x.abs().mean(-1, keepdim=True) + eps) * w

    def per_channel(x, w, eps):                       # not one number per position
        return x / torch.sqrt(x.pow(2).mean(-2, keepdim=True) + eps) * w * torch.linspace(0.5, 1.5, x.size(-1))

    for attempt, hint in ((mean_abs, "not by the right one"), (per_channel, "single number")):
        message = failed("13.1", attempt)
        assert hint in message and "torch.sqrt" not in message and "pow(2)" not in message, message
    _fails_with("13.1", lambda x, w, eps: x / (x.pow(2).mean(-1, keepdim=True).sqrt() + eps) * w, "inside the square root")
    _fails_with("13.1", lambda x, w, eps: x / torch.sqrt(x.pow(2).sum(-1, keepdim=True) + eps) * w, "*sum*")
