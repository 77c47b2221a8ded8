"""Chapter 06's diagram: the three block wirings side by side (pre-LN, post-LN, the notes' block),
drawn from mingpt_lite/blocks.py's Block.forward, with the residual paths in red and the notes'
missing ones crossed out."""

from __future__ import annotations

from draw import COLORS, VARIANT_COLORS, arrow, box, canvas, label

B, T, C = 64, 11, 48             # the chapter's batch, sequence (2 * 6 - 1) and gpt-nano width
BW, BH = 2.4, 0.75               # sublayer box size
PLUS_R = 0.28


def _plus(ax, x, y):
    from matplotlib.patches import Circle

    ax.add_patch(Circle((x, y), PLUS_R, facecolor="white", edgecolor=COLORS["residual"], linewidth=1.5, zorder=4))
    label(ax, x, y, "+", fontsize=12, color="residual", zorder=5)


def _skip(ax, x, y_from, y_to, side=1.75, crossed=False):
    """A residual path: out of the main line at y_from, along the side, into the (+) at y_to."""
    color = COLORS["ignored"] if crossed else COLORS["residual"]
    style = "--" if crossed else "-"
    ax.plot([x, x + side, x + side], [y_from, y_from, y_to], color=color, lw=1.6, ls=style)
    arrow(ax, (x + side, y_to), (x + PLUS_R, y_to), color=color, linestyle=style, linewidth=1.6)


def _cross(ax, x, y, text):
    ax.plot([x - 0.22, x + 0.22], [y - 0.22, y + 0.22], color=COLORS["residual"], lw=2.2)
    ax.plot([x - 0.22, x + 0.22], [y + 0.22, y - 0.22], color=COLORS["residual"], lw=2.2)
    label(ax, x + 0.35, y, text, ha="left", fontsize=7.5, color="residual")


def block_wirings():
    fig, ax = canvas(25.6, 13.2, scale=0.42)
    # y positions are computed by hand so the skip paths start where the stream leaves the main line
    # pre-LN: x -> LN -> attn -> (+ x) -> LN -> MLP -> (+)
    cx = 4.0
    label(ax, cx, 12.6, "pre-LN  (GPT-2, our model)", fontsize=11, color=VARIANT_COLORS["pre"], fontweight="bold")
    y = _stream_column(ax, cx, [("skipstart",), ("box", "LayerNorm", "norm"), ("box", "attention", "attention"),
                                ("plus", False), ("skipstart",), ("box", "LayerNorm", "norm"), ("box", "MLP", "mlp"),
                                ("plus", False)])
    label(ax, cx, 0.2, "x = x + attn(LN1(x))\nx = x + mlp(LN2(x))", fontsize=8, family="monospace", va="bottom")
    # post-LN: x -> attn -> (+ x) -> LN -> MLP -> (+) -> LN
    cx = 12.0
    label(ax, cx, 12.6, "post-LN  (2017 Transformer)", fontsize=11, color=VARIANT_COLORS["post"], fontweight="bold")
    _stream_column(ax, cx, [("skipstart",), ("box", "attention", "attention"), ("plus", False),
                            ("box", "LayerNorm", "norm"), ("skipstart",), ("box", "MLP", "mlp"), ("plus", False),
                            ("box", "LayerNorm", "norm")])
    label(ax, cx, 0.2, "x = LN1(x + attn(x))\nx = LN2(x + mlp(x))", fontsize=8, family="monospace", va="bottom")
    # notes-bug: x -> attn -> h -> LN -> (+ h) -> MLP -> g -> LN -> (+ g); no path around attn or MLP
    cx = 20.0
    label(ax, cx, 12.6, "notes-bug  (the cooking log)", fontsize=11, color=VARIANT_COLORS["notes-bug"],
          fontweight="bold")
    _stream_column(ax, cx, [("missing", "no path around attention"), ("box", "attention", "attention"),
                            ("skipstart",), ("box", "LayerNorm", "norm"), ("plus", False),
                            ("missing", "no path around the MLP"), ("box", "MLP", "mlp"), ("skipstart",),
                            ("box", "LayerNorm", "norm"), ("plus", False)])
    label(ax, cx, 0.2, "x = attn(x);  x = x + LN1(x)\nx = mlp(x);   x = x + LN2(x)", fontsize=8,
          family="monospace", va="bottom")
    # legend
    ax.plot([0.6, 1.6], [11.95, 11.95], color=COLORS["residual"], lw=1.6)
    label(ax, 1.8, 11.95, "residual path (the identity, added back)", ha="left", fontsize=8)
    ax.plot([9.6, 10.6], [11.95, 11.95], color=COLORS["ignored"], lw=1.6, ls="--")
    label(ax, 10.8, 11.95, "missing: what the block's input needs to get past a sublayer", ha="left", fontsize=8)
    label(ax, 12.0, 11.35, f"every arrow carries a (B, T, C) = ({B}, {T}, {C}) tensor: batch {B}, "
          f"{T} positions of the length-6 sort task, gpt-nano width {C}", fontsize=8)
    return fig


def _stream_column(ax, cx, steps):
    """Bottom-up drawing of one block. Steps: ("skipstart",) marks where the next residual path leaves the
    stream; ("box", text, kind); ("plus", _) closes the pending residual; ("missing", note) draws a crossed path."""
    y = 1.6
    box(ax, cx - 1.2, y, 2.4, 0.65, "x  (B, T, C)", color="data", fontsize=8.5)
    y += 0.65
    pending = None
    missing = None
    gap = 0.5
    for step in steps:
        if step[0] == "skipstart":
            pending = y + gap / 2
        elif step[0] == "missing":
            missing = (y + gap / 2, step[1])
        elif step[0] == "box":
            arrow(ax, (cx, y), (cx, y + gap))
            box(ax, cx - BW / 2, y + gap, BW, BH, step[1], color=step[2], fontsize=9)
            y += gap + BH
            if missing is not None:
                start, note = missing
                side, end = 1.75, y + gap / 2
                ax.plot([cx, cx + side, cx + side, cx], [start, start, end, end], color=COLORS["ignored"],
                        lw=1.6, ls="--")
                _cross(ax, cx + side, (start + end) / 2, "")
                label(ax, cx + side + 0.35, (start + end) / 2, note.replace(" around ", "\naround "),
                      ha="left", fontsize=7, color="residual")
                missing = None
        elif step[0] == "plus":
            arrow(ax, (cx, y), (cx, y + gap - PLUS_R))
            py = y + gap
            _plus(ax, cx, py)
            if pending is not None:
                _skip(ax, cx, pending, py)
                pending = None
            y = py + PLUS_R
    arrow(ax, (cx, y), (cx, y + gap))
    label(ax, cx, y + gap + 0.25, "out  (B, T, C)", fontsize=8.5)
    return y


FIGURES = {"06_block_wirings.svg": block_wirings}
