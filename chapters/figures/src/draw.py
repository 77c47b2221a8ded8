"""A small drawing kit for the book's explanatory diagrams, on matplotlib.

Each ``chNN.py`` beside this file defines ``FIGURES = {"NN_name.svg": function}``; each function
returns a matplotlib ``Figure`` drawn with the pieces below. ``tools/diagrams.py`` draws them all
into ``chapters/figures/`` and records in ``manifest.json`` which source drew which file, so a test
can tell when a committed diagram is older than its source.

Coordinates are in "cells": one unit is the side of one square of a matrix, so a (T, T) attention
matrix drawn with ``matrix`` is T units wide. Text is turned into paths in the SVG (matplotlib's
default ``svg.fonttype = "path"``), so a diagram looks the same on every reader's machine.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle  # noqa: E402

# One colour per idea, the same in every diagram of the book.
COLORS = {
    "query": "#4C72B0",
    "key": "#DD8452",
    "value": "#55A868",
    "weights": "#8172B3",
    "masked": "#D9D9D9",
    "residual": "#C44E52",
    "norm": "#937860",
    "attention": "#4C72B0",
    "mlp": "#55A868",
    "data": "#64B5CD",
    "ignored": "#BBBBBB",
    "cache": "#DA8BC3",
    "new": "#CCB974",
    "neutral": "#F2F2F2",
    "text": "#222222",
}
# The three block wirings of chapters 02 and 06, one colour each everywhere (plots too).
VARIANT_COLORS = {"pre": "#4C72B0", "post": "#DD8452", "notes-bug": "#C44E52"}


def canvas(width: float, height: float, scale: float = 0.45) -> tuple[plt.Figure, plt.Axes]:
    """A blank figure whose data coordinates run from (0, 0) to (width, height) cells,
    ``scale`` inches per cell, with the y axis pointing up and no axes drawn."""
    fig = plt.figure(figsize=(width * scale, height * scale))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_aspect("equal")
    ax.axis("off")
    return fig, ax


def box(ax: plt.Axes, x: float, y: float, w: float, h: float, text: str = "", color: str = "neutral",
        fontsize: float = 10, textcolor: str | None = None, rounded: bool = True, alpha: float = 1.0,
        linestyle: str = "-", **text_kw) -> FancyBboxPatch:
    """A labelled box with its lower-left corner at (x, y). ``color`` is a key of COLORS or any
    matplotlib colour."""
    face = COLORS.get(color, color)
    style = "round,pad=0.02,rounding_size=0.15" if rounded else "square,pad=0"
    patch = FancyBboxPatch((x, y), w, h, boxstyle=style, facecolor=face, edgecolor="#333333",
                           linewidth=1.0, alpha=alpha, linestyle=linestyle)
    ax.add_patch(patch)
    if text:
        dark = face.lower() not in ("#f2f2f2", "#d9d9d9", "#ffffff", "white", "#bbbbbb", "#ccb974")
        ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=fontsize,
                color=textcolor or ("white" if dark else COLORS["text"]), **text_kw)
    return patch


def arrow(ax: plt.Axes, start: tuple[float, float], end: tuple[float, float], text: str = "",
          color: str = "text", fontsize: float = 9, curve: float = 0.0, linestyle: str = "-",
          text_offset: tuple[float, float] = (0.0, 0.0), linewidth: float = 1.3) -> FancyArrowPatch:
    """An arrow from ``start`` to ``end``, optionally curved (``curve`` is the arc's bend) and
    labelled at its middle."""
    patch = FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=12, linewidth=linewidth,
                            color=COLORS.get(color, color), linestyle=linestyle,
                            connectionstyle=f"arc3,rad={curve}", shrinkA=2, shrinkB=2)
    ax.add_patch(patch)
    if text:
        mx, my = (start[0] + end[0]) / 2 + text_offset[0], (start[1] + end[1]) / 2 + text_offset[1]
        ax.text(mx, my, text, ha="center", va="center", fontsize=fontsize, color=COLORS["text"],
                bbox=dict(facecolor="white", edgecolor="none", pad=1.0))
    return patch


def label(ax: plt.Axes, x: float, y: float, text: str, fontsize: float = 10, ha: str = "center",
          va: str = "center", color: str = "text", **kw) -> None:
    """Free text at (x, y)."""
    ax.text(x, y, text, ha=ha, va=va, fontsize=fontsize, color=COLORS.get(color, color), **kw)


def matrix(ax: plt.Axes, x: float, y: float, values: Sequence[Sequence[object]] | None = None,
           shape: tuple[int, int] | None = None, colors: Sequence[Sequence[str]] | None = None,
           color: str = "neutral", cell: float = 1.0, fontsize: float = 8, fmt: str = "{}",
           row_labels: Iterable[str] | None = None, col_labels: Iterable[str] | None = None,
           title: str = "", title_fontsize: float = 10) -> tuple[float, float]:
    """A grid of cells with its *top*-left corner at (x, y), row 0 at the top (as a matrix is
    printed). ``values`` are written in the cells (None leaves a cell blank); ``colors`` colours
    each cell (else every cell gets ``color``). Returns the grid's (width, height)."""
    if values is not None:
        rows, cols = len(values), len(values[0])
    elif shape is not None:
        rows, cols = shape
    else:
        raise ValueError("matrix needs values or shape")
    for r in range(rows):
        for c in range(cols):
            face = colors[r][c] if colors is not None else color
            ax.add_patch(Rectangle((x + c * cell, y - (r + 1) * cell), cell, cell,
                                   facecolor=COLORS.get(face, face), edgecolor="#555555", linewidth=0.6))
            if values is not None and values[r][c] is not None:
                ax.text(x + (c + 0.5) * cell, y - (r + 0.5) * cell, fmt.format(values[r][c]),
                        ha="center", va="center", fontsize=fontsize, color=COLORS["text"])
    if row_labels is not None:
        for r, text in enumerate(row_labels):
            ax.text(x - 0.15 * cell, y - (r + 0.5) * cell, text, ha="right", va="center", fontsize=fontsize)
    if col_labels is not None:
        for c, text in enumerate(col_labels):
            ax.text(x + (c + 0.5) * cell, y + 0.15 * cell, text, ha="center", va="bottom", fontsize=fontsize)
    if title:
        offset = 0.75 * cell if col_labels is not None else 0.35 * cell
        ax.text(x + cols * cell / 2, y + offset, title, ha="center", va="bottom", fontsize=title_fontsize)
    return cols * cell, rows * cell


def stack(ax: plt.Axes, x: float, y: float, w: float, h: float, depth: int, text: str = "",
          color: str = "neutral", offset: float = 0.25, fontsize: float = 9) -> None:
    """``depth`` boxes behind each other, drawn as a pile: a 3-D tensor such as (B, T, C)
    or one head of (B, H, T, D) per layer of the pile. (x, y) is the front box's lower left."""
    for i in reversed(range(depth)):
        box(ax, x + i * offset, y + i * offset, w, h, text if i == 0 else "", color=color,
            rounded=False, fontsize=fontsize)
