"""Diagrams of chapter 02 (blocks): a pre-LN and a post-LN block side by side, and the whole GPT
as one residual stream that every sublayer reads from and adds to.

Sizes are the chapter's own: the blocks are compared on x of shape (B, T, C) = (2, 5, 8) with an
MLP of width 4C = 32; the whole model is gpt-nano as the chapter builds it (V = 10, T = 16,
C = 48, L = 3 blocks of H = 3 heads). Block colours are VARIANT_COLORS, the same as in chapter 06.
"""

from __future__ import annotations

from matplotlib.patches import Circle

from draw import COLORS, VARIANT_COLORS, arrow, box, canvas, label


def _plus(ax, x, y, color="residual", r=0.32):
    """A summing node: a circle with a plus sign, at (x, y)."""
    ax.add_patch(Circle((x, y), r, facecolor="white", edgecolor=COLORS.get(color, color), linewidth=1.6, zorder=3))
    ax.text(x, y - 0.02, "+", ha="center", va="center", fontsize=11, color=COLORS.get(color, color), zorder=4)


def _line(ax, points, color="residual", lw=2.2, zorder=1):
    xs, ys = zip(*points)
    ax.plot(xs, ys, color=COLORS.get(color, color), linewidth=lw, solid_capstyle="round", zorder=zorder)


def _block(ax, x0, variant):
    """One block, the stream running up at x = x0 + 2; sublayers on a branch to the right."""
    xs, xb = x0 + 2.0, x0 + 6.2  # stream and branch columns
    red = "residual"
    edge = VARIANT_COLORS[variant]
    title = {"pre": "pre-LN (GPT-2, minGPT)", "post": "post-LN (2017 Transformer)"}[variant]
    box(ax, x0 + 0.3, 13.2, 8.2, 0.9, title, color=edge, fontsize=10)
    label(ax, xs, 0.45, "x  (B, T, C) = (2, 5, 8)", fontsize=8.5)
    label(ax, xs, 12.55, "out  (2, 5, 8)", fontsize=8.5)

    def sublayer(y_fork, y_add, name, norm_on_branch):
        _line(ax, [(xs, y_fork), (xb, y_fork)], color=red, lw=1.4)
        y = y_fork + 0.6
        if norm_on_branch:
            box(ax, xb - 1.5, y, 3.0, 0.8, norm_on_branch, color="norm", fontsize=9)
            _line(ax, [(xb, y_fork), (xb, y)], color=red, lw=1.4)
            arrow(ax, (xb, y + 0.8), (xb, y + 1.35))
            y += 1.4
        else:
            arrow(ax, (xb, y_fork), (xb, y))
        color = "attention" if name.startswith("attention") else "mlp"
        box(ax, xb - 1.9, y, 3.8, 1.2, name, color=color, fontsize=8.5)
        _line(ax, [(xb, y + 1.2), (xb, y_add)], color="text", lw=1.2)
        arrow(ax, (xb, y_add), (xs + 0.35, y_add))
        _plus(ax, xs, y_add)
        return y_add

    if variant == "pre":
        _line(ax, [(xs, 0.9), (xs, 12.1)])
        sublayer(1.6, 5.4, "attention\n(2,5,8) → (2,5,8)", "LN1")
        sublayer(6.6, 10.4, "MLP 8 → 32 → 8\n(GELU between)", "LN2")
        label(ax, xs - 0.45, 8.0, "the stream is\nnever normalised\ninside a block", fontsize=7.5, ha="right")
    else:
        _line(ax, [(xs, 0.9), (xs, 12.1)])
        sublayer(1.6, 4.0, "attention\n(2,5,8) → (2,5,8)", None)
        box(ax, xs - 1.0, 4.7, 2.0, 0.8, "LN1", color="norm", fontsize=9)
        sublayer(6.2, 8.6, "MLP 8 → 32 → 8\n(GELU between)", None)
        box(ax, xs - 1.0, 9.3, 2.0, 0.8, "LN2", color="norm", fontsize=9)
        label(ax, xs - 1.15, 7.4, "every addition\nis followed by\na LayerNorm\non the stream", fontsize=7.5,
              ha="right")


def pre_vs_post():
    """Pre-LN and post-LN blocks with the same four parts; only where the LayerNorms sit differs."""
    fig, ax = canvas(21.5, 14.6)
    _block(ax, 1.6, "pre")
    _block(ax, 12.4, "post")
    label(ax, 10.75, 7.0, "same\nweights,\ndifferent\nwiring", fontsize=8.5, color="#555555")
    return fig


def residual_stream():
    """gpt-nano as one stream: embeddings in, 3 blocks each reading through a LayerNorm and adding, final LN, head.

    Drawn bottom to top, like the stream in the chapter's text, so that the figure is narrower
    than the book's text column and its labels stay legible there."""
    fig, ax = canvas(14.0, 24.2, scale=0.42)
    S = 3.2  # the stream's column
    label(ax, S, 0.6, "token ids (B, T) = (2, 16)", fontsize=8.5)
    arrow(ax, (S, 1.05), (S, 1.7))
    box(ax, S - 1.9, 1.75, 3.8, 1.2, "token emb.\n(V, C) = (10, 48)", color="data", fontsize=8)
    box(ax, 7.2, 3.3, 3.8, 1.2, "position emb.\n(T, C) = (16, 48)", color="data", fontsize=8)
    arrow(ax, (S, 2.95), (S, 3.55))
    arrow(ax, (7.2, 3.9), (S + 0.35, 3.9))
    _plus(ax, S, 3.9)

    for layer in range(3):  # the blocks' frames first, so the stream is drawn over them
        box(ax, 0.5, 4.8 + 4.9 * layer, 12.8, 4.6, "", color="#FAFAFA", linestyle=":")
    _line(ax, [(S, 4.25), (S, 19.8)], lw=3.0)
    label(ax, S - 1.55, 12.0, "the residual stream (B, T, C) = (2, 16, 48)", fontsize=8.5, rotation=90,
          color=COLORS["residual"])
    for layer in range(3):
        y_block = 4.8 + 4.9 * layer
        label(ax, 13.1, y_block + 0.35, f"block {layer + 1} of L = 3", fontsize=8, ha="right", color="#555555")
        for j, (name, color) in enumerate((("attention, 3 heads", "attention"), ("MLP 48→192→48", "mlp"))):
            y_fork = y_block + 0.6 + 2.1 * j
            _line(ax, [(S, y_fork), (4.6, y_fork)], lw=1.3)
            box(ax, 4.6, y_fork - 0.35, 1.2, 0.7, "LN", color="norm", fontsize=8)
            arrow(ax, (5.8, y_fork), (6.5, y_fork))
            box(ax, 6.5, y_fork - 0.55, 3.6, 1.1, name, color=color, fontsize=8)
            arrow(ax, (8.3, y_fork + 0.55), (S + 0.33, y_fork + 1.4), color="text")
            _plus(ax, S, y_fork + 1.45)

    box(ax, S - 0.9, 19.8, 1.8, 0.8, "final LN", color="norm", fontsize=8)
    arrow(ax, (S, 20.6), (S, 21.1))
    box(ax, S - 1.4, 21.15, 2.8, 1.2, "head\n(C, V) = (48, 10)", color="neutral", fontsize=8)
    arrow(ax, (S, 22.35), (S, 22.9))
    label(ax, S, 23.5, "logits (2, 16, 10)", fontsize=8.5)
    label(ax, 5.6, 21.6, "Every sublayer reads a LayerNorm'd copy\nof the stream and adds its result back;\n"
          "nothing overwrites the stream, so the\ninput reaches the head along a plain sum.", fontsize=8.5,
          ha="left")
    return fig


FIGURES = {
    "02_pre_vs_post.svg": pre_vs_post,
    "02_residual_stream.svg": residual_stream,
}
