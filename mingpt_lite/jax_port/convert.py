"""Copy weights between the PyTorch GPT and the Flax NNX GPT.

Both models use the same module names, so a parameter's PyTorch name is its Flax
path with Flax's leaf names translated: ``kernel`` -> ``weight`` (transposed: Flax
keeps (in, out), PyTorch (out, in)), ``embedding`` -> ``weight`` (same layout),
LayerNorm ``scale`` -> ``weight``, ``bias`` -> ``bias``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import torch
from flax import nnx

from ..model import GPT as TorchGPT
from .model import GPT

_LEAF_NAMES = {"kernel": "weight", "embedding": "weight", "scale": "weight", "bias": "bias"}


def torch_name(path) -> str:
    """The PyTorch state_dict key of the Flax parameter at ``path`` (a tuple of keys)."""
    *modules, leaf = (str(p) for p in path)
    if leaf not in _LEAF_NAMES:
        raise ValueError(f"no PyTorch name for Flax parameter {'/'.join(map(str, path))!r}")
    return ".".join([*modules, _LEAF_NAMES[leaf]])


def _flat_params(model: GPT) -> dict[tuple, jax.Array]:
    pure = nnx.to_pure_dict(nnx.state(model, nnx.Param))
    flat, _ = jax.tree_util.tree_flatten_with_path(pure)
    return {tuple(k.key for k in path): leaf for path, leaf in flat}


def from_torch(torch_model, *, rngs: nnx.Rngs | None = None) -> GPT:
    """A Flax :class:`GPT` with the same config and a copy of ``torch_model``'s weights.

    Every PyTorch parameter must be used exactly once; a mismatch names the tensors.
    """
    config = torch_model.config
    model = GPT(config, rngs=rngs or nnx.Rngs(0))
    source = {k: v.detach().to("cpu", torch.float32).numpy() for k, v in torch_model.state_dict().items()}
    used = set()
    pure = nnx.to_pure_dict(nnx.state(model, nnx.Param))

    def copy(path, leaf):
        keys = tuple(k.key for k in path)
        name = torch_name(keys)
        if name not in source:
            raise KeyError(f"PyTorch model has no tensor {name!r} for Flax parameter {keys}")
        value = source[name].T if keys[-1] == "kernel" else source[name]
        if value.shape != leaf.shape:
            raise ValueError(
                f"{name}: PyTorch shape {source[name].shape} does not fit Flax shape {leaf.shape}"
            )
        used.add(name)
        return jnp.asarray(value, dtype=leaf.dtype)

    pure = jax.tree_util.tree_map_with_path(copy, pure)
    unused = set(source) - used
    if config.tie_weights:  # the tied head is the token embedding, already copied
        unused.discard("lm_head.weight")
    if unused:
        raise ValueError(f"PyTorch tensors with no Flax counterpart: {sorted(unused)}")
    state = nnx.state(model, nnx.Param)
    nnx.replace_by_pure_dict(state, pure)
    nnx.update(model, state)
    return model


def to_torch(model: GPT):
    """A PyTorch ``mingpt_lite.GPT`` with the same config and a copy of ``model``'s weights."""
    torch_model = TorchGPT(model.config)
    state = {}
    for path, leaf in _flat_params(model).items():
        value = np.asarray(leaf)
        state[torch_name(path)] = torch.from_numpy(np.array(value.T if path[-1] == "kernel" else value))
    if model.config.tie_weights:
        state["lm_head.weight"] = state["token_embedding.weight"]
    # strict=True: a missing or unexpected tensor is an error naming it.
    torch_model.load_state_dict(state, strict=True)
    return torch_model
