"""Diagrams of chapter 01 (attention): the weighted average with its q, k, v and their shapes,
the causal mask, and the head split (B, T, C) -> (B, H, T, D) and back.

Sizes are the chapter's own: T = 6 positions, C = 8 channels, D = 4 (one head's width), and for
the heads B = 2, H = 2, D = C / H = 4. The numbers written in the matrices are made up for the
picture (a fixed seed), not taken from the chapter's run.
"""

from __future__ import annotations

import numpy as np
from matplotlib.colors import to_hex, to_rgb

from draw import COLORS, arrow, box, canvas, label, matrix, stack

T, C, D = 6, 8, 4
B, H = 2, 2
HEAD_COLORS = ("#A9C4E4", "#F3C69F")  # head 0, head 1 (light, so the text on them stays legible)


def _tint(color: str, strength: float) -> str:
    """``color`` mixed with white: strength 0 is white, 1 is the colour itself."""
    r, g, b = to_rgb(COLORS.get(color, color))
    s = float(np.clip(strength, 0.0, 1.0))
    return to_hex((1 - s + s * r, 1 - s + s * g, 1 - s + s * b))


def _example_weights(causal: bool) -> tuple[np.ndarray, np.ndarray]:
    """Scores and softmax weights of a small made-up example, (T, T) each."""
    rng = np.random.default_rng(3)
    scores = rng.normal(0.0, 1.0, (T, T))
    if causal:
        scores = np.where(np.tril(np.ones((T, T), dtype=bool)), scores, -np.inf)
    weights = np.exp(scores - scores.max(axis=1, keepdims=True))
    weights /= weights.sum(axis=1, keepdims=True)
    return scores, weights


def weighted_average():
    """x (T, C) -> q, k, v (T, D) -> scores (T, T) -> softmax per row -> weights (T, T) -> y = weights @ v."""
    fig, ax = canvas(36.0, 15.0)
    top = 13.0  # top edge of scores, weights and y
    big = 0.75  # cell size of the (T, T) matrices

    # x and its three projections
    matrix(ax, 0.8, 10.6, shape=(T, C), color=_tint("data", 0.55), cell=0.5,
           title="x  (T=6, C=8)", title_fontsize=9)
    label(ax, 2.8, 6.9, "one row per position", fontsize=8)
    for role, text, y_top in [("query", "q = x W_q", 14.0), ("key", "k = x W_k", 9.4), ("value", "v = x W_v", 4.8)]:
        arrow(ax, (4.9, 9.1), (8.2, y_top - 1.0), color="text")
        matrix(ax, 8.4, y_top - 0.2, shape=(T, D), color=_tint(role, 0.55), cell=0.45)
        label(ax, 9.3, y_top + 0.25, text, fontsize=8.5)
        label(ax, 10.4, y_top - 1.55, "(6, 4)", fontsize=8, ha="left")
    label(ax, 5.5, 0.9, "W_q, W_k, W_v: (C, D) = (8, 4)", fontsize=8)

    # scores = q k^T / sqrt(D)
    scores, weights = _example_weights(causal=False)
    matrix(ax, 13.4, top, values=np.round(scores, 1).tolist(), color=_tint("weights", 0.15), cell=big,
           fontsize=6.5, title="scores = q kᵀ / √D   (6, 6)", title_fontsize=9,
           row_labels=[f"t={t}" for t in range(T)])
    arrow(ax, (11.6, 13.0), (13.2, 12.0), color="query")
    arrow(ax, (11.6, 8.6), (13.2, 10.0), color="key")
    label(ax, 15.65, top - 5.0, "row t: q_t · k_s for every s", fontsize=8)

    # softmax along each row
    arrow(ax, (18.1, top - 2.25), (20.3, top - 2.25), text="softmax\nper row", fontsize=8, text_offset=(0, 0.9))
    colors = [[_tint("weights", 0.1 + 0.9 * w / weights.max()) for w in row] for row in weights]
    matrix(ax, 20.5, top, values=np.round(weights, 2).tolist(), colors=colors, cell=big, fontsize=6.5,
           title="weights   (6, 6)", title_fontsize=9)
    label(ax, 22.75, top - 5.0, "each row ≥ 0, sums to 1", fontsize=8)

    # y = weights @ v
    arrow(ax, (25.2, top - 2.25), (28.3, top - 2.25), text="weights @ v", fontsize=8, text_offset=(0, 0.6))
    arrow(ax, (11.6, 3.2), (29.9, top - 4.6), color="value", curve=0.12)
    matrix(ax, 28.5, top, shape=(T, D), color=_tint("value", 0.35), cell=big,
           title="y   (6, 4)", title_fontsize=9)
    label(ax, 31.7, top - 2.25, "y_t = Σ_s w_ts v_s", fontsize=9, ha="left")

    # the one-row story
    label(ax, 24.0, 3.1, "Each output row is a weighted average of the value rows:", fontsize=9)
    label(ax, 24.0, 2.1, "position t asks with q_t, every position s answers with k_s,", fontsize=9)
    label(ax, 24.0, 1.1, "and the better q_t · k_s, the more of v_s ends up in y_t.", fontsize=9)
    return fig


def causal_mask():
    """The scores, the mask (-inf above the diagonal) and the weights it leaves: zeros above the diagonal."""
    fig, ax = canvas(27.0, 10.8)
    top = 8.8
    scores, _ = _example_weights(causal=False)
    _, weights = _example_weights(causal=True)
    allowed = np.tril(np.ones((T, T), dtype=bool))

    cols = [f"s={s}" for s in range(T)]
    rows = [f"t={t}" for t in range(T)]
    matrix(ax, 1.6, top, values=np.round(scores, 1).tolist(), color=_tint("weights", 0.15), cell=0.75,
           fontsize=6.5, row_labels=rows, col_labels=cols, title="scores  (T, T) = (6, 6)")
    arrow(ax, (6.3, top - 2.25), (8.7, top - 2.25), text="mask", fontsize=8, text_offset=(0, 0.55))

    masked = [[f"{scores[t, s]:.1f}" if allowed[t, s] else "-∞" for s in range(T)] for t in range(T)]
    mask_colors = [[_tint("weights", 0.15) if allowed[t, s] else COLORS["masked"] for s in range(T)] for t in range(T)]
    matrix(ax, 9.4, top, values=masked, colors=mask_colors, cell=0.75, fontsize=6.5, col_labels=cols,
           title="s > t set to -∞")
    arrow(ax, (14.1, top - 2.25), (16.5, top - 2.25), text="softmax\nper row", fontsize=8, text_offset=(0, 0.75))

    shown = [[f"{weights[t, s]:.2f}" if allowed[t, s] else "0" for s in range(T)] for t in range(T)]
    weight_colors = [[_tint("weights", 0.1 + 0.9 * weights[t, s]) if allowed[t, s] else COLORS["masked"]
                      for s in range(T)] for t in range(T)]
    matrix(ax, 17.2, top, values=shown, colors=weight_colors, cell=0.75, fontsize=6.5, col_labels=cols,
           title="weights: exactly 0 above the diagonal")
    label(ax, 24.0, top - 0.4, "row 0: only itself", fontsize=8, ha="left")
    label(ax, 24.0, top - 4.15, "row 5: all six", fontsize=8, ha="left")
    for y in (top - 0.4, top - 4.15):
        arrow(ax, (23.9, y), (21.85, y), color="text", linewidth=0.9)

    label(ax, 13.5, 2.2, "Query t may look at keys s ≤ t only. e^(-∞) = 0, so the masked weights are exactly zero,",
          fontsize=9)
    label(ax, 13.5, 1.2, "and the rest of each row is renormalised to sum to 1: the same as a loop over s ≤ t.",
          fontsize=9)
    return fig


def head_split():
    """(B, T, C) -> view (B, T, H, D) -> transpose (B, H, T, D): heads become a batch dimension; then back.

    Two rows (split, then attend and merge back) so that the figure is about as wide as the book's
    text column and its labels stay legible there."""
    fig, ax = canvas(19.6, 16.8, scale=0.4)
    cell = 0.5
    top, top2 = 14.6, 5.8  # the rows' grids start here

    def channels_by_head(x0, y_top, title, depth_note):
        """A (T, C) grid with head 0's channels in one colour and head 1's in the other, plus a batch pile."""
        for b in reversed(range(B)):
            off = 0.35 * b
            colors = [[HEAD_COLORS[c // D] for c in range(C)] for _ in range(T)]
            matrix(ax, x0 + off, y_top + off, shape=(T, C), colors=colors if b == 0 else None,
                   color="#EEEEEE", cell=cell)
        label(ax, x0 + C * cell / 2, y_top + 1.5, title, fontsize=9)
        label(ax, x0 + C * cell / 2, y_top - T * cell - 0.6, depth_note, fontsize=8)
        label(ax, x0 + 1.0, y_top - T * cell - 1.35, "channels 0-3", fontsize=7.5, color="#3B6EA5")
        label(ax, x0 + 3.0, y_top - T * cell - 1.35, "4-7", fontsize=7.5, color="#B86A22")

    def per_head(x0, y_top, step, color_of, names=False):
        """H separate (T, D) grids per sequence, each with its batch pile."""
        for h in range(H):
            for b in reversed(range(B)):
                off = 0.35 * b
                matrix(ax, x0 + h * step + off, y_top + off, shape=(T, D), color=color_of(h) if b == 0 else "#EEEEEE",
                       cell=cell)
            if names:
                label(ax, x0 + h * step + 1.0, y_top - 1.5, f"y{h}", fontsize=9)

    # row 1: split
    channels_by_head(1.2, top, "x  (B, T, C) = (2, 6, 8)", "B=2 (the pile), T=6 rows, C=8")
    arrow(ax, (6.0, top - 1.5), (10.6, top - 1.5), text=".view(B, T, H, D)\n.transpose(1, 2)", fontsize=8,
          text_offset=(0, 1.0))
    x0 = 11.2
    per_head(x0, top, 3.6, lambda h: HEAD_COLORS[h])
    for h in range(H):
        label(ax, x0 + h * 3.6 + 1.0, top - T * cell - 0.5, f"head {h}", fontsize=8.5)
    label(ax, x0 + 3.2, top + 1.5, "(B, H, T, D) = (2, 2, 6, 4)", fontsize=9)
    label(ax, x0 + 3.2, top - T * cell - 1.35, "B·H = 4 independent (T, D) problems", fontsize=8)

    # down: attention per head
    arrow(ax, (x0 + 3.2, top - T * cell - 1.85), (x0 + 3.2, top2 + 2.0), text="attend (q, k, v per head)",
          fontsize=8, text_offset=(2.6, 0))

    # row 2: merge back, right to left
    x1 = 11.6
    per_head(x1, top2, 3.0, lambda h: _tint(HEAD_COLORS[h], 1.0), names=True)
    label(ax, x1 + 2.5, top2 + 1.5, "y per head (2, 2, 6, 4)", fontsize=9)
    arrow(ax, (10.9, top2 - 1.5), (6.3, top2 - 1.5), text=".transpose(1, 2)\n.reshape(B, T, C)", fontsize=8,
          text_offset=(0, 1.0))
    channels_by_head(1.2, top2, "y  (B, T, C) = (2, 6, 8)", "heads side by side again")

    label(ax, 9.8, 0.45, "No arithmetic: view and transpose only relabel the axes. Each head owns\n"
          "D = C / H = 4 of the channels, and merging undoes the split exactly.", fontsize=8.5)
    return fig


FIGURES = {
    "01_attention_weighted_average.svg": weighted_average,
    "01_causal_mask.svg": causal_mask,
    "01_head_split.svg": head_split,
}
