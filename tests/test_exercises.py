"""The exercise-checking machinery itself (each chapter's checkers are tested in
tests/test_exercises_chNN.py: the reference passes, plausible wrong answers fail with their hint)."""

from __future__ import annotations

import time

import pytest
import torch

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
    assert crashed.message.startswith("your attempt raised an error while being checked")


def test_check_prints_its_verdict_unless_quiet(monkeypatch, capsys):
    monkeypatch.setattr(exercises, "_CHECKERS", dict(exercises._CHECKERS))
    exercises.checker("98.3")(lambda attempt: "fine")
    result = check("98.3", None)
    assert capsys.readouterr().out.strip() == "Exercise 98.3: correct. fine" == str(result)
    assert result == CheckResult("98.3", True, "fine")
    check("98.3", None, quiet=True)
    assert capsys.readouterr().out == ""


def test_a_second_checker_for_the_same_exercise_is_refused(monkeypatch):
    monkeypatch.setattr(exercises, "_CHECKERS", dict(exercises._CHECKERS))
    exercises.checker("98.2")(lambda attempt: None)
    with pytest.raises(ValueError, match="already has a checker"):
        exercises.checker("98.2")(lambda attempt: None)


# --- issue 28: an attempt cannot hang a check or leave torch changed ----------------------------------

def test_an_attempt_that_never_returns_is_stopped_in_one_line(monkeypatch):
    monkeypatch.setattr(exercises, "_CHECKERS", dict(exercises._CHECKERS))
    exercises.checker("98.4")(lambda attempt: attempt())

    def forever():
        while True:
            try:
                time.sleep(0.01)
            except Exception:  # an attempt's own handler cannot swallow the stop
                pass

    started = time.perf_counter()
    result = check("98.4", forever, quiet=True, time_limit=0.5)
    assert not result and "stopped after 0.5 s" in result.message and "\n" not in result.message
    assert time.perf_counter() - started < 10
    assert check("98.4", lambda: "quick", quiet=True, time_limit=0.5)  # the alarm is gone afterwards
    with pytest.raises(ValueError, match="time_limit"):
        check("98.4", forever, quiet=True, time_limit=0)


def test_an_attempt_cannot_leave_dtype_grad_mode_or_random_state_changed(monkeypatch):
    monkeypatch.setattr(exercises, "_CHECKERS", dict(exercises._CHECKERS))
    exercises.checker("98.5")(lambda attempt: attempt())

    def meddling():
        torch.set_default_dtype(torch.float64)
        torch.set_grad_enabled(False)
        torch.rand(1000)
        raise Hint("wrong anyway")

    torch.manual_seed(5)
    rng = torch.get_rng_state()
    assert not check("98.5", meddling, quiet=True)
    assert torch.get_default_dtype() == torch.float32 and torch.is_grad_enabled()
    assert torch.equal(torch.get_rng_state(), rng)
