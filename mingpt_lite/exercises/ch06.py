"""Checkers for chapter 06 (the post-LN bug).

- 6.1: ``post_ln_forward(block, x)``, a post-LN block's forward pass written from the block's own
  sublayers. Compared with :class:`mingpt_lite.blocks.Block` built with ``norm="post"``; an attempt
  that equals the ``"pre"`` or ``"notes-bug"`` wiring of the same block is named as such.
- 6.2: the name of the parameter of post-LN's block 1 with the largest gradient at step 0
  (it dwarfs the same parameter in block 2), measured here with one backward pass of the
  12-layer post-LN gpt-nano of chapter 6, built here as the chapter builds it.
"""

from __future__ import annotations

import functools

import torch

from ..blocks import Block
from ..config import GPTConfig
from ..data import SortTask
from ..loss import lm_loss
from ..model import GPT
from . import Hint, checker
from .kit import close, require_tensor


def _block(norm: str, seed: int = 0):
    torch.manual_seed(seed)
    config = GPTConfig(vocab_size=3, block_size=11, n_layer=2, n_head=2, n_embd=8, dropout=0.0, norm=norm)
    block = Block(config).double().eval()
    # Larger sublayer outputs than GPT-2's init, so that the wirings differ by more than rounding.
    with torch.no_grad():
        for p in block.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return block


def _same(a, b) -> bool:
    return close(a, b, rtol=0, atol=1e-10)


@checker("6.1")
def check_post_ln_forward(attempt) -> str:
    """``attempt(block, x)`` equals ``Block(norm="post")(x)`` for the same block."""
    block = _block("post")
    x = torch.randn(2, 5, 8, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    with torch.no_grad():
        got = attempt(block, x.clone())
        require_tensor(got, x.shape, what="post_ln_forward", fix="A block keeps the stream's shape (B, T, C)")
        wanted = block(x)
        if _same(got, wanted):
            return "that is post-LN: add the sublayer's output to the stream, then normalise the sum."
        block.norm = "pre"
        if _same(got, block(x)):
            raise Hint("that is pre-LN: x + attn(norm1(x)). In post-LN the LayerNorm comes after the "
                       "addition: x = norm1(x + attn(x))")
        block.norm = "notes-bug"
        if _same(got, block(x)):
            raise Hint("that is the notes' block: attention replaces x, so its input has no path around it. "
                       "Add x back before normalising: x = norm1(x + attn(x))")
        block.norm = "post"
        a = block.norm1(x + block.attn(x))
        if _same(got, a + block.mlp(a)) or _same(got, block.norm2(block.mlp(a))):
            raise Hint("the attention half is right; the MLP half must be the same shape: x = norm2(x + mlp(x))")
        if _same(got, block.norm2(block.mlp(block.norm1(block.attn(x))))):
            raise Hint("no residual connection at all: each sublayer's input must be added to its output")
    raise Hint("the output differs from a post-LN block's: compute x = norm1(x + attn(x)), then "
               "x = norm2(x + mlp(x)), using the block's own modules")


def block1_gradients(seed: int = 3407) -> dict[str, tuple[float, float]]:
    """For each parameter name of a block: (its gradient norm in block 1, in block 2), at step 0 of the
    12-layer post-LN model of chapter 6 (dropout off, one training batch of 64)."""
    return dict(_gradients(seed))


@functools.lru_cache(maxsize=4)
def _gradients(seed: int) -> tuple:
    task = SortTask(length=6, num_digits=3)
    torch.manual_seed(seed)      # chapter 6's norm_model: gpt-nano, 12 layers, post-LN, weights from seed
    model = GPT(GPTConfig.from_preset("gpt-nano", vocab_size=task.vocab_size, block_size=task.block_size,
                                      n_layer=12, dropout=0.1, norm="post")).eval()
    x, y = task.get_batch("train", 64, torch.Generator().manual_seed(seed))
    lm_loss(model(x), y).backward()
    first, second = dict(model.blocks[0].named_parameters()), dict(model.blocks[1].named_parameters())
    return tuple((name, (first[name].grad.norm().item(), second[name].grad.norm().item())) for name in first)


@checker("6.2")
def check_block1_parameter(attempt) -> str:
    """``attempt`` is the name (as in ``block.named_parameters()``) of block 1's parameter with the largest
    gradient norm at step 0."""
    grads = block1_gradients()
    if not isinstance(attempt, str):
        raise Hint(f"give the parameter's name as a string, e.g. 'attn.qkv.weight', not a {type(attempt).__name__}")
    name = attempt.strip()
    for prefix in ("model.blocks.0.", "blocks.0.", "0."):
        if name.startswith(prefix):
            name = name[len(prefix):]
    if name not in grads:
        raise Hint(f"{attempt!r} is not a parameter of a block; the names are {sorted(grads)}")
    best = max(grads, key=lambda n: grads[n][0])
    one, two = grads[name]
    if name == best:
        return (f"{name}: gradient norm {one:.3f} in block 1 against {two:.4f} in block 2. Block 1's first "
                "LayerNorm divides by the small standard deviation of the raw embeddings, and a bias has no "
                "input to cancel that.")
    if name.endswith("weight") and not name.startswith("norm"):
        raise Hint(f"{name}: {one:.4f} in block 1, {two:.4f} in block 2, hardly different. A weight's gradient is "
                   "its input times the gradient of its output; block 1's small input cancels the LayerNorm's "
                   "amplification. Look at a parameter with no input to multiply by")
    if name.startswith("norm"):
        raise Hint(f"{name}: {one:.4f} in block 1, {two:.4f} in block 2. The LayerNorm amplifies the gradient that "
                   "flows *into the sum before it*; look at what writes into that sum")
    raise Hint(f"{name}: {one:.4f} in block 1 ({one / max(two, 1e-30):.0f} times block 2's), but not the largest in "
               "block 1. Which sublayer's output is added straight into the sum that block 1's first LayerNorm "
               "normalises?")
