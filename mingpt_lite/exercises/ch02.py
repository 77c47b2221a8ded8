"""Checkers for chapter 02 (blocks and the whole GPT).

- 2.1: a LayerNorm ``my_layer_norm(x, weight, bias, eps=1e-5)`` over the last axis.
- 2.2: a parameter count ``my_count(vocab_size, block_size, n_layer, n_embd, bias=True,
  tie_weights=False)``: the number of distinct parameters of a GPT, head included.
- 2.3: a predicted width: the smallest ``n_embd`` at which a 12-layer GPT with GPT-2's
  vocabulary holds more parameters in its blocks than in its token embedding.

The references are PyTorch's ``F.layer_norm`` (what every ``nn.LayerNorm`` of the package
computes) and the package's own modules, built on the meta device and counted
(:meth:`mingpt_lite.model.GPT.num_parameters`, :class:`mingpt_lite.blocks.Block`). A wrong count
is diagnosed by matching the error against the sizes of the model's own parameter groups.
"""

from __future__ import annotations

import functools

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..blocks import Block
from ..config import GPTConfig
from ..model import GPT
from . import Hint, checker
from .kit import close, largest_difference, match_variants, require_tensor

# --- 2.1: LayerNorm


def _ln_inputs(scale: float, seed: int, shape=(2, 5, 8)):
    g = torch.Generator().manual_seed(seed)
    x = scale * (3.0 + 4.0 * torch.randn(*shape, generator=g, dtype=torch.float64))  # off-centre, wide
    C = shape[-1]
    weight = 1.0 + 0.5 * torch.randn(C, generator=g, dtype=torch.float64)
    bias = 0.5 * torch.randn(C, generator=g, dtype=torch.float64)
    return x, weight, bias


def _centred(x, dim=-1):
    return x - x.mean(dim=dim, keepdim=True)


@checker("2.1")
def check_layer_norm(attempt) -> str:
    """``attempt(x, weight, bias, eps)`` normalises each position of ``x`` (..., C) over its C channels."""
    eps = 1e-5
    # A wide input, and a narrow one (std 4e-3, variance about eps) where the place of eps shows.
    for scale in (1.0, 1e-3):
        x, weight, bias = _ln_inputs(scale, seed=3)
        C = x.size(-1)
        reference = F.layer_norm(x, (C,), weight, bias, eps)
        try:
            y = attempt(x, weight, bias, eps)
        except RuntimeError as err:
            if "must match the size" in str(err):
                raise Hint("a shape mismatch inside your function: the mean and the variance must keep their "
                           "reduced axis (keepdim=True) so they broadcast back over the channels") from None
            raise
        require_tensor(y, x.shape, fix="Use keepdim=True for the mean and the variance so they broadcast back "
                                       "over the channels")
        if close(y, reference, rtol=0, atol=1e-9):
            continue
        var = x.var(dim=-1, keepdim=True, unbiased=False)
        last_two = (-2, -1)
        variants = [
            (F.layer_norm(x, (C,), None, None, eps),
             "the output is normalised but not scaled and shifted: multiply by weight (the gain) and add bias "
             "(the shift) at the end"),
            (_centred(x) / torch.sqrt(x.var(dim=-1, keepdim=True) + eps) * weight + bias,
             "the variance divides by C - 1 (PyTorch's default x.var()); LayerNorm divides by C: "
             "use x.var(dim=-1, keepdim=True, unbiased=False)"),
            (_centred(x) / (torch.sqrt(var) + eps) * weight + bias,
             "eps belongs inside the square root: divide by sqrt(var + eps), not sqrt(var) + eps"),
            (_centred(x) / torch.sqrt(var) * weight + bias,
             "eps is missing: divide by sqrt(var + eps), which also keeps a constant input from dividing by zero"),
            (x / torch.sqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps) * weight + bias,
             "you did not subtract the mean: that is RMSNorm, not LayerNorm. Centre x on its mean over the "
             "channels first"),
            ((_centred(x, dim=-2) / torch.sqrt(x.var(dim=-2, keepdim=True, unbiased=False) + eps)) * weight + bias,
             "you normalised over the positions (dim=-2); LayerNorm normalises each position over its own "
             "channels, the last axis (dim=-1)"),
            ((x - x.mean(dim=last_two, keepdim=True))
             / torch.sqrt(x.var(dim=last_two, keepdim=True, unbiased=False) + eps) * weight + bias,
             "you normalised over positions and channels together (dims -2 and -1, one mean for the whole "
             "sequence); LayerNorm takes a separate mean and variance for each position, over its channels only "
             "(dim=-1)"),
            (_centred(x) / (var + eps) * weight + bias,
             "you divided by the variance; divide by its square root, the standard deviation"),
        ]
        match_variants(y, variants, rtol=0, atol=1e-9)
        raise Hint(f"the output differs from nn.LayerNorm's by up to {largest_difference(y, reference):.3g}"
                   f"{' on an input of std 4e-3' if scale < 1 else ''}. The order is: subtract the mean over the "
                   "last axis, divide by sqrt(variance + eps) with the variance over C, multiply by weight, add bias")
    return "equal to nn.LayerNorm (variance over C, eps inside the square root, gain and shift)."


# --- 2.2: counting parameters

# Three small models (built for real on the CPU in milliseconds; on the meta device the first
# build costs seconds), each with and without biases, untied and tied. Their parameter groups
# all differ in size, so a miscount matches at most one of them.
_SIZES = [(3, 11, 3, 48), (65, 64, 2, 32), (500, 40, 1, 16)]
_COUNT_CASES = [(size, bias, tie) for bias in (True, False) for tie in (False, True) for size in _SIZES]


def _gpt(vocab_size, block_size, n_layer, n_embd, bias=True, tie_weights=False) -> GPT:
    config = GPTConfig(vocab_size=vocab_size, block_size=block_size, n_layer=n_layer, n_head=4, n_embd=n_embd,
                       bias=bias, tie_weights=tie_weights)
    with torch.random.fork_rng(devices=[]):  # building draws random weights; leave the reader's RNG alone
        return GPT(config)


def _groups(model: GPT) -> dict[str, int]:
    """Sizes of the parameter groups a miscount usually misses, from the model itself."""
    linear_bias = sum(m.bias.numel() for m in model.modules() if isinstance(m, nn.Linear) and m.bias is not None)
    norms = [m for m in model.modules() if isinstance(m, nn.LayerNorm)]
    return {
        "token": model.token_embedding.weight.numel(),
        "position": model.position_embedding.weight.numel(),
        "final_norm": sum(p.numel() for p in model.final_norm.parameters()),
        "linear_bias": linear_bias,
        "norm_bias": sum(m.bias.numel() for m in norms if m.bias is not None),
        "norm_gain": sum(m.weight.numel() for m in norms),
        "block_norms": sum(p.numel() for b in model.blocks for m in (b.norm1, b.norm2) for p in m.parameters()),
        "block": sum(p.numel() for p in model.blocks[0].parameters()),
    }


def _describe(size, bias, tie) -> str:
    V, P, L, C = size
    return f"vocab_size={V}, block_size={P}, n_layer={L}, n_embd={C}, bias={bias}, tie_weights={tie}"


@checker("2.2")
def check_parameter_count(attempt) -> str:
    """``attempt(vocab_size, block_size, n_layer, n_embd, bias=True, tie_weights=False)``: the number of
    distinct parameters of the GPT with those settings, the output head included (once)."""
    for size, bias, tie in _COUNT_CASES:
        model = _gpt(*size, bias=bias, tie_weights=tie)
        truth = model.num_parameters(include_head=True)
        got = attempt(*size, bias=bias, tie_weights=tie)
        if not isinstance(got, (int, float)) or isinstance(got, bool) or got != int(got):
            raise Hint(f"return a whole number, got {got!r} for {_describe(size, bias, tie)}")
        diff = int(got) - truth
        if diff == 0:
            continue
        V, P, L, C = size
        g = _groups(model)
        where = f"for {_describe(size, bias, tie)} you count {int(got):,}, the model has {truth:,}"
        if tie and diff == V * C:
            raise Hint(f"{where}: you counted the tied head twice. With tie_weights=True the head *is* the "
                       "token embedding's tensor, so it adds nothing")
        if not tie and diff == -V * C:
            raise Hint(f"{where}: the output head (C x V, no bias) is missing; this count includes it")
        if bias and diff == -g["linear_bias"]:
            raise Hint(f"{where}: you forgot the biases of the Linear layers (qkv, the two residual_proj and "
                       "expand: 3C + C + 4C + C per block); the head has none")
        if not bias:
            twin = _groups(_gpt(*size, bias=True, tie_weights=tie))
            if diff == twin["linear_bias"] + twin["norm_bias"]:
                raise Hint(f"{where}: with bias=False there are no biases at all, neither in the Linear "
                           "layers nor in the LayerNorms")
            if diff == twin["linear_bias"]:
                raise Hint(f"{where}: with bias=False the Linear layers have no biases")
            if diff == twin["norm_bias"]:
                raise Hint(f"{where}: with bias=False the LayerNorms have no shift either (nn.LayerNorm(bias=False))")
            if diff == -g["norm_gain"]:
                raise Hint(f"{where}: with bias=False a LayerNorm keeps its gain (C numbers); only the shift goes")
        if diff == -g["final_norm"]:
            raise Hint(f"{where}: you forgot the final LayerNorm ({g['final_norm']} parameters), the one "
                       "after the last block")
        if diff == -g["position"]:
            raise Hint(f"{where}: the position embedding (block_size x n_embd) is missing")
        if diff == -g["block_norms"]:
            raise Hint(f"{where}: the two LayerNorms inside each block are missing")
        if bias and diff == -g["norm_bias"]:
            raise Hint(f"{where}: the LayerNorms' shifts (their biases) are missing")
        if diff % g["block"] == 0:
            raise Hint(f"{where}: off by exactly {diff // g['block']:+d} blocks; there are n_layer blocks")
        raise Hint(f"{where} (off by {diff:+,}). Count part by part: embeddings, per block two LayerNorms, "
                   "attention and MLP, the final LayerNorm, and the head unless it is tied")
    return "equal to GPT(...).num_parameters(include_head=True) for 12 settings (3 sizes, with and without bias, tied and not)."


# --- 2.3: where the blocks outgrow the embedding

_GPT2_VOCAB = 50257
_LAYERS = 12


def _count_block(n_embd: int) -> int:
    config = GPTConfig(vocab_size=16, block_size=8, n_layer=_LAYERS, n_head=1, n_embd=n_embd)
    with torch.random.fork_rng(devices=[]):
        return sum(p.numel() for p in Block(config).parameters())


@functools.lru_cache(maxsize=1)
def _block_polynomial() -> tuple[int, int, int]:
    """(a, b, c) with a C^2 + b C + c = the parameters of one package Block of width C, read off
    real Blocks of widths 1, 2 and 3 (a Block's count is a quadratic in C), and verified at 40."""
    n1, n2, n3 = (_count_block(C) for C in (1, 2, 3))
    a2 = n3 - 2 * n2 + n1  # second difference = 2a
    a = a2 // 2
    b = n2 - n1 - 3 * a
    c = n1 - a - b
    assert a * 40 * 40 + b * 40 + c == _count_block(40), "a Block's parameter count is not quadratic in its width"
    return a, b, c


def _block_parameters(n_embd: int) -> int:
    """Parameters of one package Block of width ``n_embd``, without building a (possibly huge) one."""
    a, b, c = _block_polynomial()
    return a * n_embd * n_embd + b * n_embd + c


def _smallest_width(vocab_terms: int = 1, layers: int = _LAYERS, block=_block_parameters) -> int:
    """The smallest n_embd with layers * block(n_embd) > vocab_terms * V * n_embd (a binary search)."""
    low, high = 1, 1 << 16  # block(C)/C grows with C, so the condition is monotonic in C
    while low < high:
        mid = (low + high) // 2
        if layers * block(mid) > vocab_terms * _GPT2_VOCAB * mid:
            high = mid
        else:
            low = mid + 1
    return low


@checker("2.3")
def check_crossover_width(attempt) -> str:
    """``attempt``: the smallest n_embd at which the 12 blocks of a GPT with GPT-2's vocabulary hold more
    parameters than its token embedding."""
    if isinstance(attempt, bool) or not isinstance(attempt, (int, float)) or attempt != int(attempt):
        raise Hint(f"give one whole number, the width n_embd; got {attempt!r}")
    answer = int(attempt)
    truth = _smallest_width()
    if answer == truth:
        return (f"n_embd = {truth}: 12 blocks of 12C^2 + 13C exceed 50,257 C from there on "
                f"({_LAYERS * _block_parameters(truth):,} > {_GPT2_VOCAB * truth:,}).")
    if answer == _smallest_width(vocab_terms=2):
        raise Hint("that is where the blocks outgrow the token embedding *and* the head together; the question "
                   "compares with the token embedding alone (V x C)")
    if answer == _smallest_width(block=lambda C: 12 * C * C):
        raise Hint("close: you counted 12C^2 per block and left out the biases and LayerNorms (13C per block); "
                   "small, but they move the answer")
    if answer == _smallest_width(layers=1):
        raise Hint("that is the width for a single block; the model has 12")
    below = _LAYERS * _block_parameters(answer) <= _GPT2_VOCAB * answer
    raise Hint(f"at n_embd = {answer} the blocks hold {_LAYERS * _block_parameters(answer):,} and the embedding "
               f"{_GPT2_VOCAB * answer:,}: " + ("the blocks are still smaller, go wider" if below else
                                                 "the blocks are already larger, but they were at a smaller width "
                                                 "too; find the smallest"))
