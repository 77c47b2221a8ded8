"""argparse types the lab's command lines share, built on the configs' own field rules.

A value is read with a :class:`~mingpt_lite.config.FieldRule` (the rule a config field checks
its values with), so a flag and the config field it sets accept exactly the same values, and a
number that cannot work is a one-line usage error: argparse turns the rule's message into
``error: argument --iters: must be an integer >= 1, got -5`` with exit status 2.

``type=from_rule(rule)`` reads one value; ``positive()`` and ``positive(float)`` are the common
rules (a whole number >= 1, a number > 0); ``int_list(minimum)`` reads comma-separated whole
numbers, each at least ``minimum``.
"""

from __future__ import annotations

import argparse
from typing import Callable

from mingpt_lite.config import FieldRule, IntegerRule, NumberRule


def from_rule(rule: FieldRule) -> Callable[[str], object]:
    """An argparse ``type`` that reads a value with ``rule`` (so a bad value is one line naming the flag)."""

    def parse(text: str):
        try:
            return rule.parse(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    parse.__name__ = rule.what  # argparse names the type in some messages
    return parse


def positive(kind: type = int) -> Callable[[str], int | float]:
    """An argparse type: a whole number >= 1 (``int``), or a finite number > 0 (``float``)."""
    return from_rule(IntegerRule(1) if kind is int else NumberRule(0, low_open=True))


def int_list(minimum: int = 0) -> Callable[[str], list[int]]:
    """An argparse type: comma-separated whole numbers, each at least ``minimum``."""
    rule = IntegerRule(minimum)

    def parse(text: str) -> list[int]:
        parts = [part.strip() for part in text.split(",") if part.strip()]
        if not parts:
            raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers, got {text!r}")
        try:
            return [rule.parse(part) for part in parts]
        except ValueError as err:
            raise argparse.ArgumentTypeError(f"{err} (in {text!r})") from None

    parse.__name__ = "list of whole numbers"
    return parse
