"""Chapter 07's checkers: the package's references pass, plausible wrong answers fail with their hint."""

from __future__ import annotations

import pytest
import torch

from mingpt_lite.exercises import check
from mingpt_lite.generation import filter_logits

pytestmark = pytest.mark.usefixtures("one_thread")


# --- 7.1: the top-p filter


def _top_p(sort=True, keep_crossing=True, output="logits", keep_top=True):
    """A nucleus filter with one mistake switched on."""
    def my_top_p(logits, p):
        probs = logits.softmax(-1)
        if sort:
            sorted_probs, order = probs.sort(dim=-1, descending=True)
        else:
            sorted_probs, order = probs, torch.arange(probs.size(-1)).expand_as(probs)
        cumulative = sorted_probs.cumsum(-1)
        keep_sorted = (cumulative - sorted_probs < p) if keep_crossing else (cumulative < p)
        if keep_top:
            keep_sorted[..., 0] = True
        keep = torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)
        if output == "probs":
            kept = torch.where(keep, probs, 0.0)
            return kept / kept.sum(-1, keepdim=True)
        if output == "zeros":
            return torch.where(keep, logits, 0.0)
        return torch.where(keep, logits, float("-inf"))
    return my_top_p


def _cumsum_at_most_p(logits, p):
    """The kept mask of the textbook slip ``cumsum <= p`` (in vocabulary order after sorting)."""
    probs, order = logits.softmax(-1).sort(dim=-1, descending=True)
    return torch.zeros_like(probs, dtype=torch.bool).scatter(-1, order, probs.cumsum(-1) <= p)


def test_the_cumsum_slip_names_the_crossing_token_not_an_empty_row():
    """Issue 25: `cumsum <= p` empties the row whose top token alone exceeds p; the hint must say why."""
    result = check("7.1", lambda logits, p: torch.where(_cumsum_at_most_p(logits, p), logits, float("-inf")),
                   quiet=True)
    assert not result and "carries the mass past p" in result.message and "left the row empty" in result.message


def test_the_reference_top_p_passes():
    assert check("7.1", lambda logits, p: filter_logits(logits, top_p=p), quiet=True)
    assert check("7.1", _top_p(), quiet=True)
    assert check("7.1", lambda logits, p: _top_p()(logits, p).log_softmax(-1), quiet=True)  # a shifted row is fine


@pytest.mark.parametrize("attempt, hint", [
    (_top_p(keep_crossing=False), "carries the mass past p"),
    (_top_p(keep_crossing=False, keep_top=False), "carries the mass past p"),   # cumsum < p, nothing forced
    (lambda logits, p: torch.where(_cumsum_at_most_p(logits, p), logits, float("-inf")), "carries the mass past p"),
    (lambda logits, p: torch.where(logits.softmax(-1) >= p, logits, float("-inf")), "kept no token"),
    (_top_p(sort=False), "sort the probabilities"),
    (_top_p(output="probs"), "you returned probabilities"),
    (_top_p(output="zeros"), "not 0"),
    (lambda logits, p: filter_logits(logits, top_p=min(1.0, p + 0.05)), "more tokens than the smallest set"),
    (lambda logits, p: logits.masked_fill_(~torch.isfinite(filter_logits(logits, top_p=p)), float("-inf")),
     "changed the logits it was given"),
    (lambda logits, p: filter_logits(logits, top_p=p)[..., :-1], "same shape"),
])
def test_wrong_top_p_filters_get_their_hint(attempt, hint):
    result = check("7.1", attempt, quiet=True)
    assert not result and hint in result.message, result.message


# --- 7.2: temperature, then top-p, then softmax


def test_the_reference_distribution_passes():
    assert check("7.2", lambda z, t, p: filter_logits(z / t, top_p=p).softmax(-1), quiet=True)


@pytest.mark.parametrize("attempt, hint", [
    (lambda z, t, p: filter_logits(z * t, top_p=p).softmax(-1), "multiplied the logits"),
    (lambda z, t, p: (filter_logits(z, top_p=p) / t).softmax(-1), "before the temperature"),
    (lambda z, t, p: filter_logits(z / t, top_p=p).softmax(-1) ** 0.5, "summing to 1"),
    (lambda z, t, p: filter_logits(z, top_p=p).softmax(-1), "temperature has no effect"),
    (lambda z, t, p: (z / t).softmax(-1), "top_p has no effect"),
    (lambda z, t, p: filter_logits(z / t, top_p=p), "summing to 1"),
])
def test_wrong_distributions_get_their_hint(attempt, hint):
    result = check("7.2", attempt, quiet=True)
    assert not result and hint in result.message, result.message


# --- 7.3: one cache write


def _write(offset=0, in_place=True, returned="prefix", swap=False):
    """A cache write with one mistake switched on."""
    def my_cache_write(k_buf, v_buf, k, v, pos):
        T = k.size(2)
        if swap:
            k, v = v, k
        start = pos + offset
        if in_place:
            k_buf[:, :, start:start + T] = k
            v_buf[:, :, start:start + T] = v
            kb, vb = k_buf, v_buf
        else:
            kb, vb = k_buf.clone(), v_buf.clone()
            kb[:, :, start:start + T], vb[:, :, start:start + T] = k, v
        if returned == "all":
            return kb, vb
        if returned == "new":
            return k, v
        return kb[:, :, :pos + T], vb[:, :, :pos + T]
    return my_cache_write


def test_the_reference_cache_write_passes():
    assert check("7.3", _write(), quiet=True)


@pytest.mark.parametrize("attempt, hint", [
    (_write(offset=1), "landed at position 1"),
    (_write(in_place=False), "not written"),
    (_write(returned="all"), "whole buffer"),
    (_write(returned="new"), "only the new keys"),
    (_write(swap=True), "swapped"),
    (lambda kb, vb, k, v, pos: (kb.__setitem__((slice(None), slice(pos, pos + k.size(2))), k), None),
     "shape error"),
])
def test_wrong_cache_writes_get_their_hint(attempt, hint):
    result = check("7.3", attempt, quiet=True)
    assert not result and hint in result.message, result.message
