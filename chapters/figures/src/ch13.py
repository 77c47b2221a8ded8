"""Chapter 13's diagram: GPT-2's block (minGPT) beside a modern block (nanochat-style), with each
change marked; sizes are the speedrun model's (C = 128, H = 4 heads of D = 32, T = 64)."""

from __future__ import annotations

from draw import COLORS, arrow, box, label, canvas

C, H, D, T = 128, 4, 32, 64


def _column(ax, x, title, rows, note_side):
    """Draw one block as a vertical flow of boxes; rows are (text, colour, changed?) from bottom to top."""
    label(ax, x + 3.8, 17.3, title, fontsize=11)
    y = 1.0
    prev = None
    for text, color, changed in rows:
        patch_color = color
        box(ax, x, y, 7.6, 1.3, text, color=patch_color, fontsize=8,
            linestyle="--" if changed else "-")
        if prev is not None:
            arrow(ax, (x + 3.8, prev), (x + 3.8, y))
        prev = y + 1.3
        y += 2.0
    return y


def modern_block():
    fig, ax = canvas(22.0, 18.0, scale=0.48)
    gpt2 = [
        (f"token embedding\n+ learned position table ({T} x {C})", "data", False),
        ("LayerNorm (gain, bias)", "norm", False),
        (f"qkv Linear {C}->{3 * C} (+bias)\n{H} heads of D = {D}", "attention", False),
        ("softmax(q k^T / sqrt(D)) v, causal", "attention", False),
        ("LayerNorm (gain, bias)", "norm", False),
        (f"MLP {C}->{4 * C}, GELU, ->{C} (+biases)", "mlp", False),
        ("final LayerNorm", "norm", False),
        ("head: own matrix (minGPT)\nor tied to the embedding (GPT-2)", "neutral", False),
    ]
    modern = [
        ("token embedding only (no position table)", "data", True),
        ("RMSNorm (gain only)", "norm", True),
        (f"qkv Linear {C}->{3 * C}, no bias\nQK-norm: normalise q and k per head", "attention", True),
        ("rotate q, k by their position (RoPE)\nthen softmax(q k^T / sqrt(D)) v", "attention", True),
        ("RMSNorm (gain only)", "norm", True),
        (f"MLP {C}->{4 * C}, relu(x)^2, ->{C}\n(or SwiGLU), no biases", "mlp", True),
        ("final RMSNorm", "norm", True),
        ("head: tied or untied\n(an option either way)", "neutral", False),
    ]
    _column(ax, 1.0, "GPT-2 / minGPT block (the defaults)", gpt2, "right")
    _column(ax, 13.4, "a modern block (each change an option)", modern, "left")
    for y in (1.65, 3.65, 5.65, 7.65, 9.65, 11.65, 13.65, 15.65):
        arrow(ax, (8.7, y), (13.3, y), linestyle=":", color="ignored", linewidth=0.8)
    label(ax, 11.0, 0.35, "dashed: changed.  The residual adds x = x + attn(norm(x)), x = x + mlp(norm(x)) are the same "
          "in both; optimizer: AdamW, or Muon for the block matrices", fontsize=7.5)
    return fig


FIGURES = {"13_modern_block.svg": modern_block}
