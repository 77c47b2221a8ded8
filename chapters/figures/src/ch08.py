"""Chapter 08's diagram: what one cell of the grid measures. A sort task of length L over V symbols has
V**L problems, a quarter of them held out; the SolveWatcher scores the model on held-out problems
every 25 steps, starts cooling the learning rate at the first 99%, and calls the task solved at the
first of four 100% evaluations in a row."""

from __future__ import annotations

from draw import COLORS, arrow, box, canvas, label, matrix

L, V = 6, 3
PROBLEM = [2, 0, 1, 0, 2, 1]
# an illustrative evaluation history (every 25 steps)
ACC = [0.41, 0.78, 0.93, 0.992, 1.0, 0.998, 1.0, 1.0, 1.0, 1.0]


def solve_rule():
    # Two panels stacked (the task above, the rule below) so that the figure is about as wide as
    # the book's text column and its labels stay legible there.
    fig, ax = canvas(18.0, 20.6, scale=0.42)
    # --- top: the task and its problem space (drawn 4 cells right, 9.6 up)
    lx, ly0 = 4.0, 9.6
    label(ax, lx + 4.6, ly0 + 10.4, f"one cell: length L = {L}, V = {V} symbols", fontsize=10, fontweight="bold")
    matrix(ax, lx + 0.6, ly0 + 9.3, values=[PROBLEM + sorted(PROBLEM)],
           colors=[["data"] * L + ["new"] * L], cell=0.68, fontsize=8)
    label(ax, lx + 0.6 + 3 * 0.68, ly0 + 8.25, "problem", fontsize=8)
    label(ax, lx + 0.6 + 9 * 0.68, ly0 + 8.25, "answer", fontsize=8)
    label(ax, lx + 4.6, ly0 + 7.35, f"V ** L = {V}**{L} = {V ** L} distinct problems", fontsize=9)
    box(ax, lx + 0.6, ly0 + 5.9, 6.1, 0.8, "train  (3/4, by a fixed hash)", color="data", fontsize=8, rounded=False)
    box(ax, lx + 6.7, ly0 + 5.9, 2.05, 0.8, "test  (1/4)", color="new", fontsize=8, rounded=False)
    label(ax, lx + 4.6, ly0 + 5.1, "V = L = 32 (the notes' gpt-nano limit):", fontsize=8)
    label(ax, lx + 4.6, ly0 + 4.55, "32**32 ≈ 1.5e48 problems: never enumerable,", fontsize=8)
    label(ax, lx + 4.6, ly0 + 4.0, "so the test split is sampled (500 fresh per evaluation)", fontsize=8)
    label(ax, lx + 4.6, ly0 + 2.9, "The grid measures, per (L, V, seed):", fontsize=9)
    label(ax, lx + 4.6, ly0 + 2.3, "steps until the task is solved (or the cap),", fontsize=8.5)
    label(ax, lx + 4.6, ly0 + 1.75, "then checks the verdict by greedy generation", fontsize=8.5)
    # --- bottom: the evaluation timeline
    x0, y0, w = 1.4, 3.0, 1.5
    label(ax, 9.0, 10.4, "the solve rule (SolveWatcher): an evaluation on test problems every 25 steps",
          fontsize=10, fontweight="bold")
    ax.plot([x0 - 0.3, x0 + w * len(ACC) + 0.2], [y0, y0], color="#555555", lw=0.8)
    ax.plot([x0 - 0.3, x0 - 0.3], [y0, y0 + 4.3], color="#555555", lw=0.8)
    label(ax, x0 - 0.5, y0 + 4.0, "100%", ha="right", fontsize=7.5)
    label(ax, x0 - 0.5, y0, "0", ha="right", fontsize=7.5)
    for i, a in enumerate(ACC):
        cx = x0 + w * (i + 0.5)
        perfect = a == 1.0
        streak = i >= 6
        face = COLORS["value"] if perfect and streak else (COLORS["weights"] if perfect else COLORS["ignored"])
        from matplotlib.patches import Rectangle

        ax.add_patch(Rectangle((cx - 0.45, y0), 0.9, 4.0 * a, facecolor=face, edgecolor="#333333", lw=0.6))
        label(ax, cx, y0 + 4.0 * a + 0.3, f"{a:.0%}" if a in (1.0,) or a < 0.99 else f"{a:.1%}", fontsize=7)
        label(ax, cx, y0 - 0.35, f"{25 * (i + 1)}", fontsize=7.5)
    label(ax, x0 + w * len(ACC) + 0.3, y0 - 0.35, "step", fontsize=8, ha="left")
    # learning-rate schedule above the bars
    ly = 8.9
    cool = x0 + w * 3.5
    label(ax, x0 - 0.5, ly, "lr", ha="right", fontsize=8)
    ax.plot([x0, cool], [ly, ly], color=COLORS["residual"], lw=1.8)
    ax.plot([cool, x0 + w * len(ACC)], [ly, ly - 0.9], color=COLORS["residual"], lw=1.8)
    label(ax, x0 + 0.2, ly - 0.45, "peak (after 50 warmup steps)", fontsize=7.5, ha="left")
    ax.plot([cool, cool], [y0 + 4.0, ly], color=COLORS["residual"], lw=0.8, ls=":")
    label(ax, cool + 0.2, ly + 0.75, "first ≥ 99% at step s: cool linearly\nto 2% of the peak over s more steps",
          fontsize=7.5, ha="left")
    # the streak
    s0, s1 = x0 + w * 6, x0 + w * 10
    ax.plot([s0 + 0.1, s1 - 0.1], [y0 - 1.45, y0 - 1.45], color=COLORS["value"], lw=3)
    label(ax, (s0 + s1) / 2, y0 - 1.9, "4 evaluations in a row at 100%: solved", fontsize=8)
    label(ax, s0, y0 - 2.5, "solved_at = 175, the first of the four", fontsize=8, ha="left")
    label(ax, x0 + w * 4.5, y0 - 1.3, "100% once:\nnot solved", fontsize=7.5)
    label(ax, x0 + w * 5.5, y0 - 2.3, "a miss\nresets", fontsize=7.5)
    return fig


FIGURES = {"08_solve_rule.svg": solve_rule}
