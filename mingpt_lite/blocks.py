"""The transformer block: attention and an MLP around a residual stream, with the
LayerNorm placed where ``config.norm`` says.

    pre        x = x + attn(LN1(x));   x = x + mlp(LN2(x))       (GPT-2, minGPT)
    post       x = LN1(x + attn(x));   x = LN2(x + mlp(x))       (the 2017 Transformer)
    notes-bug  x = attn(x); x = x + LN1(x); x = mlp(x); x = x + LN2(x)

``notes-bug`` is the block exactly as first written in the author's notes
(2022-09-21). It is not post-LN: attention and the MLP have no residual path
around them at all, so every layer must pass the whole signal through itself.

The MLP is GPT-2's (widen 4x, GELU, project back) unless ``config.mlp`` asks
for a later variant: ``"relu2"``, a squared ReLU (Primer, So et al. 2021,
https://arxiv.org/abs/2109.08668), or ``"swiglu"``, a SiLU-gated unit (Shazeer
2020, https://arxiv.org/abs/2002.05202). :func:`make_mlp` builds the one asked for,
and :func:`~mingpt_lite.norms.make_norm` the norms.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .attention import CausalSelfAttention
from .config import GPTConfig
from .init import ResidualProjection
from .norms import make_norm


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


class _ReluSquaredFunction(torch.autograd.Function):
    """relu(x)^2 with its backward written out: d/dx relu(x)^2 = 2 relu(x).

    That gradient is already zero where x < 0, so one product gives it. Left to autograd,
    ``F.relu(x).square()`` runs pow's generic backward (a pow, two products) and then
    relu's mask: four passes over the (B, T, 4C) activation, which on the CPU was about a
    sixth of a whole training step of chapter 13's speedrun model. Here the backward is
    one ``addcmul`` (0 + 2 * grad * relu(x)), a single pass. The values are autograd's
    (doubling is exact), which tests/test_modern.py checks; the only bits that differ are
    the signs of zeros (0 + -0 is +0), which no later sum can tell apart.
    """

    @staticmethod
    def forward(ctx, x):
        r = F.relu(x)
        ctx.save_for_backward(r)
        return r * r

    @staticmethod
    def backward(ctx, grad):
        (r,) = ctx.saved_tensors
        # One kernel instead of two (grad * r, then * 2): on a CPU these (B, T, 4C)
        # products are bound by memory traffic, not arithmetic.
        return torch.addcmul(grad.new_zeros(()), grad, r, value=2)


class ReluSquared(nn.Module):
    """relu(x)^2: zero for negatives like ReLU, but smooth at 0 and growing quadratically (Primer).

    Computes ``F.relu(x).square()``, with a one-pass backward (:class:`_ReluSquaredFunction`).
    """

    def forward(self, x):
        return _ReluSquaredFunction.apply(x)


class ReluSquaredMLP(MLP):
    """GPT-2's MLP with the GELU swapped for a squared ReLU (same shapes, same parameters)."""

    def __init__(self, config: GPTConfig):
        super().__init__(config)
        self.gelu = ReluSquared()  # the attribute keeps its name so the two MLPs read alike


def swiglu_hidden(n_embd: int) -> int:
    """SwiGLU's hidden width: 2/3 of 4*n_embd, rounded up to a multiple of 8.

    A gated MLP has three matrices instead of two; shrinking the hidden width by
    2/3 keeps its parameter count close to GPT-2's 8*n_embd^2, as Shazeer did.
    """
    return 8 * math.ceil(8 * n_embd / 3 / 8)


class SwiGLUMLP(nn.Module):
    """A gated MLP: ``proj(silu(gate(x)) * up(x))``, the gate and up projections computed as one Linear."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.hidden = swiglu_hidden(config.n_embd)
        self.expand = nn.Linear(config.n_embd, 2 * self.hidden, bias=config.bias)  # [gate | up]
        self.residual_proj = ResidualProjection(self.hidden, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        gate, up = self.expand(x).split(self.hidden, dim=-1)
        return self.dropout(self.residual_proj(F.silu(gate) * up))


def make_mlp(config: GPTConfig) -> nn.Module:
    """The MLP ``config.mlp`` names: ``"gelu"`` (GPT-2), ``"relu2"`` or ``"swiglu"``."""
    return {"gelu": MLP, "relu2": ReluSquaredMLP, "swiglu": SwiGLUMLP}[config.mlp](config)


class Block(nn.Module):
    """One transformer block; ``config.norm`` picks the LayerNorm placement."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.norm = config.norm
        self.norm1 = make_norm(config)  # nn.LayerNorm unless config.normalization == "rmsnorm"
        self.attn = CausalSelfAttention(config)
        self.norm2 = make_norm(config)
        self.mlp = make_mlp(config)  # MLP (GELU) unless config.mlp names another

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
