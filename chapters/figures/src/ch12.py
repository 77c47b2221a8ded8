"""Diagrams of chapter 12: jax.jit compiles one program per input shape."""

from __future__ import annotations

from draw import COLORS, arrow, box, canvas, label


def recompile_vs_one_loop():
    """(a) the growing loop meets a new shape every step and compiles for each; (c) one program,
    a fori_loop over a fixed-size KV cache, compiled once."""
    fig, ax = canvas(40.0, 15.4, scale=0.34)
    # (a) growing sequence: the chapter's sort example, a 6-token prompt and 6 new tokens.
    label(ax, 0.3, 14.8, "(a) jitted forward on the growing sequence: the sort example, prompt 6 tokens, 6 new",
          fontsize=10.5, ha="left", weight="bold")
    x = 0.3
    for i, T in enumerate(range(6, 12)):
        box(ax, x, 12.6, 5.6, 1.4, f"input (1, {T})", color="data", fontsize=8.5)
        box(ax, x, 10.4, 5.6, 1.5, "new shape:\ncompile", color="residual", fontsize=8.5)
        box(ax, x, 8.6, 5.6, 1.2, "run, then back\nto Python", color="neutral", fontsize=8)
        arrow(ax, (x + 2.8, 12.6), (x + 2.8, 11.9))
        arrow(ax, (x + 2.8, 10.4), (x + 2.8, 9.8))
        if i < 5:
            arrow(ax, (x + 5.6, 9.2), (x + 6.6, 13.3))
        x += 6.6
    label(ax, 0.3, 7.6, "each step appends one token, so the next input is one longer.  "
          "6 forward programs for 6 tokens, plus small programs\nfor the eager slice and concatenate "
          "at every new length (21 in all); a 64-token answer compiles 194",
          fontsize=8.5, ha="left", color=COLORS["residual"])
    # (c) one compiled loop with a fixed KV cache.
    label(ax, 0.3, 6.6, "(c) the whole decode inside one jax.jit: a lax.fori_loop over positions 0 .. 10, "
          "fixed-size buffers", fontsize=10.5, ha="left", weight="bold")
    box(ax, 0.3, 1.4, 5.6, 4.2, "inputs\nprompt (1, 6)\n\nKV cache per layer\n(1, 3, 11, 16) x 2\n(B, H, L, D)",
        color="data", fontsize=8)
    box(ax, 7.2, 4.2, 3.4, 1.4, "compile\nonce", color="residual", fontsize=8.5)
    arrow(ax, (5.9, 4.9), (7.2, 4.9))
    box(ax, 11.8, 0.9, 27.6, 5.0, "", color="neutral")
    label(ax, 12.2, 5.4, "one XLA program: for pos in 0 .. 10 (a traced integer, not a shape)", fontsize=8.5,
          ha="left")
    cx = 12.4
    for pos in range(11):
        filled = pos < 6
        box(ax, cx, 2.7, 2.1, 1.9, f"pos {pos}\n{'prompt' if filled else 'new'}", color="cache" if filled else "new",
            fontsize=7)
        if pos < 10:
            arrow(ax, (cx + 2.1, 3.65), (cx + 2.45, 3.65), linewidth=0.9)
        cx += 2.45
    label(ax, 12.4, 1.7, "each step feeds one token (1, 1), writes its k, v at pos, reads positions 0 .. pos; "
          "never returns to Python", fontsize=8, ha="left")
    arrow(ax, (10.6, 4.9), (11.8, 4.9))
    return fig


FIGURES = {"12_recompile_vs_one_loop.svg": recompile_vs_one_loop}
