"""Checkers for the book's exercises: ``check("1.2", my_attempt)`` says whether an attempt is right,
and if not, what is wrong with it.

Each chapter's checkers live in ``mingpt_lite/exercises/chNN.py`` and are registered with
``@checker("N.k")``. A checker receives the reader's attempt (a function, a module, a number...)
and compares it with the package's own reference implementation. It returns a short message
when the attempt is right, and raises :class:`Hint` naming the mistake when it is not: "your
weights leak future positions", "off by the 1/sqrt(d) factor", "the LayerNorm weights are
decayed"; never a bare False.

    >>> from mingpt_lite.exercises import check
    >>> check("1.2", my_masked_softmax)        # prints and returns a CheckResult
    Exercise 1.2: correct. ...

A :class:`CheckResult` is truthy only when the attempt passed, so a solution can
``assert check("1.2", attempt)``. An attempt cannot leave torch changed behind it: the default
dtype, grad mode and random number generators are restored after every check, and an attempt
that runs past ``time_limit`` seconds (default 120) is stopped and reported in one line. ``exercises()`` lists the exercises that have a checker.
The checkers share one small kit, :mod:`mingpt_lite.exercises.kit`: a shape guard, one
closeness test and the "known wrong variant -> hint" matcher.
"""

from __future__ import annotations

import contextlib
import importlib
import pkgutil
import re
import signal
import threading
import traceback
from dataclasses import dataclass
from typing import Any, Callable

import torch

__all__ = ["CheckResult", "Hint", "check", "checker", "exercises"]

_CHECKERS: dict[str, Callable[..., str | None]] = {}
TIME_LIMIT_S = 120.0  # far beyond any checker's own work; only an attempt that never returns reaches it
_EXERCISE_ID = re.compile(r"^\d{1,2}\.\d{1,2}$")


class Hint(Exception):
    """Raised by a checker when an attempt is wrong; the message says what is wrong and how to fix it."""


@dataclass(frozen=True)
class CheckResult:
    """The verdict on one attempt: ``passed`` and a message for the reader."""

    exercise: str
    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        verdict = "correct" if self.passed else "not yet"
        return f"Exercise {self.exercise}: {verdict}. {self.message}".rstrip()

    def __repr__(self) -> str:
        return str(self)


def checker(exercise: str) -> Callable[[Callable[..., str | None]], Callable[..., str | None]]:
    """Register the decorated function as the checker of ``exercise`` ("N.k")."""
    if not _EXERCISE_ID.match(exercise):
        raise ValueError(f"exercise ids look like '3.2', got {exercise!r}")

    def register(function: Callable[..., str | None]) -> Callable[..., str | None]:
        if exercise in _CHECKERS and _CHECKERS[exercise] is not function:
            raise ValueError(f"exercise {exercise} already has a checker ({_CHECKERS[exercise].__qualname__})")
        _CHECKERS[exercise] = function
        return function

    return register


def _load_all() -> None:
    """Import every ``chNN`` module of this package, which registers its checkers."""
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("ch"):
            importlib.import_module(f"{__name__}.{info.name}")


def exercises() -> list[str]:
    """The ids of the exercises that have a checker, in chapter order."""
    _load_all()
    return sorted(_CHECKERS, key=lambda e: tuple(int(p) for p in e.split(".")))


class _TimeLimit(BaseException):
    """Raised inside an attempt that ran past the time limit (a BaseException, so that an attempt's
    own ``except Exception`` cannot swallow it)."""


@contextlib.contextmanager
def _torch_state_restored():
    """Run the body, then put back torch's global state as it was: default dtype, grad mode, RNGs."""
    dtype, grad = torch.get_default_dtype(), torch.is_grad_enabled()
    cpu_rng = torch.get_rng_state()
    cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    try:
        yield
    finally:
        torch.set_default_dtype(dtype)
        torch.set_grad_enabled(grad)
        torch.set_rng_state(cpu_rng)
        if cuda_rng is not None:
            torch.cuda.set_rng_state_all(cuda_rng)


@contextlib.contextmanager
def _stopped_after(seconds: float):
    """Raise :class:`_TimeLimit` in the body after ``seconds`` (SIGALRM: the main thread of a Unix
    process, which is where a notebook's cells run; elsewhere there is no limit)."""
    if not (hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()):
        yield
        return

    def stop(signum, frame):
        raise _TimeLimit

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def check(exercise: str, attempt: Any, *args: Any, quiet: bool = False, time_limit: float = TIME_LIMIT_S,
          **kwargs: Any) -> CheckResult:
    """Check ``attempt`` for ``exercise`` ("N.k"), print the verdict (unless ``quiet``) and return it.

    Extra arguments go to the checker (an exercise's text says when it takes any). An error
    raised *by the attempt itself* while it is being checked is reported as a failed attempt,
    with the error's last line, not as a crash of the checker. So is an attempt still running
    after ``time_limit`` seconds. Whatever the attempt does to torch's default dtype, grad mode
    or random number generators is undone when the check ends.
    """
    if not time_limit > 0:
        raise ValueError(f"time_limit must be a positive number of seconds, got {time_limit!r}")
    if not isinstance(exercise, str) or not _EXERCISE_ID.match(exercise):
        raise ValueError(f"exercise ids look like '3.2' (a string), got {exercise!r}")
    _load_all()
    if exercise not in _CHECKERS:
        known = ", ".join(exercises()) or "none"
        raise KeyError(f"exercise {exercise} has no checker (exercises with one: {known})")
    try:
        with _torch_state_restored(), _stopped_after(time_limit):
            message = _CHECKERS[exercise](attempt, *args, **kwargs)
        result = CheckResult(exercise, True, message or "")
    except _TimeLimit:
        result = CheckResult(exercise, False, f"the check was stopped after {time_limit:g} s: your attempt did not "
                             f"return (an endless loop?); pass time_limit=... if it really needs longer")
    except Hint as hint:
        result = CheckResult(exercise, False, str(hint))
    except Exception as err:  # the reader's code failed while being checked
        last = traceback.format_exception_only(type(err), err)[-1].strip()
        result = CheckResult(exercise, False, f"your attempt raised an error while being checked: {last}")
    if not quiet:
        print(result)
    return result
