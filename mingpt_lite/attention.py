"""Causal multi-head self-attention, written out twice: explicitly and through PyTorch's fused kernel.

Shapes used in comments: B batch, T new positions, S positions attended to
(S = T without a cache, S = pos + T with one), H heads, D = n_embd / H.

Two later additions sit beside minGPT's attention, both off by default (see
:class:`~mingpt_lite.config.GPTConfig`):

* ``position="rotary"``: rotary position embeddings (RoPE, Su et al. 2021,
  https://arxiv.org/abs/2104.09864) turn each query and key by an angle that grows
  with its position, so a score depends only on how far apart two positions are;
* ``qk_norm=True``: queries and keys are normalised per head before the dot
  product (Dehghani et al. 2023, https://arxiv.org/abs/2302.05442), which bounds
  the scores and keeps the softmax from saturating.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import GPTConfig
from .init import ResidualProjection
from .norms import make_norm


def explicit_attention(q, k, v, mask=None, dropout: nn.Module | None = None):
    """Attention the long way: scores, 1/sqrt(D) scaling, mask, softmax, weighted sum.

    ``q`` is (..., T, D), ``k`` and ``v`` are (..., S, D); ``mask`` is a boolean (T, S)
    tensor, True where a query may look. Returns ``(output, weights)``.
    """
    # Dot products grow like sqrt(D) for unit-variance inputs; dividing keeps the
    # softmax out of its saturated, one-hot regime where gradients vanish.
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (..., T, S)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    if dropout is not None:
        weights = dropout(weights)
    return weights @ v, weights


# --- rotary position embeddings -------------------------------------------------------------


def rotary_tables(length: int, dim: int, base: float = 10000.0, device=None):
    """Cosines and sines of the rotary angles: two (length, dim // 2) tables.

    Channel pair ``i`` of a head turns at frequency ``base ** (-2i / dim)``; position
    ``p`` turns it by the angle ``p * frequency``. Fast pairs tell close positions
    apart, slow pairs far ones (the same ladder of wavelengths as the 2017
    Transformer's sinusoids, here used as rotations).
    """
    if dim % 2:
        raise ValueError(f"rotary embeddings need an even head dimension, got {dim}")
    freqs = base ** (-torch.arange(0, dim, 2, dtype=torch.float64, device=device) / dim)  # (dim/2,)
    angles = torch.arange(length, dtype=torch.float64, device=device)[:, None] * freqs  # (L, dim/2)
    return angles.cos().float(), angles.sin().float()


def rotate_explicit(x, positions, base: float = 10000.0):
    """RoPE the slow way: each channel pair as a complex number, multiplied by e^(i*angle).

    ``x`` is (..., T, D) with pairs (x[j], x[j + D/2]); ``positions`` (T,) are absolute
    positions. This is the definition; :func:`apply_rotary` computes the same with real
    arithmetic and precomputed tables (the tests check that they agree).
    """
    D = x.size(-1)
    half = D // 2
    freqs = base ** (-torch.arange(0, D, 2, dtype=torch.float64, device=x.device) / D)
    angles = positions.to(torch.float64)[:, None] * freqs  # (T, D/2)
    z = torch.complex(x[..., :half].double(), x[..., half:].double()) * torch.polar(torch.ones_like(angles), angles)
    return torch.cat([z.real, z.imag], dim=-1).to(x.dtype)


def apply_rotary(x, cos, sin):
    """Rotate channel pairs (x[j], x[j + D/2]) of ``x`` (..., T, D) by the angles in ``cos``/``sin`` (T, D/2).

    (a, b) -> (a cos - b sin, a sin + b cos): a rotation, so lengths are kept and
    only directions change. Pairing channel j with j + D/2 (rather than 2j with
    2j+1) is GPT-NeoX's layout; any fixed pairing works.
    """
    half = x.size(-1) // 2
    a, b = x[..., :half], x[..., half:]
    return torch.cat([a * cos - b * sin, a * sin + b * cos], dim=-1)


def rolled_rotary_tables(cos, sin):
    """Full-width tables for :func:`apply_rotary_rolled`: ``[cos, cos]`` and ``[-sin, sin]``, each (..., D)."""
    return torch.cat([cos, cos], dim=-1), torch.cat([-sin, sin], dim=-1)


def apply_rotary_rolled(x, cos_full, sin_signed):
    """:func:`apply_rotary` in four kernels instead of seven, bit for bit the same result.

    With ``x = [a, b]``, ``roll`` by D/2 gives ``[b, a]``, so
    ``x * [cos, cos] + [b, a] * [-sin, sin] = [a cos - b sin, b cos + a sin]``: the same
    products and sums, in an order that rounds identically. Tables from
    :func:`rolled_rotary_tables`. On a CPU, where a small model's step is a long row of
    small kernels, this saves a few percent of the training step.
    """
    return x * cos_full + x.roll(x.size(-1) // 2, dims=-1) * sin_signed


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention in which position t only sees positions <= t.

    ``qkv`` projects the residual stream to queries, keys and values for all heads at
    once; ``residual_proj`` maps the heads' concatenated output back into the stream
    (and is marked as a :class:`ResidualProjection` for the scaled init).
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.n_head = config.n_head
        self.head_dim = config.head_dim
        self.dropout_p = config.dropout
        self.explicit = config.attention == "explicit"
        self.qkv = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.residual_proj = ResidualProjection(config.n_embd, config.n_embd, bias=config.bias)
        self.attn_dropout = nn.Dropout(config.dropout)
        self.resid_dropout = nn.Dropout(config.dropout)
        # Modern options (off by default): per-head norms on queries and keys, and rotary
        # positions. A rotary model has no position embedding; the angle tables are
        # buffers (not saved: they follow from block_size, head_dim and rotary_base).
        self.q_norm = make_norm(config, config.head_dim) if config.qk_norm else None
        self.k_norm = make_norm(config, config.head_dim) if config.qk_norm else None
        self.rotary = config.position == "rotary"
        if self.rotary:
            cos, sin = rotary_tables(config.block_size, config.head_dim, config.rotary_base)
            self.register_buffer("rotary_cos", cos, persistent=False)
            self.register_buffer("rotary_sin", sin, persistent=False)
            cos_full, sin_signed = rolled_rotary_tables(cos, sin)
            self.register_buffer("rotary_cos_full", cos_full, persistent=False)
            self.register_buffer("rotary_sin_signed", sin_signed, persistent=False)
        # Lower-triangular: row i (a query) may attend to columns j <= i (keys).
        mask = torch.tril(torch.ones(config.block_size, config.block_size, dtype=torch.bool))
        self.register_buffer("causal_mask", mask, persistent=False)

    def forward(self, x, kv_cache=None, pos: int = 0, return_weights: bool = False):
        """Attend over ``x`` (B, T, C).

        With ``kv_cache`` (a pair of preallocated (B, H, L, D) key and value buffers),
        the new keys/values are written at positions ``pos .. pos+T-1`` and the queries
        attend to everything cached so far. ``return_weights=True`` forces the explicit
        path and also returns the (B, H, T, S) attention weights.
        """
        B, T, C = x.shape
        H, D = self.n_head, self.head_dim
        qkv = self.qkv(x)
        if self.rotary and self.q_norm is None:
            # Turn queries and keys by their absolute positions pos .. pos+T-1 in one call, on
            # the (B, T, 2H, D) view of their half of qkv (the same arithmetic as two calls on
            # q and k, with half the kernel launches; it matters for small models on a CPU).
            cos, sin = self.rotary_cos_full[pos : pos + T, None], self.rotary_sin_signed[pos : pos + T, None]
            q, k = apply_rotary_rolled(qkv[..., : 2 * C].view(B, T, 2 * H, D), cos, sin).split(H, dim=2)
            v = qkv[..., 2 * C :].view(B, T, H, D)
            q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        else:
            q, k, v = qkv.split(C, dim=2)
            # (B, T, C) -> (B, H, T, D): heads become a batch dimension.
            q = q.view(B, T, H, D).transpose(1, 2)
            k = k.view(B, T, H, D).transpose(1, 2)
            v = v.view(B, T, H, D).transpose(1, 2)
            if self.q_norm is not None:
                q, k = self.q_norm(q), self.k_norm(k)
            if self.rotary:  # turn queries and keys by their absolute positions pos .. pos+T-1
                cos, sin = self.rotary_cos[pos : pos + T], self.rotary_sin[pos : pos + T]
                q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        if kv_cache is not None:  # keys are cached already rotated: their positions never change
            k_buf, v_buf = kv_cache
            k_buf[:, :, pos : pos + T] = k
            v_buf[:, :, pos : pos + T] = v
            k, v = k_buf[:, :, : pos + T], v_buf[:, :, : pos + T]
        S = k.size(2)
        # Query i sits at absolute position pos + i, so it may see keys 0 .. pos + i:
        # rows pos .. pos+T-1 of the causal mask, first S columns. The fast path slices
        # it only when no cheaper form applies (not on single-token decode steps).

        weights = None
        if self.explicit or return_weights:
            dropout = self.attn_dropout if self.training else None
            y, weights = explicit_attention(q, k, v, self.causal_mask[pos : pos + T, :S], dropout)
        else:
            dropout_p = self.dropout_p if self.training else 0.0
            if T == 1:  # a single new query may see every cached key: no mask at all
                y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p)
            elif S == T:  # no earlier context: the plain causal case the kernel knows
                y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=True)
            else:
                mask = self.causal_mask[pos : pos + T, :S]
                y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # re-join the heads
        y = self.resid_dropout(self.residual_proj(y))
        return (y, weights) if return_weights else y
