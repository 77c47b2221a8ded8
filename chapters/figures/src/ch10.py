"""Diagrams of chapter 10: GPT-2's checkpoint layout mapped onto mingpt_lite's GPT."""

from __future__ import annotations

from draw import COLORS, arrow, box, canvas, label

# (GPT-2 name, its shape, our name, our shape, what happens). Sizes are GPT-2 small's
# (C = 768, V = 50257, 1024 positions), the sizes of the chapter's table.
ROWS = [
    ("transformer.wte.weight", "(50257, 768)", "token_embedding.weight", "(50257, 768)", "copy"),
    ("transformer.wpe.weight", "(1024, 768)", "position_embedding.weight", "(1024, 768)", "copy"),
    ("h.i.ln_1.weight / .bias", "(768,)", "blocks.i.norm1.weight / .bias", "(768,)", "copy"),
    ("h.i.attn.c_attn.weight", "(768, 2304)", "blocks.i.attn.qkv.weight", "(2304, 768)", "transpose"),
    ("h.i.attn.bias", "(1, 1, 1024, 1024)", None, None, "drop"),
    ("h.i.attn.masked_bias", "()  = -1e4", None, None, "drop"),
    ("h.i.attn.c_proj.weight", "(768, 768)", "blocks.i.attn.residual_proj.weight", "(768, 768)", "square"),
    ("h.i.ln_2.weight / .bias", "(768,)", "blocks.i.norm2.weight / .bias", "(768,)", "copy"),
    ("h.i.mlp.c_fc.weight", "(768, 3072)", "blocks.i.mlp.expand.weight", "(3072, 768)", "transpose"),
    ("h.i.mlp.c_proj.weight", "(3072, 768)", "blocks.i.mlp.residual_proj.weight", "(768, 3072)", "transpose"),
    ("transformer.ln_f.weight / .bias", "(768,)", "final_norm.weight / .bias", "(768,)", "copy"),
    ("lm_head.weight  (= wte, often absent)", "(50257, 768)", "lm_head.weight", "(50257, 768)", "tied"),
]

ROW_H = 1.25
LEFT_X, LEFT_W = 0.4, 11.6
RIGHT_X, RIGHT_W = 19.0, 12.6


def checkpoint_map():
    """Each tensor of a GPT-2 checkpoint (left) and where it lands in our GPT (right)."""
    n = len(ROWS)
    height = n * ROW_H + 6.4
    fig, ax = canvas(37.0, height, scale=0.36)
    top = height - 1.6
    label(ax, LEFT_X + LEFT_W / 2, top + 0.9, "GPT-2 checkpoint (Hugging Face names)", fontsize=11, weight="bold")
    label(ax, RIGHT_X + RIGHT_W / 2, top + 0.9, "mingpt_lite GPT", fontsize=11, weight="bold")
    label(ax, LEFT_X + LEFT_W / 2, top + 0.25, "h.i = transformer.h.i, i = 0 .. 11; biases are renamed, never transposed",
          fontsize=7.5, color="#555555")
    centers = {}
    for r, (hf, hf_shape, ours, our_shape, kind) in enumerate(ROWS):
        y = top - (r + 1) * ROW_H
        h = ROW_H * 0.78
        mid = y + h / 2
        left_color = {"drop": "ignored", "transpose": "key", "square": "key", "tied": "neutral"}.get(kind, "neutral")
        box(ax, LEFT_X, y, LEFT_W, h, "", color=left_color, linestyle="--" if kind == "drop" else "-")
        dark = left_color == "key"
        tc = "white" if dark else COLORS["text"]
        label(ax, LEFT_X + 0.3, mid, hf, fontsize=8, ha="left", color=tc, family="monospace")
        label(ax, LEFT_X + LEFT_W - 0.3, mid, hf_shape, fontsize=8, ha="right", color=tc)
        centers[r] = mid
        if ours is None:
            what = "the causal mask" if hf.endswith(".bias") else "the mask's fill value"
            label(ax, LEFT_X + LEFT_W + 0.6, mid, f"dropped: {what}, a saved buffer, not a weight",
                  fontsize=7.5, ha="left", color="#666666", style="italic")
            continue
        right_color = "key" if kind in ("transpose", "square") else "neutral"
        box(ax, RIGHT_X, y, RIGHT_W, h, "", color=right_color)
        tc = "white" if right_color == "key" else COLORS["text"]
        label(ax, RIGHT_X + 0.3, mid, ours, fontsize=8, ha="left", color=tc, family="monospace")
        label(ax, RIGHT_X + RIGHT_W - 0.3, mid, our_shape, fontsize=8, ha="right", color=tc)
        if kind == "tied":
            continue
        text = {"copy": "rename", "transpose": ".t()", "square": ".t()  (square: a shape check can't tell)"}[kind]
        arrow(ax, (LEFT_X + LEFT_W, mid), (RIGHT_X, mid), text=text, fontsize=7.5,
              color="key" if kind != "copy" else "text")
    # The tied head: GPT-2's head is wte; ours is token_embedding, the same Parameter.
    last = len(ROWS) - 1
    arrow(ax, (LEFT_X + LEFT_W, centers[last]), (RIGHT_X, centers[last]), text="not loaded", fontsize=7.5,
          linestyle=":", color="#888888")
    arrow(ax, (RIGHT_X + RIGHT_W, centers[last]), (RIGHT_X + RIGHT_W, centers[0]),
          text="", curve=0.3, color="residual", linewidth=1.6)
    label(ax, RIGHT_X + RIGHT_W + 1.2, (centers[0] + centers[last]) / 2, "tied head:\nthe same\nParameter\nas the token\nembedding",
          fontsize=8, ha="left", color="residual")
    # The rule behind the transposes, at the bottom.
    y = 0.35
    box(ax, LEFT_X, y, 14.6, 2.9, "", color="neutral")
    label(ax, LEFT_X + 0.3, y + 2.25, "Conv1D (GPT-2):  y = x @ w + b", fontsize=8.5, ha="left", family="monospace")
    label(ax, LEFT_X + 0.3, y + 1.35, "w stored as (in, out) = (768, 3072)", fontsize=8.5, ha="left")
    label(ax, LEFT_X + 0.3, y + 0.5, "written by TensorFlow code, kept by the port", fontsize=7.5, ha="left", color="#555555")
    box(ax, RIGHT_X - 2.0, y, 14.6, 2.9, "", color="neutral")
    label(ax, RIGHT_X - 1.7, y + 2.25, "nn.Linear (ours):  y = x @ W.T + b", fontsize=8.5, ha="left", family="monospace")
    label(ax, RIGHT_X - 1.7, y + 1.35, "W stored as (out, in) = (3072, 768)", fontsize=8.5, ha="left")
    label(ax, RIGHT_X - 1.7, y + 0.5, "same map when W = w.T", fontsize=7.5, ha="left", color="#555555")
    arrow(ax, (LEFT_X + 14.6, y + 1.45), (RIGHT_X - 2.0, y + 1.45), text="W = w.t()", fontsize=8, color="key")
    return fig


FIGURES = {"10_checkpoint_map.svg": checkpoint_map}
