"""argparse types the lab's command lines share: a number that cannot work is a one-line usage error.

``type=positive()`` (a whole number above 0), ``type=positive(float)`` and ``type=int_list(minimum)``
(comma-separated whole numbers, each at least ``minimum``); argparse turns the message into
``error: argument --iters: must be above 0, got -5`` with exit status 2.
"""

from __future__ import annotations

import argparse
from typing import Callable


def positive(kind: type = int) -> Callable[[str], int | float]:
    """An argparse type: a ``kind`` (int or float) above 0."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {'a whole number' if kind is int else 'a number'}, got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
        return value

    parse.__name__ = f"positive {kind.__name__}"  # argparse names the type in some messages
    return parse


def int_list(minimum: int = 0) -> Callable[[str], list[int]]:
    """An argparse type: comma-separated whole numbers, each at least ``minimum``."""
    def parse(text: str) -> list[int]:
        try:
            values = [int(part) for part in text.split(",") if part.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers, got {text!r}") from None
        if not values or min(values) < minimum:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated whole numbers of at least {minimum}, got {text!r}")
        return values

    parse.__name__ = "list of whole numbers"
    return parse
