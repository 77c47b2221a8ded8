"""Checkers for chapter 12 (JAX).

- 12.1: a prediction: how many times the growing-sequence decoder's jitted forward is compiled
  when it generates 20 tokens from a 1-token prompt with a context (block size) of 8.

The reference is the package's own decoder, :func:`mingpt_lite.jax_port.generate_growing`: the
checker runs it with a stand-in forward that records the shape of every input it is given, and
``jax.jit`` compiles one program per distinct input shape. (Counting real compilations would
depend on what this process compiled before: a cached program is not compiled again.)
"""

from __future__ import annotations

from ..config import GPTConfig
from . import Hint, checker

PROMPT, NEW_TOKENS, BLOCK = 1, 20, 8


def _shapes_fed_to_the_forward() -> list[tuple[int, ...]]:
    # jax and flax are optional dependencies: import them, and the package's JAX port that needs
    # them, only when 12.1 is checked, so `check` works for every other exercise without jax.
    import jax.numpy as jnp
    import numpy as np
    from flax import nnx

    from ..jax_port import GPT, generate
    from ..jax_port.generate import generate_growing

    model = GPT(GPTConfig(vocab_size=5, block_size=BLOCK, n_layer=1, n_head=1, n_embd=4, dropout=0.0),
                rngs=nnx.Rngs(0))
    seen = []
    real_forward = generate.forward_jit

    def spy(graphdef, params, idx):  # what forward_jit would be compiled for: one program per shape
        seen.append(tuple(idx.shape))
        return jnp.zeros((*idx.shape, model.config.vocab_size), jnp.float32)

    generate.forward_jit = spy
    try:
        generate_growing(model, np.zeros((1, PROMPT), np.int32), NEW_TOKENS)
    finally:
        generate.forward_jit = real_forward
    return seen


@checker("12.1")
def check_growing_compiles(attempt) -> str:
    """``attempt``: how many programs the growing loop's jitted forward needs for 20 new tokens
    from a 1-token prompt with block_size 8."""
    if isinstance(attempt, bool) or not isinstance(attempt, int):
        raise Hint(f"give a whole number of compilations, got {attempt!r}")
    shapes = _shapes_fed_to_the_forward()
    programs = len(set(shapes))
    if attempt == programs:
        return (f"{programs} programs for {len(shapes)} calls: the input grows from (1, {PROMPT}) to (1, {BLOCK}), "
                f"then every context is cropped to the last {BLOCK} tokens and has the same shape")
    if attempt == NEW_TOKENS:
        raise Hint(f"one per token would be right without the crop: once the sequence is longer than block_size "
                   f"{BLOCK}, the loop feeds only the last {BLOCK} tokens, always the same shape")
    if abs(attempt - programs) == 1:
        raise Hint(f"off by one: the first input is the {PROMPT}-token prompt itself, the last distinct one "
                   f"has {BLOCK} tokens; count the lengths in between")
    raise Hint(f"not {attempt}: list the input lengths the loop feeds to the forward, step by step, "
               "and count the distinct ones")
