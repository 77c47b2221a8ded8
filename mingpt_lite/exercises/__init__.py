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
``assert check("1.2", attempt)``. ``exercises()`` lists the exercises that have a checker.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import traceback
from dataclasses import dataclass
from typing import Any, Callable

__all__ = ["CheckResult", "Hint", "check", "checker", "exercises"]

_CHECKERS: dict[str, Callable[..., str | None]] = {}
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


def check(exercise: str, attempt: Any, *args: Any, quiet: bool = False, **kwargs: Any) -> CheckResult:
    """Check ``attempt`` for ``exercise`` ("N.k"), print the verdict (unless ``quiet``) and return it.

    Extra arguments go to the checker (an exercise's text says when it takes any). An error
    raised *by the attempt itself* while it is being checked is reported as a failed attempt,
    with the error's last line, not as a crash of the checker.
    """
    if not isinstance(exercise, str) or not _EXERCISE_ID.match(exercise):
        raise ValueError(f"exercise ids look like '3.2' (a string), got {exercise!r}")
    _load_all()
    if exercise not in _CHECKERS:
        known = ", ".join(exercises()) or "none"
        raise KeyError(f"exercise {exercise} has no checker (exercises with one: {known})")
    try:
        message = _CHECKERS[exercise](attempt, *args, **kwargs)
        result = CheckResult(exercise, True, message or "")
    except Hint as hint:
        result = CheckResult(exercise, False, str(hint))
    except Exception as err:  # the reader's code failed while being checked
        last = traceback.format_exception_only(type(err), err)[-1].strip()
        result = CheckResult(exercise, False, f"your attempt raised an error while being checked: {last}")
    if not quiet:
        print(result)
    return result
