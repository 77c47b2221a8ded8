"""Helpers for the book's chapters, so no chapter repeats set-up code in its cells.

``device = start_chapter(seed)`` seeds everything, picks the device, asks
matplotlib for PNG figures (SVG output differs on every run and would break the
notebook regression tests) and prints what the chapter runs on.
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
