"""Chapter 09's checkers: the package's references pass, plausible wrong answers fail with their hint."""

from __future__ import annotations

import math
import random

import pytest

from mingpt_lite.data import CharDataset, tiny_shakespeare
from mingpt_lite.exercises import check


def _reference_split(text):
    data = CharDataset(text, block_size=1)
    return text[: data.data["train"].numel()], text[data.data["train"].numel():]


def test_the_reference_split_passes():
    assert check("9.1", _reference_split, quiet=True)
    assert check("9.1", lambda t: (t[: int(0.9 * len(t))], t[int(0.9 * len(t)):]), quiet=True)


def _shuffled(text):
    chars = list(text)
    random.Random(0).shuffle(chars)
    n = int(0.9 * len(text))
    return "".join(chars[:n]), "".join(chars[n:])


@pytest.mark.parametrize("attempt, hint", [
    (lambda t: (t[int(0.1 * len(t)):], t[: int(0.1 * len(t))]), "*end* of the text"),
    (lambda t: (t[: math.ceil(0.9 * len(t))], t[math.ceil(0.9 * len(t)):]), "rounding down"),
    (_shuffled, "random split"),
    (lambda t: t[: int(0.9 * len(t))], "must return a pair"),
    (lambda t: (t[:10], t[20:]), "whole text"),
])
def test_wrong_splits_get_their_hint(attempt, hint):
    result = check("9.1", attempt, quiet=True)
    assert not result and hint in result.message


def test_uniform_loss():
    vocab = len(set(tiny_shakespeare()))
    assert check("9.2", math.log(vocab), quiet=True)
    for wrong, hint in [(math.log2(vocab), "bits"), (float(vocab), "negative log"), (math.log(256), "distinct"),
                        (3.0, "-ln(1/V)")]:
        result = check("9.2", wrong, quiet=True)
        assert not result and hint in result.message
