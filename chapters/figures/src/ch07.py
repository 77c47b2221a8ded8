"""Chapter 07's diagram: a KV cache filling up, prefill first, then one position per step.

Sizes are the chapter's character model: 2 layers, 4 heads of 24 numbers (n_embd 96), and a
24-token sequence whose first 5 tokens are the prompt. Each drawn cell is one head's key (a
vector of D=24 numbers) at one position; the value buffer fills the same way.
"""

from draw import COLORS, arrow, box, canvas, label, matrix

L, H, PREFILL = 24, 4, 5
CELL = 0.5
X0 = 8.6                 # left edge of the buffers


def _stage(ax, top, written, new, title, call, note):
    """One snapshot of layer 0's key buffer: positions < written are cached, [written, new) just written."""
    colors = [["cache" if p < written else "new" if p < new else "neutral" for p in range(L)] for _ in range(H)]
    matrix(ax, X0, top, shape=(H, L), colors=colors, cell=CELL, fontsize=7,
           row_labels=[f"head {h}" for h in range(H)])
    label(ax, 0.3, top - 0.55, title, fontsize=9.5, ha="left", weight="bold")
    label(ax, 0.3, top - 1.25, call, fontsize=8, ha="left", family="monospace")
    if note:
        label(ax, 0.3, top - 1.85, note, fontsize=8, ha="left")
    # what the new queries attend to: every written position so far
    if new:
        x_end = X0 + new * CELL
        ax.plot([X0, x_end], [top - H * CELL - 0.18] * 2, color=COLORS["query"], lw=2.0)
        label(ax, X0 + L * CELL + 0.4, top - H * CELL / 2,
              f"attention reads\nk_buf[:, :, :{new}]", fontsize=8, ha="left")


def kv_cache_filling():
    fig, ax = canvas(29.0, 21.5)
    label(ax, 14.5, 21.0, "The KV cache filling: layer 0's key buffer, (B, H, L, D) = (1, 4, 24, 24)",
          fontsize=11.5, weight="bold")
    # position numbers above the first buffer
    for p in range(0, L, 1):
        if p % 4 == 0 or p == L - 1:
            label(ax, X0 + (p + 0.5) * CELL, 19.85, str(p), fontsize=7)
    label(ax, X0 + L * CELL / 2, 20.35, "position (L = 24)", fontsize=8.5)

    stages = [
        (0, 0, "new_kv_cache(1, 24)", "zeros((1, 4, 24, 24)) per k and v", "2 layers x (k, v), allocated once"),
        (0, PREFILL, "prefill: the 5-token prompt", "model(ids[:, 0:5], kv_cache, pos=0)",
         "writes 0..4 at once; 5 queries x 5 keys, causal"),
        (PREFILL, PREFILL + 1, "decode step, pos = 5", "model(ids[:, 5:6], kv_cache, pos=5)",
         "1 new query x 6 keys"),
        (PREFILL + 1, PREFILL + 2, "decode step, pos = 6", "model(ids[:, 6:7], kv_cache, pos=6)",
         "1 new query x 7 keys"),
        (L - 1, L, "decode step, pos = 23", "model(ids[:, 23:24], kv_cache, pos=23)",
         "the buffer is full"),
    ]
    tops = [19.6, 16.4, 13.2, 10.0, 5.6]
    for top, (written, new, title, call, note) in zip(tops, stages):
        _stage(ax, top, written, new, title, call, note)
    label(ax, X0 + L * CELL / 2, 7.3, ". . .   one position per step, pos = 7 .. 22   . . .", fontsize=9)
    for a, b in zip(tops, tops[1:]):
        arrow(ax, (X0 - 1.4, a - H * CELL - 0.3), (X0 - 1.4, b + 0.2), color="text")

    # legend
    y = 2.3
    for k, (color, text) in enumerate([("neutral", "zeros: not written yet"),
                                       ("new", "written by this call (its new k)"),
                                       ("cache", "cached: written earlier, only read")]):
        box(ax, 0.6 + k * 9.3, y, 0.6, 0.6, "", color=color, rounded=False)
        label(ax, 1.45 + k * 9.3, y + 0.3, text, fontsize=8.5, ha="left")
    ax.plot([0.6, 1.2], [1.3, 1.3], color=COLORS["query"], lw=2.0)
    label(ax, 1.45, 1.3, "keys the new queries attend to (causal: positions 0 .. pos)", fontsize=8.5, ha="left")
    label(ax, 0.6, 0.5, "Each cell is one head's key vector (D = 24 numbers) at one position. "
                        "The value buffer v_buf fills the same way, in both layers.", fontsize=8.5, ha="left")
    return fig


FIGURES = {"07_kv_cache_filling.svg": kv_cache_filling}
