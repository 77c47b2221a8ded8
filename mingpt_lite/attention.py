"""Causal multi-head self-attention, written out twice: explicitly and through PyTorch's fused kernel.

Shapes used in comments: B batch, T new positions, S positions attended to
(S = T without a cache, S = pos + T with one), H heads, D = n_embd / H.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import GPTConfig
from .init import ResidualProjection


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
        q, k, v = self.qkv(x).split(C, dim=2)
        # (B, T, C) -> (B, H, T, D): heads become a batch dimension.
        q = q.view(B, T, self.n_head, self.head_dim).transpose(1, 2)
        k = k.view(B, T, self.n_head, self.head_dim).transpose(1, 2)
        v = v.view(B, T, self.n_head, self.head_dim).transpose(1, 2)
        if kv_cache is not None:
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
