"""Checkers for chapter 09 (a character-level GPT on Tiny Shakespeare).

- 9.1: ``my_split(text)`` returns ``(train_text, val_text)`` as :class:`~mingpt_lite.data.CharDataset` splits it.
- 9.2: a number, the uniform baseline's loss on Tiny Shakespeare in nats per character.

References: :class:`mingpt_lite.data.CharDataset` and :func:`mingpt_lite.data.tiny_shakespeare`;
no copy of a solution lives here.
"""

from __future__ import annotations

import math
import numbers

from ..data import CharDataset, tiny_shakespeare
from . import Hint, checker

_PROBES = (
    "To be, or not to be: that is the question.\n" * 3,
    "ab" * 50 + "c",
    "First Citizen:\nBefore we proceed any further, hear me speak.\n",
)


@checker("9.1")
def check_split(attempt) -> str:
    """The train and validation text of CharDataset's default split (last 10% held out)."""
    for text in _PROBES:
        reference = CharDataset(text, block_size=1)
        n_train = reference.data["train"].numel()
        want_train, want_val = text[:n_train], text[n_train:]
        result = attempt(text)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise Hint(f"my_split(text) must return a pair (train_text, val_text), got {type(result).__name__}")
        train, val = result
        if not (isinstance(train, str) and isinstance(val, str)):
            raise Hint("return two strings (slices of the text), not token ids")
        if train + val != text and val + train == text:
            raise Hint("the validation part is the *end* of the text (the last 10%), the training part the first 90%")
        if train + val != text:
            if sorted(train + val) == sorted(text):
                raise Hint("your two parts hold the right characters in the wrong order: a random split? "
                           "Validation is the *last* 10% of the text, one contiguous piece")
            raise Hint("train_text + val_text must give back the whole text: cut it once, at one index")
        if (train, val) == (want_train, want_val):
            continue
        if val == text[: len(val)] or len(train) < len(val):
            raise Hint("the validation part is the *end* of the text (the last 10%), the training part the first 90%")
        if len(val) == round(len(text) * 0.1) or len(train) == math.ceil(len(text) * 0.9):
            raise Hint(f"cut at int(0.9 * len(text)) = {n_train} (rounding down, as nanoGPT's prepare.py does), "
                       f"got a cut at {len(train)}")
        raise Hint(f"for a text of {len(text)} characters the cut is at index {n_train}, yours is at {len(train)}")
    return "the last 10% of the text is held out, cut at int(0.9 * len(text)), as nanoGPT cuts it."


@checker("9.2")
def check_uniform_loss(attempt) -> str:
    """ln V for Tiny Shakespeare's vocabulary, in nats."""
    if isinstance(attempt, bool) or not isinstance(attempt, numbers.Real):
        raise Hint(f"give a number (nats per character), got {type(attempt).__name__}")
    vocab = len(set(tiny_shakespeare()))
    want = math.log(vocab)
    if abs(attempt - want) < 1e-3:
        return f"ln {vocab} = {want:.4f} nats: the loss of knowing nothing but the alphabet."
    if abs(attempt - math.log2(vocab)) < 1e-3:
        raise Hint("that is in bits (log base 2); the loss uses the natural log, nats")
    if abs(attempt - vocab) < 1e-6 or abs(attempt - 1 / vocab) < 1e-6:
        raise Hint("the loss is the negative log of the probability 1/V, not V or 1/V itself")
    if abs(attempt - math.log(256)) < 1e-3 or abs(attempt - math.log(128)) < 1e-3:
        raise Hint("V is the number of distinct characters in the text, not the size of a byte or ASCII alphabet")
    raise Hint(f"every character gets probability 1/V; the loss is -ln(1/V) with V the number of distinct "
               f"characters (got {attempt})")
