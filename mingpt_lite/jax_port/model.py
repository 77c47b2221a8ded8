"""The GPT of ``mingpt_lite.model``, written again with JAX and Flax NNX.

Same architecture, same names: token and learned position embeddings, a stack of
pre-LN blocks (attention and a tanh-GELU MLP around a residual stream), a final
LayerNorm and an untied linear head. What changes is the style JAX asks for:

- Arrays are immutable. A KV cache is not written in place; a forward pass that
  uses one returns the updated cache (``forward_with_cache``).
- Randomness is explicit. Dropout takes a ``dropout_key`` argument, split once per
  dropout site; no key means no dropout (evaluation). The same key gives the same
  masks, on every run and inside ``jax.jit``.
- Parameters can be pulled out of the module as a plain pytree and put back
  (``nnx.split`` / ``nnx.merge``), so training and decoding are pure functions of
  ``(params, inputs)`` that ``jax.jit`` compiles once per input shape.

Shapes in comments: B batch, T new positions, L cache length, H heads,
D = n_embd / H, C = n_embd, V = vocab_size. Flax keeps a Linear weight as an
(in, out) ``kernel``: the transpose of PyTorch's (out, in) ``weight``.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from ..config import GPTConfig
from ..init import residual_std


def dropout(x, rate: float, key):
    """Inverted dropout with an explicit key: zero each entry with probability ``rate``
    and scale the rest by 1/(1-rate). ``key=None`` or ``rate=0`` returns ``x`` unchanged."""
    if key is None or rate == 0.0:
        return x
    keep = jax.random.bernoulli(key, 1.0 - rate, x.shape)
    return jnp.where(keep, x / (1.0 - rate), 0.0)


def _split_key(key, n: int):
    """``n`` independent keys from ``key`` (or ``n`` Nones when there is no key)."""
    return [None] * n if key is None else list(jax.random.split(key, n))


class ResidualProjection(nnx.Linear):
    """A Linear layer whose output is added to the residual stream.

    It behaves exactly like ``nnx.Linear``; its type is the marker that
    :func:`init_gpt_weights` uses to give it the smaller std, as in the PyTorch model.
    """


def _host_zeros(key, shape, dtype=jnp.float32):
    """A placeholder initializer: zeros made on the host and transferred, so building a
    module compiles nothing (``jnp.zeros`` would compile one tiny XLA program per shape).
    (``jax.device_put``: ``jnp.asarray`` of a numpy array compiles a small program too.)
    The real values come from :func:`init_gpt_weights`."""
    return jax.device_put(np.zeros(shape, dtype))


def _host_ones(key, shape, dtype=jnp.float32):
    """Like :func:`_host_zeros`, with ones (LayerNorm scales)."""
    return jax.device_put(np.ones(shape, dtype))


def init_gpt_weights(model: nnx.Module, n_layer: int, key, std: float = 0.02) -> None:
    """The PyTorch model's init rule, chosen by module type: N(0, std) for Linear
    kernels and Embed tables, N(0, std/sqrt(2*n_layer)) for every
    :class:`ResidualProjection`, zero biases, LayerNorm scale 1 and bias 0.

    All normal draws come from one ``jax.random.normal(key, (total,))`` call, cut into
    pieces in ``nnx.iter_modules`` order: the same key always gives the same weights,
    and the whole init compiles one XLA program rather than one per tensor shape.
    """
    drawn = []  # (variable, std) for every tensor that gets normal values
    for _, module in nnx.iter_modules(model):
        if isinstance(module, ResidualProjection):
            drawn.append((module.kernel, residual_std(n_layer, std)))
        elif isinstance(module, nnx.Linear):
            drawn.append((module.kernel, std))
        elif isinstance(module, nnx.Embed):
            drawn.append((module.embedding, std))
        elif isinstance(module, nnx.LayerNorm) and module.scale is not None:
            module.scale.set_value(_host_ones(None, module.scale.shape, module.scale.dtype))
        if isinstance(module, (nnx.Linear, nnx.LayerNorm)) and module.bias is not None:
            module.bias.set_value(_host_zeros(None, module.bias.shape, module.bias.dtype))
    total = sum(variable.size for variable, _ in drawn)
    noise = np.asarray(jax.random.normal(key, (total,), jnp.float32))
    offset = 0
    for variable, scale in drawn:
        piece = noise[offset : offset + variable.size].reshape(variable.shape)
        offset += variable.size
        variable.set_value(jax.device_put((scale * piece).astype(variable.dtype)))


# Every matrix product in full float32. JAX's default precision lets a GPU round float32 inputs
# to TF32 (10 mantissa bits) or bfloat16; rounding gpt-nano's matmul inputs to TF32 moved its
# logits by 1.5e-4, where this port promises PyTorch's logits within 1e-5 (PyTorch keeps
# float32 matmuls in float32 by default). On the CPU this changes nothing.
PRECISION = jax.lax.Precision.HIGHEST


def _matmul(a, b):
    """``a @ b`` at :data:`PRECISION`."""
    return jnp.matmul(a, b, precision=PRECISION)


def _linear(n_in: int, n_out: int, bias: bool, rngs: nnx.Rngs, kind=nnx.Linear) -> nnx.Linear:
    """A Linear layer (or :class:`ResidualProjection`) with placeholder values; see :func:`init_gpt_weights`."""
    return kind(n_in, n_out, use_bias=bias, kernel_init=_host_zeros, bias_init=_host_zeros,
                precision=PRECISION, rngs=rngs)


def _layer_norm(config: GPTConfig, rngs: nnx.Rngs) -> nnx.LayerNorm:
    # use_fast_variance=False: Flax's default computes E[x^2] - E[x]^2, which loses
    # digits against PyTorch's two-pass variance; the two-pass form matches it.
    return nnx.LayerNorm(
        config.n_embd,
        epsilon=config.layer_norm_eps,
        use_bias=config.bias,
        use_fast_variance=False,
        scale_init=_host_ones,
        bias_init=_host_zeros,
        rngs=rngs,
    )


class CausalSelfAttention(nnx.Module):
    """Multi-head causal self-attention, written out: scores, mask, softmax, weighted sum."""

    def __init__(self, config: GPTConfig, *, rngs: nnx.Rngs):
        self.n_head = config.n_head
        self.head_dim = config.head_dim
        self.dropout_rate = config.dropout
        self.qkv = _linear(config.n_embd, 3 * config.n_embd, config.bias, rngs)
        self.residual_proj = _linear(config.n_embd, config.n_embd, config.bias, rngs, ResidualProjection)

    def __call__(self, x, *, kv_cache=None, pos=0, dropout_key=None):
        """Attend over ``x`` (B, T, C); returns ``(y, new_kv_cache)``.

        Without a cache, keys are the T positions of ``x``. With one, a pair of
        (B, H, L, D) buffers, this call's keys and values are written at positions
        ``pos .. pos+T-1`` (a new array: JAX arrays are immutable) and the queries
        attend to all L slots, masked so that position ``pos+i`` sees slots ``<= pos+i``
        (slots past the written ones are masked, whatever they hold). ``pos`` may be a
        traced integer; the caller must keep ``pos + T <= L`` (see ``GPT.forward_with_cache``).
        """
        B, T, C = x.shape
        H, D = self.n_head, self.head_dim
        q, k, v = jnp.split(self.qkv(x), 3, axis=-1)  # each (B, T, C)
        # (B, T, C) -> (B, H, T, D): heads become a batch dimension.
        q, k, v = (a.reshape(B, T, H, D).transpose(0, 2, 1, 3) for a in (q, k, v))
        new_cache = None
        if kv_cache is not None:
            k_buf, v_buf = kv_cache
            k = jax.lax.dynamic_update_slice(k_buf, k.astype(k_buf.dtype), (0, 0, pos, 0))
            v = jax.lax.dynamic_update_slice(v_buf, v.astype(v_buf.dtype), (0, 0, pos, 0))
            new_cache = (k, v)
        S = k.shape[2]
        query_pos = pos + jnp.arange(T)  # absolute positions of this call's tokens
        key_pos = jnp.arange(S)
        mask = key_pos[None, :] <= query_pos[:, None]  # (T, S), True where a query may look
        # Divide by sqrt(D) so the scores' spread does not grow with the head size.
        scores = _matmul(q, k.swapaxes(-2, -1)) / math.sqrt(D)  # (B, H, T, S)
        scores = jnp.where(mask, scores, -jnp.inf)
        attn_key, resid_key = _split_key(dropout_key, 2)
        weights = dropout(jax.nn.softmax(scores, axis=-1), self.dropout_rate, attn_key)
        y = _matmul(weights, v).transpose(0, 2, 1, 3).reshape(B, T, C)  # re-join the heads
        y = dropout(self.residual_proj(y), self.dropout_rate, resid_key)
        return y, new_cache


class MLP(nnx.Module):
    """Widen 4x, GELU (tanh approximation, as GPT-2 and the PyTorch model), project back."""

    def __init__(self, config: GPTConfig, *, rngs: nnx.Rngs):
        self.dropout_rate = config.dropout
        self.expand = _linear(config.n_embd, 4 * config.n_embd, config.bias, rngs)
        self.residual_proj = _linear(4 * config.n_embd, config.n_embd, config.bias, rngs, ResidualProjection)

    def __call__(self, x, *, dropout_key=None):
        h = jax.nn.gelu(self.expand(x), approximate=True)
        return dropout(self.residual_proj(h), self.dropout_rate, dropout_key)


class Block(nnx.Module):
    """One transformer block; ``config.norm`` picks the LayerNorm placement as in PyTorch."""

    def __init__(self, config: GPTConfig, *, rngs: nnx.Rngs):
        self.norm = config.norm
        self.norm1 = _layer_norm(config, rngs)
        self.attn = CausalSelfAttention(config, rngs=rngs)
        self.norm2 = _layer_norm(config, rngs)
        self.mlp = MLP(config, rngs=rngs)

    def __call__(self, x, *, kv_cache=None, pos=0, dropout_key=None):
        """Transform the residual stream ``x`` (B, T, C); returns ``(x, new_kv_cache)``."""
        attn_key, mlp_key = _split_key(dropout_key, 2)

        def attend(h):
            return self.attn(h, kv_cache=kv_cache, pos=pos, dropout_key=attn_key)

        if self.norm == "pre":
            a, new_cache = attend(self.norm1(x))
            x = x + a
            x = x + self.mlp(self.norm2(x), dropout_key=mlp_key)
        elif self.norm == "post":
            a, new_cache = attend(x)
            x = self.norm1(x + a)
            x = self.norm2(x + self.mlp(x, dropout_key=mlp_key))
        else:  # "notes-bug": the block as first written in the author's notes
            x, new_cache = attend(x)
            x = x + self.norm1(x)
            x = self.mlp(x, dropout_key=mlp_key)
            x = x + self.norm2(x)
        return x, new_cache


def _check_token_ids(idx, config: GPTConfig) -> None:
    """Clear errors for ids that are not a (B, T) integer array that fits the model.
    The value range is only checked for concrete arrays (inside ``jit`` they are tracers)."""
    shape = getattr(idx, "shape", None)
    dtype = getattr(idx, "dtype", None)
    if shape is None or dtype is None:
        raise TypeError(f"token ids must be a jax or numpy array, got {type(idx).__name__}")
    if not jnp.issubdtype(dtype, jnp.integer):
        raise TypeError(f"token ids must be integers, got dtype {dtype}")
    if len(shape) != 2:
        raise ValueError(f"token ids must have shape (batch, time), got shape {tuple(shape)}")
    if shape[1] == 0:
        raise ValueError("token ids are empty: the sequence needs at least one token")
    if shape[1] > config.block_size:
        raise ValueError(
            f"sequence of length {shape[1]} is longer than block_size {config.block_size}; "
            f"crop the context to the last {config.block_size} tokens"
        )
    if not isinstance(idx, jax.core.Tracer) and idx.size:
        host = np.asarray(idx)  # min/max on the host: no XLA program to compile
        low, high = int(host.min()), int(host.max())
        if low < 0 or high >= config.vocab_size:
            raise ValueError(
                f"token ids must lie in [0, {config.vocab_size}) (vocab_size), "
                f"got values from {low} to {high}"
            )


class GPT(nnx.Module):
    """A decoder-only transformer language model in Flax NNX: ``logits = model(idx)``.

    ``GPT(config, rngs=nnx.Rngs(0))`` builds it and initialises the weights with the
    PyTorch model's rule from ``rngs.params()``. ``config.attention`` is ignored (there
    is one attention path, written out); every other field means what it means in PyTorch.
    """

    def __init__(self, config: GPTConfig, *, rngs: nnx.Rngs):
        # Kept as JSON text: static module attributes end up in nnx's graphdef, which
        # jax.jit hashes when it is a static argument, and a GPTConfig is not hashable.
        self.config_json = config.to_json()
        self.dropout_rate = config.dropout
        self.token_embedding = nnx.Embed(config.vocab_size, config.n_embd, embedding_init=_host_zeros, rngs=rngs)
        self.position_embedding = nnx.Embed(config.block_size, config.n_embd, embedding_init=_host_zeros, rngs=rngs)
        # Flax 0.12 refuses a plain Python list of submodules: nnx.List registers them.
        self.blocks = nnx.List([Block(config, rngs=rngs) for _ in range(config.n_layer)])
        self.final_norm = _layer_norm(config, rngs)
        if config.tie_weights:
            self.lm_head = None  # logits come from the token embedding (see _head)
        else:
            self.lm_head = _linear(config.n_embd, config.vocab_size, False, rngs)
        init_gpt_weights(self, config.n_layer, rngs.params())

    @property
    def config(self) -> GPTConfig:
        """The model's :class:`~mingpt_lite.config.GPTConfig` (a fresh copy on each access)."""
        return GPTConfig.from_json(self.config_json)

    def _head(self, x):
        x = self.final_norm(x)
        if self.lm_head is None:
            return _matmul(x, self.token_embedding.embedding[...].T)  # the tied head (Embed.attend, at PRECISION)
        return self.lm_head(x)

    def __call__(self, idx, *, dropout_key=None):
        """Logits (B, T, V) for token ids ``idx`` (B, T). Pass a ``dropout_key`` to train
        with dropout; without one the pass is deterministic (evaluation)."""
        _check_token_ids(idx, self.config)
        T = idx.shape[1]
        keys = _split_key(dropout_key, len(self.blocks) + 1)
        x = self.token_embedding(idx) + self.position_embedding(jnp.arange(T))  # (B, T, C)
        x = dropout(x, self.dropout_rate, keys[0])
        for block, key in zip(self.blocks, keys[1:]):
            x, _ = block(x, dropout_key=key)
        return self._head(x)

    def forward_with_cache(self, idx, kv_cache, pos):
        """Logits for ``idx`` (B, T) sitting at positions ``pos .. pos+T-1``, attending to
        ``kv_cache`` as well; returns ``(logits, new_kv_cache)``. No dropout (decoding).

        ``lax.dynamic_update_slice`` silently clamps a start index that would run past
        the buffer (it would overwrite the last slots instead of failing), so a concrete
        ``pos`` is checked here; with a traced ``pos`` (inside ``jit``) the caller must
        check the range before tracing, as the generate functions do.
        """
        _check_token_ids(idx, self.config)
        T = idx.shape[1]
        L = kv_cache[0][0].shape[2]
        if not isinstance(pos, jax.core.Tracer):
            if int(pos) < 0 or int(pos) + T > L:
                raise ValueError(
                    f"positions {int(pos)}..{int(pos) + T - 1} do not fit in a KV cache of length {L}"
                )
        positions = pos + jnp.arange(T)
        x = self.token_embedding(idx) + self.position_embedding(positions)
        new_cache = []
        for block, layer_cache in zip(self.blocks, kv_cache):
            x, layer_cache = block(x, kv_cache=layer_cache, pos=pos)
            new_cache.append(layer_cache)
        return self._head(x), tuple(new_cache)

    def new_kv_cache(self, batch_size: int, max_len: int | None = None, dtype=jnp.float32):
        """Zeroed keys and values for every layer: a tuple of (k, v), each (B, H, max_len, D)."""
        c = self.config
        max_len = c.block_size if max_len is None else max_len
        if not 0 < max_len <= c.block_size:
            raise ValueError(f"max_len must be in [1, block_size={c.block_size}], got {max_len}")
        shape = (batch_size, c.n_head, max_len, c.head_dim)
        return tuple((jnp.zeros(shape, dtype), jnp.zeros(shape, dtype)) for _ in range(c.n_layer))

    def num_parameters(self, include_head: bool = False) -> int:
        """Number of parameters; like minGPT's printout, the (untied) lm head is left out by default."""
        state = nnx.state(self, nnx.Param)
        total = sum(leaf.size for leaf in jax.tree.leaves(state))
        if not include_head and self.lm_head is not None:
            total -= self.lm_head.kernel.size
        return total
