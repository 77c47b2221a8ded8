"""Normalisation layers: GPT-2's LayerNorm and the RMSNorm that most newer GPTs use.

LayerNorm (Ba et al. 2016, https://arxiv.org/abs/1607.06450) subtracts each
vector's mean, divides by its standard deviation, then scales and shifts:

    LayerNorm(x) = (x - mean(x)) / sqrt(var(x) + eps) * g + b

RMSNorm (Zhang & Sennrich 2019, https://arxiv.org/abs/1910.07467) drops the
centring and the shift and divides by the root mean square alone:

    RMSNorm(x) = x / sqrt(mean(x^2) + eps) * g

It costs one reduction instead of two and, the paper found, trains as well.
``config.normalization`` picks one for every norm in the model (blocks, final
norm and, with ``qk_norm``, queries and keys); :func:`make_norm` builds it.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import GPTConfig


def rms_norm_explicit(x, weight=None, eps: float = 1e-5):
    """RMSNorm written out: divide by sqrt(mean(x^2) + eps) over the last dimension, then scale."""
    y = x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps)
    return y if weight is None else y * weight


class RMSNorm(nn.Module):
    """Root-mean-square normalisation over the last dimension, with a learned gain (initialised to 1).

    ``explicit=True`` computes :func:`rms_norm_explicit`; the default uses
    ``torch.nn.functional.rms_norm`` (one fused kernel, same result to rounding).
    """

    def __init__(self, dim: int, eps: float = 1e-5, explicit: bool = False):
        super().__init__()
        self.eps = eps
        self.explicit = explicit
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        if self.explicit:
            return rms_norm_explicit(x, self.weight, self.eps)
        return F.rms_norm(x, (x.size(-1),), self.weight, self.eps)

    def extra_repr(self) -> str:
        return f"{self.weight.numel()}, eps={self.eps}"


def make_norm(config: GPTConfig, dim: int | None = None) -> nn.Module:
    """The norm ``config.normalization`` asks for, over ``dim`` channels (default ``n_embd``).

    ``"layernorm"`` (the default, GPT-2's) carries a bias when ``config.bias`` is set;
    ``"rmsnorm"`` has no bias to carry.
    """
    dim = config.n_embd if dim is None else dim
    if config.normalization == "rmsnorm":
        return RMSNorm(dim, eps=config.layer_norm_eps)
    return nn.LayerNorm(dim, eps=config.layer_norm_eps, bias=config.bias)


__all__ = ["RMSNorm", "make_norm", "rms_norm_explicit"]
