"""The same GPT in JAX and Flax NNX: an optional second implementation next to the PyTorch one.

Nothing in the PyTorch package imports this subpackage, so ``import mingpt_lite``
never needs JAX. Importing ``mingpt_lite.jax_port`` does: install it with
``pip install .[jax]`` (JAX, Flax and Optax).

What is here:
- :class:`GPT` (``model.py``): pre-LN GPT with the PyTorch model's init rule, forward
  with explicit dropout keys, and a fixed-size KV cache for decoding.
- ``train.py``: the loss, AdamW with the PyTorch rule's weight-decay mask, and a
  training step that is a pure function of ``(params, opt_state, batch, key)``.
- ``convert.py``: :func:`from_torch` / :func:`to_torch` weight copies.
- ``generate.py``: generation three ways (growing sequence, padded buffer, KV cache
  in one jitted loop) and :class:`CompileCounter`, which counts XLA compilations.
"""

try:
    import flax  # noqa: F401
    import jax  # noqa: F401
    import optax  # noqa: F401
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "mingpt_lite.jax_port needs JAX, Flax and Optax, which are an optional extra: "
        "run `pip install .[jax]` (or `pip install 'mingpt-lite[jax]'`). "
        f"Missing: {error.name or error}"
    ) from error

from .convert import from_torch, to_torch
from .generate import (
    CompileCounter,
    generate_cached,
    generate_growing,
    generate_padded,
    measure_decoders,
)
from .model import GPT, MLP, Block, CausalSelfAttention, ResidualProjection, init_gpt_weights
from .train import (
    adamw,
    decay_mask,
    decay_mask_fn,
    evaluate_sort,
    lm_loss,
    load_params,
    make_nnx_train_step,
    make_train_step,
    sort_solved,
    split_params,
    train_sort,
)

__all__ = [
    "Block",
    "CausalSelfAttention",
    "CompileCounter",
    "GPT",
    "MLP",
    "ResidualProjection",
    "adamw",
    "decay_mask",
    "decay_mask_fn",
    "evaluate_sort",
    "from_torch",
    "generate_cached",
    "generate_growing",
    "generate_padded",
    "init_gpt_weights",
    "lm_loss",
    "load_params",
    "make_nnx_train_step",
    "make_train_step",
    "measure_decoders",
    "sort_solved",
    "split_params",
    "to_torch",
    "train_sort",
]
