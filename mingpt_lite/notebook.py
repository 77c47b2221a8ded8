"""Helpers for the book's chapters, so no chapter repeats set-up code in its cells.

``device = start_chapter(seed)`` seeds everything, picks the device, asks
matplotlib for PNG figures (SVG output differs on every run and would break the
notebook regression tests) and prints what the chapter runs on. ``spread(values)``
prints the range a claim covers over repeated runs (chapters 05, 06 and 09).
"""

from __future__ import annotations

import os
import platform

import torch

from .device import describe_device, pick_device, seed_everything

SIZE_ENV = "MINGPT_BOOK_SIZE"
SIZES = ("small", "full")


def book_size() -> str:
    """``"small"`` (the default: what the committed notebooks were run with, fits a 2-core CPU)
    or ``"full"`` (bigger experiments for readers with a GPU), from ``$MINGPT_BOOK_SIZE``."""
    size = os.environ.get(SIZE_ENV, "small") or "small"
    if size not in SIZES:
        raise ValueError(f"${SIZE_ENV} must be one of {SIZES}, got {size!r}")
    return size


def _use_png_figures() -> None:
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    try:
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:
        return
    set_matplotlib_formats("png")


def start_chapter(seed: int = 0, device: str | None = None, verbose: bool = True) -> torch.device:
    """Seed every RNG with ``seed``, choose the device (see :func:`pick_device`) and return it."""
    seed_everything(seed)
    chosen = pick_device(device)
    _use_png_figures()
    if verbose:
        print(f"device: {describe_device(chosen)}")
        print(f"torch {torch.__version__}, python {platform.python_version()}, book size: {book_size()}")
    return chosen


def spread(values, fmt: str = ".3g", *, count: bool = False, empty: str | None = None) -> str:
    """Summarise repeated runs as ``"lo to hi"``, each end formatted with ``fmt``.

    The chapters report what *every* committed run shows, so they print the range over runs
    rather than one run's number or a mean that hides the worst case. ``count=True`` appends
    ``" (n runs)"`` so the reader sees how many runs the range covers. ``empty`` is returned
    for no values (e.g. ``"never"`` when no run reached a threshold); without it, no values
    is an error, because a range over nothing usually means a filter went wrong.
    """
    values = list(values)
    if not values:
        if empty is not None:
            return empty
        raise ValueError("spread() needs at least one value; got an empty sequence (pass empty=... if that can happen)")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        raise TypeError("spread() takes plain numbers; convert tensors with .item() or float() first")
    text = f"{format(min(values), fmt)} to {format(max(values), fmt)}"
    return f"{text} ({len(values)} runs)" if count else text
