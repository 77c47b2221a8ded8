"""The exercise-checking machinery itself (each chapter's checkers are tested in
tests/test_exercises_chNN.py: the reference passes, plausible wrong answers fail with their hint)."""

from __future__ import annotations

import pytest

from mingpt_lite import exercises
from mingpt_lite.exercises import CheckResult, Hint, check


def test_check_rejects_malformed_and_unknown_ids():
    with pytest.raises(ValueError, match="look like"):
        check(1.2, None)
    with pytest.raises(KeyError, match="has no checker"):
        check("99.9", None)


def test_a_hint_becomes_a_failed_result_and_a_crash_of_the_attempt_too(monkeypatch):
    registry = dict(exercises._CHECKERS)
    monkeypatch.setattr(exercises, "_CHECKERS", registry)

    @exercises.checker("98.1")
    def _needs_three(attempt):
        if attempt() != 3:
            raise Hint("expected 3")
        return "three it is"

    ok = check("98.1", lambda: 3, quiet=True)
    assert ok and ok.message == "three it is" and str(ok).startswith("Exercise 98.1: correct")
    wrong = check("98.1", lambda: 4, quiet=True)
    assert not wrong and wrong.message == "expected 3"
    crashed = check("98.1", lambda: 1 / 0, quiet=True)
    assert not crashed and "ZeroDivisionError" in crashed.message
    assert isinstance(crashed, CheckResult)


def test_a_second_checker_for_the_same_exercise_is_refused(monkeypatch):
    monkeypatch.setattr(exercises, "_CHECKERS", dict(exercises._CHECKERS))
    exercises.checker("98.2")(lambda attempt: None)
    with pytest.raises(ValueError, match="already has a checker"):
        exercises.checker("98.2")(lambda attempt: None)
