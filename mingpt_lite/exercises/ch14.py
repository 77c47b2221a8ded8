"""Checkers for chapter 14 (tokens: minGPT's BPE).

- 14.1: ``my_merge(ids, pair, new_id)``: one merge applied to a list of ids, left to right.
- 14.2: a list of strings, GPT-2's pre-split of ``"  Don't   stop\\n\\n"``, predicted.
- 14.3: ``my_train(text, vocab_size)``: byte-level BPE merges learned from a text with GPT-2's pre-split.
- 14.4: ``my_bits_per_char(nats_per_token, tokens, chars)``: a token model's loss as bits per character.

References: :func:`mingpt_lite.tokenizer.merge_pair`, :meth:`mingpt_lite.tokenizer.Tokenizer.split`
and :func:`mingpt_lite.tokenizer.train_bpe`; no copy of a solution lives here.
"""

from __future__ import annotations

import math
import numbers
from collections import Counter

from ..tokenizer import GPT2_PATTERN, Tokenizer, merge_pair
from . import Hint, checker
from .kit import match_variants

#: Exercise 14.2's text: runs of spaces, a contraction, a run of newlines.
SPLIT_TEXT = "  Don't   stop\n\n"

#: Exercise 14.3's training text: short, with repeated words, spaces and punctuation.
TRAIN_TEXT = ("the cat sat on the mat. the cat ate the rat, and the rat sat on the hat!\n"
              "then the hat sat on the cat; that is that.\n") * 3


def _as_id_list(value, what: str) -> list[int]:
    if not isinstance(value, (list, tuple)) or not all(
            isinstance(i, numbers.Integral) and not isinstance(i, bool) for i in value):
        raise Hint(f"{what} must return a list of integer ids, got {type(value).__name__} {str(value)[:60]}")
    return [int(i) for i in value]


@checker("14.1")
def check_merge(attempt) -> str:
    """One merge on several id lists, overlaps and edges included."""
    cases = [([1, 2, 3, 1, 2], (1, 2), 9), ([5, 5, 5], (5, 5), 9), ([5, 5, 5, 5], (5, 5), 9),
             ([], (1, 2), 9), ([1], (1, 2), 9), ([1, 2], (2, 1), 9), ([3, 1, 2, 1, 2, 2], (1, 2), 7)]
    for ids, pair, new_id in cases:
        before = list(ids)
        got = _as_id_list(attempt(list(ids), pair, new_id), "my_merge")
        want = merge_pair(ids, pair, new_id)
        if got == want:
            continue
        first_only = list(ids)
        for i in range(len(ids) - 1):
            if (ids[i], ids[i + 1]) == pair:
                first_only = ids[:i] + [new_id] + ids[i + 2:]
                break
        right_to_left = merge_pair(ids[::-1], pair[::-1], new_id)[::-1]
        match_variants(got, [
            (first_only, "only the first occurrence was merged: replace every occurrence of the pair"),
            (right_to_left, "in [a, a, a] merging (a, a) gives [aa, a]: scan left to right and take the first pair"),
        ])
        if len(got) < len(ids) and got.count(new_id) > want.count(new_id):
            raise Hint(f"{ids} with {pair} -> {new_id}: you merged overlapping pairs; after a merge, skip both ids "
                       f"it used (want {len(want)} ids, got {len(got)})")
        raise Hint(f"my_merge({before}, {pair}, {new_id}) returned {got}; every non-overlapping occurrence of the "
                   f"pair, left to right, becomes new_id and all other ids stay in order")
    return "every occurrence, left to right, overlaps resolved to the left."


@checker("14.2")
def check_split(answer) -> str:
    """The chunks GPT-2's pattern makes of :data:`SPLIT_TEXT`."""
    want = Tokenizer([]).split(SPLIT_TEXT)
    if not isinstance(answer, (list, tuple)) or not all(isinstance(c, str) for c in answer):
        raise Hint(f"give a list of strings (the chunks, in order), got {type(answer).__name__}")
    answer = list(answer)
    if answer == want:
        return "' ' + ' Don' + \"'t\" + '  ' + ' stop' + '\\n\\n': spaces travel with the word after them."
    if "".join(answer) != SPLIT_TEXT:
        raise Hint("the chunks must join back to the text exactly: the pre-split drops nothing, not even spaces "
                   "and newlines")
    if any("Don't" in c for c in answer):
        raise Hint("contractions are chunks of their own: the pattern's first alternatives are 's 't 're 've 'm 'll 'd")
    if "Don" in answer or "stop" in answer:
        raise Hint("a space right before a word travels with the word: ' Don', ' stop'")
    if "   " in answer or "  " in answer[:1]:
        raise Hint("a run of spaces gives its last space to the word after it (\\s+(?!\\S)): "
                   "count what is left of each run")
    raise Hint(f"{len(answer)} chunks, {len(want)} expected: go through the pattern's alternatives left to right "
               f"at each position")


def _pair_counts(chunks: list[list[int]]) -> Counter:
    return Counter(pair for ids in chunks for pair in zip(ids, ids[1:]))


@checker("14.3")
def check_train(attempt) -> str:
    """Merges from :data:`TRAIN_TEXT` to a vocabulary of 276: each must be a most frequent pair at its step.

    Ties may be broken either way, so the checker replays the training: at step ``r`` the pair
    must have the highest count among the chunks' adjacent pairs, and it creates id ``256 + r``.
    """
    vocab_size = 276
    got = attempt(TRAIN_TEXT, vocab_size)
    if not isinstance(got, (list, tuple)) or len(got) != vocab_size - 256:
        raise Hint(f"return the list of merges, {vocab_size - 256} pairs for vocab_size {vocab_size} "
                   f"(256 byte ids come first), got {str(got)[:60]}")
    chunks = [list(c.encode("utf-8")) for c in Tokenizer([], GPT2_PATTERN).split(TRAIN_TEXT)]
    whole = list(TRAIN_TEXT.encode("utf-8"))  # the text unsplit, merged alike: to recognise a crossing pair
    for rank, pair in enumerate(got):
        try:
            pair = tuple(int(i) for i in pair)
        except (TypeError, ValueError):
            raise Hint(f"merge {rank} {pair!r} is not a pair of integer ids") from None
        counts = _pair_counts(chunks)
        if len(pair) != 2:
            raise Hint(f"merge {rank} {pair!r} is not a pair")
        if counts[pair] == 0:
            if rank > 0 and any(i == 257 + rank - 1 for i in pair):
                raise Hint(f"merge {rank} uses id {257 + rank - 1}: merge r creates id 256 + r, so the first merge "
                           f"is 256")
            if _pair_counts([whole])[pair] > 0:
                raise Hint(f"merge {rank} {pair} only occurs across a chunk boundary: pre-split the text with "
                           f"GPT-2's pattern and count pairs inside each chunk only")
            raise Hint(f"merge {rank} {pair} does not occur in the text after the merges before it")
        best = max(counts.values())
        if counts[pair] < best:
            raise Hint(f"merge {rank} {pair} occurs {counts[pair]} times but another pair occurs {best} times: merge "
                       f"the most frequent pair, counting every occurrence in every chunk (a repeated word counts "
                       f"each time)")
        chunks = [merge_pair(ids, pair, 256 + rank) for ids in chunks]
        whole = merge_pair(whole, pair, 256 + rank)
    return f"{vocab_size - 256} merges, each a most frequent pair of its step."


@checker("14.4")
def check_bits_per_char(attempt) -> str:
    """A token model's mean loss (nats per token) over ``tokens`` tokens that spell ``chars`` characters."""
    for nats, tokens, chars in ((2.0, 1000, 2300), (3.5, 49420, 111514), (1.2, 64, 64)):
        got = attempt(nats, tokens, chars)
        if not isinstance(got, numbers.Real):
            raise Hint(f"return a number (bits per character), got {type(got).__name__}")
        want = nats * tokens / math.log(2) / chars
        if math.isclose(got, want, rel_tol=1e-9):
            continue
        for wrong, hint in (
                (nats * tokens / chars, "that is nats per character: divide by ln 2 to get bits"),
                (nats / math.log(2), "that is bits per *token*: spread the total over the characters"),
                (nats * chars / tokens / math.log(2), "upside down: the total loss is nats per token times tokens, "
                                                      "then divide by the characters"),
                (nats * tokens * math.log(2) / chars, "one bit is ln 2 nats: divide by ln 2, do not multiply"),
                (nats * tokens / math.log(10) / chars, "bits are base 2: divide by ln 2, not ln 10")):
            if math.isclose(got, wrong, rel_tol=1e-9):
                raise Hint(hint)
        raise Hint(f"my_bits_per_char({nats}, {tokens}, {chars}) = {got}: total nats, in bits, per character")
    return "nats × tokens / ln 2 / characters."
