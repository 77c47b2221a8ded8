"""The transformer block: attention and an MLP around a residual stream, with the
LayerNorm placed where ``config.norm`` says.

    pre        x = x + attn(LN1(x));   x = x + mlp(LN2(x))       (GPT-2, minGPT)
    post       x = LN1(x + attn(x));   x = LN2(x + mlp(x))       (the 2017 Transformer)
    notes-bug  x = attn(x); x = x + LN1(x); x = mlp(x); x = x + LN2(x)

``notes-bug`` is the block exactly as first written in the author's notes
(2022-09-21). It is not post-LN: attention and the MLP have no residual path
around them at all, so every layer must pass the whole signal through itself.
"""

from __future__ import annotations

import torch.nn as nn

from .attention import CausalSelfAttention
from .config import GPTConfig
from .init import ResidualProjection


class MLP(nn.Module):
    """Position-wise feed-forward network: widen 4x, GELU (tanh approximation, as in GPT-2), project back."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.expand = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        # GPT-2 was trained with the tanh approximation; the exact erf GELU differs by
        # up to ~1e-3 and would keep imported GPT-2 weights from matching its logits.
        self.gelu = nn.GELU(approximate="tanh")
        self.residual_proj = ResidualProjection(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        return self.dropout(self.residual_proj(self.gelu(self.expand(x))))


class Block(nn.Module):
    """One transformer block; ``config.norm`` picks the LayerNorm placement."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.norm = config.norm
        self.norm1 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_eps, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.norm2 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_eps, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x, kv_cache=None, pos: int = 0, return_weights: bool = False):
        """Transform the residual stream ``x`` (B, T, C); see :class:`CausalSelfAttention` for the cache arguments."""
        weights = None

        def attend(h):
            nonlocal weights
            out = self.attn(h, kv_cache, pos, return_weights)
            if return_weights:
                out, weights = out
            return out

        if self.norm == "pre":
            x = x + attend(self.norm1(x))
            x = x + self.mlp(self.norm2(x))
        elif self.norm == "post":
            x = self.norm1(x + attend(x))
            x = self.norm2(x + self.mlp(x))
        else:  # "notes-bug", verbatim from the cooking log
            x = attend(x)
            x = x + self.norm1(x)
            x = self.mlp(x)
            x = x + self.norm2(x)
        return (x, weights) if return_weights else x
