"""Chapter 14's checkers: the package's references pass, plausible wrong answers fail with their hint."""

from __future__ import annotations

import math
from collections import Counter

import regex

from mingpt_lite.exercises import check
from mingpt_lite.exercises.ch14 import SPLIT_TEXT
from mingpt_lite.tokenizer import GPT2_PATTERN, Tokenizer, merge_pair, train_bpe

from conftest import failed


def _fails_with(exercise, attempt, hint):
    message = failed(exercise, attempt)
    assert hint in message, message


def test_merge():
    assert check("14.1", merge_pair, quiet=True)

    def first_only(ids, pair, new_id):
        for i in range(len(ids) - 1):
            if (ids[i], ids[i + 1]) == tuple(pair):
                return ids[:i] + [new_id] + ids[i + 2:]
        return ids

    def right_to_left(ids, pair, new_id):
        return merge_pair(ids[::-1], pair[::-1], new_id)[::-1]

    def overlapping(ids, pair, new_id):  # every position whose pair matches, without skipping
        out = [new_id if (a, b) == tuple(pair) else a for a, b in zip(ids, ids[1:])]
        return out if len(ids) < 2 or (ids[-2], ids[-1]) == tuple(pair) else out + ids[-1:]

    _fails_with("14.1", first_only, "every occurrence")
    _fails_with("14.1", right_to_left, "left to right")
    _fails_with("14.1", overlapping, "overlapping")
    _fails_with("14.1", lambda ids, pair, new_id: "".join(map(str, ids)), "list of integer ids")


def test_split():
    assert check("14.2", Tokenizer([]).split(SPLIT_TEXT), quiet=True)
    assert check("14.2", [" ", " Don", "'t", "  ", " stop", "\n\n"], quiet=True)
    _fails_with("14.2", SPLIT_TEXT.split(), "join back")
    _fails_with("14.2", [" ", " Don't", "  ", " stop", "\n\n"], "contractions")
    _fails_with("14.2", ["  ", "Don", "'t", "   ", "stop", "\n\n"], "travels with the word")
    _fails_with("14.2", "  Don't   stop", "list of strings")


def _train_recounting(text, vocab_size, pre_split=True, frequency=True):
    """The textbook trainer, recounting after every merge; ties go to the pair seen first."""
    chunks = regex.findall(GPT2_PATTERN, text) if pre_split else [text]
    if not frequency:
        chunks = list(dict.fromkeys(chunks))  # each distinct chunk once: a plausible mistake
    words = [list(c.encode("utf-8")) for c in chunks]
    merges = []
    while len(merges) < vocab_size - 256:
        counts = Counter(p for w in words for p in zip(w, w[1:]))
        pair = max(counts, key=counts.get)
        merges.append(pair)
        words = [merge_pair(w, pair, 255 + len(merges)) for w in words]
    return merges


def test_train():
    assert check("14.3", lambda text, v: train_bpe(text, v).merges, quiet=True)
    assert check("14.3", _train_recounting, quiet=True)  # another tie-break is fine
    _fails_with("14.3", lambda text, v: _train_recounting(text, v, pre_split=False), "chunk boundary")
    _fails_with("14.3", lambda text, v: _train_recounting(text, v, frequency=False), "most frequent pair")

    def numbered_from_257(text, v):
        merges = train_bpe(text, v).merges
        return [tuple(i + 1 if i >= 256 else i for i in pair) for pair in merges]

    _fails_with("14.3", numbered_from_257, "256 + r")
    _fails_with("14.3", lambda text, v: train_bpe(text, v).merges[:-1], "pairs for vocab_size")


def test_bits_per_char():
    assert check("14.4", lambda nats, tokens, chars: nats * tokens / math.log(2) / chars, quiet=True)
    _fails_with("14.4", lambda nats, tokens, chars: nats * tokens / chars, "divide by ln 2")
    _fails_with("14.4", lambda nats, tokens, chars: nats / math.log(2), "per *token*")
    _fails_with("14.4", lambda nats, tokens, chars: nats * chars / tokens / math.log(2), "upside down")
    _fails_with("14.4", lambda nats, tokens, chars: nats * tokens * math.log(2) / chars, "do not multiply")
    _fails_with("14.4", lambda nats, tokens, chars: nats * tokens / math.log(10) / chars, "base 2")
    _fails_with("14.4", lambda nats, tokens, chars: str(nats), "return a number")
