"""Checkers for chapter 13 (from minGPT to a modern GPT).

- 13.1: ``my_rms_norm(x, weight, eps)``: RMSNorm over the last dimension.
- 13.2: ``my_rotate(x, positions)``: rotary embeddings of (..., T, D) vectors at absolute positions.
- 13.3: a number, the parameters a rotary model saves over learned positions at a given size.

References: :func:`mingpt_lite.norms.rms_norm_explicit`, :func:`mingpt_lite.attention.rotate_explicit`
and :class:`mingpt_lite.model.GPT`; no copy of a solution lives here.
"""

from __future__ import annotations

import numbers

import torch

from ..attention import rotate_explicit
from ..config import GPTConfig
from ..model import GPT
from ..norms import rms_norm_explicit
from . import Hint, checker
from .kit import close, match_variants, require_tensor


@checker("13.1")
def check_rms_norm(attempt) -> str:
    """RMSNorm against the package's formula, on inputs with a non-zero mean."""
    torch.manual_seed(0)
    x = torch.randn(3, 5, 16, dtype=torch.float64) + 1.0
    weight = torch.rand(16, dtype=torch.float64) + 0.5
    got = attempt(x, weight, 1e-5)
    want = rms_norm_explicit(x, weight, 1e-5)
    require_tensor(got, x.shape, what="my_rms_norm", fix="Take the mean over the last dimension with keepdim=True")
    if close(got, want, rtol=1e-6, atol=1e-8):
        return "x / sqrt(mean(x²) + eps) · g, over the last dimension."
    layer = torch.nn.functional.layer_norm(x, (16,), weight, None, 1e-5)
    match_variants(got, [(layer, "that is LayerNorm: RMSNorm does not subtract the mean, it divides x itself by "
                                 "its RMS")], rtol=1e-5, atol=1e-6)
    ms = x.pow(2).mean(-1, keepdim=True)
    match_variants(got, [
        (want / weight, "the learned gain is missing: multiply by weight at the end"),
        (x / (ms + 1e-5) * weight,
         "divide by the *root* of the mean square, sqrt(mean(x²) + eps), not the mean square itself"),
        (x / (torch.sqrt(ms) + 1e-5) * weight, "eps belongs inside the square root, added to the mean square"),
        (x / torch.sqrt(x.pow(2).sum(-1, keepdim=True) + 1e-5) * weight,
         "that divides by the root of the *sum* of squares; RMSNorm uses their mean, over the C channels"),
        (rms_norm_explicit(x.transpose(-1, -2), None).transpose(-1, -2) * weight,
         "normalise over the last dimension (the channels), not over positions"),
    ], rtol=1e-6, atol=1e-8)
    # No known mistake matched: point at the part that is off without handing over the formula.
    scale = got / (x * weight)                      # what your function divided each x by, inverted
    per_row = scale.std(dim=-1) / scale.mean(dim=-1).abs()
    if (per_row > 1e-4).any():
        raise Hint("within one position, your output is not x · weight times a single number: RMSNorm divides "
                   "every channel of a position by the same statistic of that position")
    raise Hint("each position is rescaled by one number, but not by the right one: check which statistic of the "
               "channels you divide by, and where eps goes")


@checker("13.2")
def check_rotate(attempt) -> str:
    """Rotary embeddings with pairs (x[j], x[j + D/2]) and angles position * base^(-2j/D)."""
    torch.manual_seed(0)
    x = torch.randn(2, 7, 8, dtype=torch.float64)
    positions = torch.arange(3, 10)
    got = attempt(x, positions)
    want = rotate_explicit(x, positions)
    require_tensor(got, want.shape, what="my_rotate", fix="Return a tensor of the input's shape")
    if close(got, want, rtol=1e-6, atol=1e-8):
        return "each pair (x[j], x[j + D/2]) turned by position · 10000^(-2j/D)."
    if not close(got.norm(dim=-1), x.norm(dim=-1), rtol=1e-6):
        raise Hint("a rotation keeps every vector's length, yours changes it: use (a cos − b sin, a sin + b cos)")
    interleaved = x.view(2, 7, 4, 2).transpose(-1, -2).reshape(2, 7, 8)     # pairs (2j, 2j+1) -> (j, j+4)
    rotated = rotate_explicit(interleaved, positions).view(2, 7, 2, 4).transpose(-1, -2).reshape(2, 7, 8)
    match_variants(got, [
        (rotate_explicit(x, -positions), "your rotation goes the other way: (a, b) -> (a cos − b sin, a sin + b cos), "
                                         "i.e. multiply by e^{+iθ}"),
        (rotated, "you paired neighbouring channels (2j, 2j+1); this package pairs j with j + D/2 (GPT-NeoX's layout)"),
        (rotate_explicit(x, positions - positions[0]),
         "use the absolute positions you are given, not positions counted from the first one"),
    ], rtol=1e-6, atol=1e-8)
    raise Hint("pair j turns by the angle position · base^(-2j/D), with base 10000 and j = 0 .. D/2 − 1")


@checker("13.3")
def check_rotary_savings(attempt, block_size: int = 64, n_embd: int = 128) -> str:
    """Parameters of learned positions minus rotary, for the chapter's model size."""
    if isinstance(attempt, bool) or not isinstance(attempt, numbers.Real):
        raise Hint(f"give a number of parameters, got {type(attempt).__name__}")
    sizes = dict(vocab_size=65, block_size=block_size, n_layer=4, n_head=4, n_embd=n_embd, dropout=0.0)
    with torch.device("meta"):
        learned = GPT(GPTConfig(**sizes)).num_parameters(include_head=True)
        rotary = GPT(GPTConfig(**sizes, position="rotary")).num_parameters(include_head=True)
    want = learned - rotary
    if attempt == want:
        return f"block_size × n_embd = {want:,}: the position table is all that goes; the rotation has no weights."
    if attempt == 0:
        raise Hint("a rotary model has no position table at all, so it is smaller")
    if attempt == block_size * n_embd * 4:
        raise Hint("the table is one (block_size, n_embd) matrix for the whole model, not one per layer")
    if attempt == n_embd // 4 // 2 * block_size * 2:
        raise Hint("the cos/sin tables are buffers computed from the positions, not parameters")
    raise Hint(f"count the entries of the position embedding table (block_size = {block_size}, n_embd = {n_embd})")
