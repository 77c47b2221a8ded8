"""Chapter 08's checkers accept the reference answers and name the plausible wrong ones."""

from __future__ import annotations

import pytest

from mingpt_lite.exercises import check


def solved_at(history, patience=4):
    streak = 0
    for i, (_, accuracy) in enumerate(history):
        streak = streak + 1 if accuracy == 1.0 else 0
        if streak == patience:
            return history[i - patience + 1][0]
    return None


def last_of_streak(history, patience=4):
    streak = 0
    for step, accuracy in history:
        streak = streak + 1 if accuracy == 1.0 else 0
        if streak == patience:
            return step
    return None


def first_perfect(history, patience=4):
    return next((step for step, accuracy in history if accuracy == 1.0), None)


def never_resets(history, patience=4):
    perfect = [step for step, accuracy in history if accuracy == 1.0]
    return perfect[0] if len(perfect) >= patience else None


def test_8_1_accepts_the_rule():
    assert check("8.1", solved_at, quiet=True)


@pytest.mark.parametrize("attempt, hint", [(last_of_streak, "the first of them"), (first_perfect, "100% once is not solved"),
                                           (never_resets, "must reset the streak")])
def test_8_1_names_the_mistake(attempt, hint):
    result = check("8.1", attempt, quiet=True)
    assert not result and hint in result.message


def test_8_2_accepts_the_rule():
    assert check("8.2", lambda L, V: min(L, V) > L // 2, quiet=True)


@pytest.mark.parametrize("attempt, hint", [(lambda L, V: min(L, V) >= L // 2, "*more than*"),
                                           (lambda L, V: L > L // 2, "cannot have more distinct digits"),
                                           (lambda L, V: min(L, V) < L // 2, "not few"),
                                           (lambda L, V: "yes", "return True or False")])
def test_8_2_names_the_mistake(attempt, hint):
    result = check("8.2", attempt, quiet=True)
    assert not result and hint in result.message
