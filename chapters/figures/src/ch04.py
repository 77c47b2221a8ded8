"""Chapter 04's diagram: how one sort problem becomes the model's input x and target y
(shifted by one), and which targets are masked with -1."""

from __future__ import annotations

from matplotlib.patches import Rectangle

from draw import COLORS, canvas, label, matrix

LENGTH = 6                               # the chapter's task: 6 digits from {0, 1, 2}
PROBLEM = [2, 0, 1, 0, 2, 1]             # an example problem
ANSWER = sorted(PROBLEM)
SEQUENCE = PROBLEM + ANSWER              # 2 · LENGTH = 12 tokens
T = 2 * LENGTH - 1                       # block_size 11


def _color(index: int) -> str:
    """Problem digits in the data colour, answer digits in the 'new' colour."""
    return "data" if index < LENGTH else "new"


def sort_alignment():
    fig, ax = canvas(19.5, 11.2, scale=0.5)
    x0 = 3.2
    label(ax, 9.8, 10.7, f"One sort example: problem and answer concatenated, shifted by one, first {LENGTH - 1} "
          "targets masked", fontsize=10)
    # the whole sequence: 12 tokens, positions 0 .. 11
    matrix(ax, x0, 9.0, values=[SEQUENCE], colors=[[_color(i) for i in range(2 * LENGTH)]],
           col_labels=[str(i) for i in range(2 * LENGTH)], fontsize=9)
    label(ax, x0 - 0.3, 8.5, "sequence", ha="right", fontsize=9)
    label(ax, x0 + LENGTH / 2, 7.55, f"problem ({LENGTH} digits)", fontsize=8)
    label(ax, x0 + LENGTH + LENGTH / 2, 7.55, "sorted answer", fontsize=8)
    # x: every token but the last
    matrix(ax, x0, 6.4, values=[SEQUENCE[:-1]], colors=[[_color(i) for i in range(T)]], fontsize=9)
    label(ax, x0 - 0.3, 5.9, "x = seq[:-1]", ha="right", fontsize=9)
    # y: every token but the first, aligned with x by position t; the first LENGTH - 1 are -1
    y_values = ["-1"] * (LENGTH - 1) + SEQUENCE[LENGTH:]
    y_colors = ["ignored"] * (LENGTH - 1) + ["new"] * LENGTH
    matrix(ax, x0, 4.6, values=[y_values], colors=[y_colors], fontsize=9)
    label(ax, x0 - 0.3, 4.1, "y = seq[1:]", ha="right", fontsize=9)
    for t in range(T):
        label(ax, x0 + t + 0.5, 3.25, str(t), fontsize=8)
    label(ax, x0 - 0.3, 3.25, "position t", ha="right", fontsize=8)
    # what each row is, on the right
    label(ax, x0 + 2 * LENGTH + 0.4, 8.5, "(2 · length = 12 tokens)", ha="left", fontsize=8)
    label(ax, x0 + T + 0.4, 5.9, "x[t] = seq[t]", ha="left", fontsize=9)
    label(ax, x0 + T + 0.4, 4.1, "y[t] = seq[t + 1]", ha="left", fontsize=9)
    label(ax, x0 + T + 0.4, 3.25, f"T = block_size = {T}", ha="left", fontsize=8)
    # position t = LENGTH - 1 outlined in x and y: the last problem digit read, the first answer digit scored
    ax.add_patch(Rectangle((x0 + LENGTH - 1, 4.6 - 1.0), 1.0, 6.4 - 3.6, fill=False,
                           edgecolor=COLORS["residual"], linewidth=2.0, zorder=5))
    # braces as bars with notes under the target row
    ax.plot([x0 + 0.05, x0 + LENGTH - 1 - 0.05], [2.55, 2.55], color=COLORS["ignored"], lw=3)
    label(ax, x0 + (LENGTH - 1) / 2, 1.85, f"{LENGTH - 1} targets = -1: the next digit of a\nrandom problem; "
          "no loss, no gradient", fontsize=8)
    ax.plot([x0 + LENGTH - 1 + 0.05, x0 + T - 0.05], [2.55, 2.55], color=COLORS["new"], lw=3)
    label(ax, x0 + LENGTH - 1 + LENGTH / 2, 1.85, f"{LENGTH} scored targets: the sorted answer,\n"
          "the loss's mean is over these", fontsize=8)
    label(ax, 9.8, 0.55, f"at position t the model has read x[0..t] and is scored on y[t].  Outlined, t = {LENGTH - 1}: "
          f"it has read the whole problem, and y[{LENGTH - 1}] is the first answer digit", fontsize=8)
    ax.set_xlim(-0.2, 19.5)
    return fig


FIGURES = {"04_sort_alignment.svg": sort_alignment}
