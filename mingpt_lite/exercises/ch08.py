"""Checkers for chapter 08 (how hard is sorting?).

- 8.1: ``solved_at(history, patience=4)``, the solve rule on a list of ``(step, accuracy)``
  evaluations; compared with :func:`mingpt_lite.callbacks.solved_step` on hand-picked and random
  histories.
- 8.2: ``boost_active(length, num_digits)``, whether minGPT's repeat boost can reject a draw;
  compared with :func:`mingpt_lite.data.repeat_boost_active`, which asks the task's own
  ``count_distinct``.
"""

from __future__ import annotations

import random

from ..callbacks import solved_step
from ..data import repeat_boost_active
from . import Hint, checker

_HISTORIES = [
    [(25, 0.5), (50, 0.9), (75, 1.0), (100, 1.0), (125, 1.0), (150, 1.0), (175, 1.0)],
    [(25, 1.0), (50, 0.99), (75, 1.0), (100, 1.0), (125, 1.0), (150, 1.0)],
    [(25, 1.0), (50, 1.0), (75, 1.0), (100, 0.999), (125, 1.0), (150, 1.0), (175, 1.0), (200, 1.0)],
    [(25, 1.0), (50, 1.0), (75, 0.5)],
    [],
]


def _random_histories(count: int = 200, seed: int = 8):
    rng = random.Random(seed)
    for _ in range(count):
        n = rng.randint(0, 14)
        yield [(25 * (i + 1), 1.0 if rng.random() < 0.7 else rng.choice([0.9, 0.99, 0.998])) for i in range(n)]


def _last_of_streak(history, patience):
    streak = 0
    for step, accuracy in history:
        streak = streak + 1 if accuracy == 1.0 else 0
        if streak == patience:
            return step
    return None


def _first_perfect(history, patience):
    return next((step for step, accuracy in history if accuracy == 1.0), None)


def _no_reset(history, patience):
    perfect = [step for step, accuracy in history if accuracy == 1.0]
    return perfect[0] if len(perfect) >= patience else None


def _no_reset_last(history, patience):
    perfect = [step for step, accuracy in history if accuracy == 1.0]
    return perfect[patience - 1] if len(perfect) >= patience else None


_WRONG_RULES = [
    (_last_of_streak, "that is the last evaluation of the streak; solved_at is the first of them"),
    (_first_perfect, "100% once is not solved: it takes `patience` evaluations in a row"),
    (_no_reset, "a miss (anything below 1.0) must reset the streak to zero"),
    (_no_reset_last, "a miss (anything below 1.0) must reset the streak to zero"),
]


@checker("8.1")
def check_solved_at(attempt) -> str:
    """``attempt(history, patience)`` equals the package's solve rule."""
    cases = [(h, p) for h in _HISTORIES for p in (1, 2, 4)] + [(h, 4) for h in _random_histories()]
    answers = [attempt(list(history), patience) for history, patience in cases]
    wrong = [i for i, ((history, patience), got) in enumerate(zip(cases, answers))
             if got != solved_step(history, patience)]
    if not wrong:
        return f"the rule agrees with the package's on {len(cases)} histories."
    history, patience = cases[wrong[0]]
    shown = (f"history {history}, patience {patience}: you returned {answers[wrong[0]]!r}, "
             f"the rule gives {solved_step(history, patience)!r}")
    for rule, hint in _WRONG_RULES:
        if all(got == rule(list(h), p) for (h, p), got in zip(cases, answers)):
            raise Hint(f"{hint} ({shown})")
    if solved_step(history, patience) is None:
        raise Hint(f"return None when no `patience` perfect evaluations in a row exist ({shown})")
    raise Hint(shown)


_WRONG_BOOST = [
    (lambda L, V: min(L, V) >= L // 2, "the rule rejects *more than* length // 2 distinct digits, not as many"),
    (lambda L, V: L > L // 2, "a problem cannot have more distinct digits than there are symbols: "
                              "at most min(length, num_digits)"),
    (lambda L, V: min(L, V) < L // 2, "the boost rejects draws with *many* distinct digits (to favour repeats), "
                                      "not few"),
]


@checker("8.2")
def check_boost_active(attempt) -> str:
    """``attempt(length, num_digits)`` equals :func:`repeat_boost_active` for lengths and vocabularies 2..40."""
    cases = [(L, V) for L in range(2, 41) for V in range(2, 41)]
    answers = [attempt(L, V) for L, V in cases]
    odd = next((a for a in answers if not isinstance(a, (bool, int))), None)
    if odd is not None:
        raise Hint(f"return True or False, not {type(odd).__name__}")
    wrong = [i for i, ((L, V), got) in enumerate(zip(cases, answers)) if bool(got) != repeat_boost_active(L, V)]
    if not wrong:
        return "right for every length and vocabulary from 2 to 40: active exactly when min(L, V) > L // 2."
    L, V = cases[wrong[0]]
    shown = f"length {L}, {V} symbols: you said {answers[wrong[0]]!r}, the sampler says {repeat_boost_active(L, V)}"
    for rule, hint in _WRONG_BOOST:
        if all(bool(got) == rule(L, V) for (L, V), got in zip(cases, answers)):
            raise Hint(f"{hint} ({shown})")
    raise Hint(f"{shown}; read the rejection line of SortTask.sample_problems")
