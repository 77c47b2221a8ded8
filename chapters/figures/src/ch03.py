"""Chapter 03's diagram: the residual stream of the chapter's 24-layer GPT, and where the
1/sqrt(2·n_layer) scaling of the residual projections enters."""

from __future__ import annotations

from matplotlib.patches import Circle

from draw import COLORS, arrow, box, canvas, label

N_LAYER = 24                    # the chapter's example model: n_layer=24, n_embd=128, (B, T) = (8, 64)
N_ADD = 2 * N_LAYER
STD = 0.02 / (2 * N_LAYER) ** 0.5
STREAM_Y = 5.0


def _plus(ax, x: float, y: float, number: int) -> None:
    """An addition into the stream (a circled +), numbered above-left."""
    ax.add_patch(Circle((x, y), 0.38, facecolor="white", edgecolor=COLORS["residual"], linewidth=1.6, zorder=3))
    label(ax, x, y, "+", fontsize=13, color="residual", zorder=4)
    label(ax, x - 0.35, y + 0.75, f"#{number}", fontsize=8, color="residual", ha="right")


BLOCK_W = 11.8
ROW = 10.6   # the height of one row; block 1 is drawn one row above block 24


def _block(ax, x0: float, title: str, first: int, oy: float = 0.0) -> float:
    """One pre-LN block from x0 (its row raised by oy): attention branch above the stream, MLP branch
    below, each ending in a residual projection whose output is added to the stream. Returns the x
    where the block ends."""
    stream = STREAM_Y + oy
    box(ax, x0, 0.5 + oy, BLOCK_W, 9.0, color="white", linestyle="--", alpha=0.9)
    label(ax, x0 + BLOCK_W / 2, 9.1 + oy, title, fontsize=9)
    # attention branch, above the stream
    arrow(ax, (x0 + 0.7, stream), (x0 + 0.7, 6.6 + oy))
    box(ax, x0 + 0.2, 6.6 + oy, 3.0, 1.8, "LN →\nattention", color="attention", fontsize=8)
    arrow(ax, (x0 + 3.2, 7.5 + oy), (x0 + 3.6, 7.5 + oy))
    box(ax, x0 + 3.6, 6.6 + oy, 3.0, 1.8, f"residual_proj\nstd {STD:.4f}", color="residual", fontsize=8)
    arrow(ax, (x0 + 5.1, 6.6 + oy), (x0 + 5.1, stream + 0.4), color="residual")
    _plus(ax, x0 + 5.1, stream, first)
    # MLP branch, below the stream
    arrow(ax, (x0 + 5.9, stream), (x0 + 5.9, 3.3 + oy))
    box(ax, x0 + 5.4, 1.5 + oy, 2.6, 1.8, "LN →\nMLP", color="mlp", fontsize=8)
    arrow(ax, (x0 + 8.0, 2.4 + oy), (x0 + 8.4, 2.4 + oy))
    box(ax, x0 + 8.4, 1.5 + oy, 3.0, 1.8, f"residual_proj\nstd {STD:.4f}", color="residual", fontsize=8)
    arrow(ax, (x0 + 9.9, 3.3 + oy), (x0 + 9.9, stream - 0.4), color="residual")
    _plus(ax, x0 + 9.9, stream, first + 1)
    return x0 + BLOCK_W


def residual_stream():
    # Two rows (block 1 above, block 24 below) so that the figure is about as wide as the book's
    # text column and its labels stay legible there.
    width = 0.2 + 3.6 + 0.8 + BLOCK_W + 0.8 + 3.2 + 0.4
    fig, ax = canvas(width, 2 * ROW + 2.6, scale=0.4)
    mid = width / 2
    top = 2 * ROW
    label(ax, mid, top + 1.9, f"The residual stream of the chapter's GPT: n_layer = {N_LAYER},\n"
          f"so 2 · n_layer = {N_ADD} branch outputs are added to it", fontsize=11)
    label(ax, mid, top + 0.6, "(B, T, C) = (8, 64, 128) all along the stream; nothing on it is normalised until "
          "the final LN", fontsize=8.5)
    # row 1: the embeddings and block 1
    box(ax, 0.2, 3.9 + ROW, 3.6, 2.2, "token +\nposition\nembedding", color="data", fontsize=8)
    label(ax, 2.0, 3.4 + ROW, "std 0.02 each", fontsize=8)
    end1 = _block(ax, 4.6, "block 1", 1, oy=ROW)
    arrow(ax, (3.8, STREAM_Y + ROW), (end1 + 0.6, STREAM_Y + ROW), color="residual", linewidth=2.4)
    ax.plot([end1 + 0.6, width - 0.3], [STREAM_Y + ROW] * 2, color=COLORS["residual"], lw=2.4, ls=":")
    label(ax, end1 + 2.2, STREAM_Y + ROW + 1.5, "blocks\n2 … 23", fontsize=9)
    label(ax, end1 + 2.2, STREAM_Y + ROW - 1.5, "additions\n#3 … #46", fontsize=8, color="residual")
    # row 2: block 24 and the head
    ax.plot([0.3, 4.0], [STREAM_Y] * 2, color=COLORS["residual"], lw=2.4, ls=":")
    label(ax, 2.0, STREAM_Y + 1.0, "… from block 23", fontsize=8)
    end24 = _block(ax, 4.6, f"block {N_LAYER}", N_ADD - 1)
    arrow(ax, (4.0, STREAM_Y), (end24 + 0.8, STREAM_Y), color="residual", linewidth=2.4)
    box(ax, end24 + 0.8, 3.9, 3.2, 2.2, "final LN\n→ lm_head", color="norm", fontsize=8)
    label(ax, mid, -0.5, f"residual_proj = the last Linear of each branch, drawn from N(0, 0.02 / √(2·{N_LAYER})) = "
          f"N(0, {STD:.4f});\nevery other Linear and Embedding weight: N(0, 0.02)", fontsize=8.5)
    label(ax, mid, -1.9, f"var(stream after block k) ≈ var(embedding) + sum of the 2k branch variances;\n"
          f"with the scaling the {N_ADD} terms together add the same amount at any depth", fontsize=8.5)
    ax.set_ylim(-2.7, 2 * ROW + 2.6)
    return fig


FIGURES = {"03_residual_stream.svg": residual_stream}
