"""Autoregressive generation in JAX, three ways, and a counter for XLA compilations.

``jax.jit`` compiles one XLA program per distinct input *shape*. Generation makes
the input one token longer every step, so how a decoder is written decides how many
programs get compiled:

(a) :func:`generate_growing`: a jitted forward on the growing sequence, glued
    together by eager ``jnp`` calls. Every new length is a new shape, so the forward
    compiles once per length, and the eager slice and concatenate compile their own
    small programs per length too. Nearly all of its time is compiling.
(b) :func:`generate_padded`: the sequence lives in a fixed-size buffer; one jitted
    step runs the full forward over the whole buffer and writes the next token at
    position ``t`` (``t`` is a traced integer, not a shape). One compilation, but each
    step recomputes every position and pays a Python-to-XLA dispatch.
(c) :func:`generate_cached`: a fixed-size KV cache, and the *whole* decode (prompt and
    new tokens fed one position at a time by a ``lax.fori_loop``) inside one jitted
    function. One compilation, one dispatch, and each step computes only its own position.

All three pick tokens the same way (greedy by default; ``temperature``/``top_k``
sampling with an explicit ``key``), so with the same weights they return the same
tokens. :class:`CompileCounter` counts the compilations any of them triggers.
"""

from __future__ import annotations

import functools
import statistics
import time
from collections import Counter

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax import lax

from .model import GPT

BACKEND_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"


class CompileCounter:
    """Count the XLA compilations that happen inside a ``with`` block.

    JAX reports every backend compilation (every jitted function compiled for a new
    input signature, and every eager ``jnp`` operation run for the first time on a new
    shape) as a ``/jax/core/compile/backend_compile_duration`` event through
    ``jax.monitoring``; this listens for those events. Cache hits are not compiled and
    not counted. (A jitted function's ``_cache_size()`` is no substitute: it counts
    dispatch-cache entries, and a numpy and a jax array of the same shape get two entries
    that share one compiled program.) Attributes after the block: ``count``, ``seconds`` (summed compile
    time as JAX measured it) and ``names`` (a Counter of the compiled functions' names,
    e.g. ``"jit(_forward)"``).
    """

    def __init__(self):
        self.count = 0
        self.seconds = 0.0
        self.names: Counter = Counter()

    def _listener(self, event: str, duration_secs: float, **kwargs) -> None:
        if event == BACKEND_COMPILE_EVENT:
            self.count += 1
            self.seconds += duration_secs
            self.names[kwargs.get("fun_name", "?")] += 1

    def __enter__(self) -> "CompileCounter":
        jax.monitoring.register_event_duration_secs_listener(self._listener)
        return self

    def __exit__(self, *exc) -> None:
        jax.monitoring.unregister_event_duration_listener(self._listener)


def _as_prompt(prompt, config) -> np.ndarray:
    """The prompt as an int32 (B, P) numpy array, with clear errors for bad input."""
    try:
        ids = np.asarray(prompt)
    except Exception as error:  # e.g. a CUDA torch tensor
        raise TypeError(f"prompt must be array-like token ids, got {type(prompt).__name__}") from error
    if ids.ndim != 2 or ids.shape[1] == 0:
        raise ValueError(f"prompt must have shape (batch, time) with time >= 1, got {ids.shape}")
    if not np.issubdtype(ids.dtype, np.integer):
        raise TypeError(f"prompt must hold integer token ids, got dtype {ids.dtype}")
    if ids.size and (ids.min() < 0 or ids.max() >= config.vocab_size):
        raise ValueError(f"prompt token ids must lie in [0, {config.vocab_size})")
    return ids.astype(np.int32)


def _check_fits(prompt_len: int, max_new_tokens: int, block_size: int) -> None:
    """Fixed buffers must hold every position the decode will write.

    This check is what stands between a too-long request and silent garbage: inside
    ``jit`` the write positions are traced, and ``lax.dynamic_update_slice`` clamps an
    out-of-range start index instead of failing, so writing past the end would quietly
    overwrite the last slots.
    """
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be at least 1, got {max_new_tokens}")
    needed = prompt_len + max_new_tokens - 1  # the last new token is never fed back
    if needed > block_size:
        raise ValueError(
            f"a prompt of {prompt_len} tokens plus {max_new_tokens} new ones needs {needed} "
            f"positions, more than block_size {block_size}; shorten one of them"
        )


def _pick_next(logits, key, temperature, top_k):
    """The next token from ``logits`` (B, V): argmax when ``temperature`` is None, else a
    sample from softmax(logits / temperature), restricted to the ``top_k`` largest if given."""
    if temperature is None:
        return jnp.argmax(logits, axis=-1).astype(jnp.int32)
    logits = logits / temperature
    if top_k is not None:
        kth_largest = lax.top_k(logits, top_k)[0][:, -1:]
        logits = jnp.where(logits < kth_largest, -jnp.inf, logits)
    return jax.random.categorical(key, logits, axis=-1).astype(jnp.int32)


def _check_sampling(config, temperature, top_k, key) -> None:
    if temperature is None:
        return
    if not temperature > 0:
        raise ValueError(f"temperature must be positive (or None for greedy), got {temperature}")
    if top_k is not None and not 1 <= top_k <= config.vocab_size:
        raise ValueError(f"top_k must be in [1, vocab_size={config.vocab_size}], got {top_k}")
    if key is None:
        raise ValueError("sampling needs an explicit key: pass key=jax.random.key(seed)")


def _step_key(key, position):
    """The sampling key for the token at absolute ``position`` (the same in all three decoders)."""
    return None if key is None else jax.random.fold_in(key, position)


# ---------------------------------------------------------------------------
# (a) a jitted forward on a growing sequence
# ---------------------------------------------------------------------------


def _forward(graphdef, params, idx):
    return nnx.merge(graphdef, params)(idx)


# The graphdef (the module's structure) is static: part of the cache key, not traced.
forward_jit = jax.jit(_forward, static_argnums=0)


def generate_growing(model: GPT, prompt, max_new_tokens: int, *, temperature=None, top_k=None, key=None):
    """(a) Generate by calling a jitted forward on the whole, growing sequence each step.

    This is the straightforward port of minGPT's ``generate`` and the loop behind the
    notes' "inference speed after JIT is still slow": ``forward_jit`` meets a new
    shape every step and compiles for it (count with :class:`CompileCounter`), and the
    eager slice/concatenate around it compile small programs per length as well.
    Contexts longer than ``block_size`` are cropped to the last ``block_size`` tokens.
    Returns the (B, P + max_new_tokens) token ids.
    """
    config = model.config
    idx = jax.device_put(_as_prompt(prompt, config))
    if max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be non-negative, got {max_new_tokens}")
    _check_sampling(config, temperature, top_k, key)
    graphdef, params = nnx.split(model, nnx.Param)
    for _ in range(max_new_tokens):
        context = idx[:, -config.block_size :]
        logits = forward_jit(graphdef, params, context)  # (B, T, V): a new T every step
        next_id = _pick_next(logits[:, -1, :], _step_key(key, idx.shape[1]), temperature, top_k)
        idx = jnp.concatenate([idx, next_id[:, None]], axis=1)
    return idx


# ---------------------------------------------------------------------------
# (b) a fixed, padded buffer: one shape, full recompute each step
# ---------------------------------------------------------------------------


def _padded_step(graphdef, params, seq, t, key, temperature, top_k):
    """Write the token for position ``t`` into ``seq`` (B, N), N = prompt + new tokens.

    The forward reads positions 0 .. N-2 (the last token is never an input); slots
    at ``t`` and after hold padding, which the causal mask keeps out of position t-1.
    """
    model = nnx.merge(graphdef, params)
    logits = model(seq[:, :-1])  # (B, N-1, V): the whole buffer, every step
    last = lax.dynamic_index_in_dim(logits, t - 1, axis=1, keepdims=False)  # (B, V)
    next_id = _pick_next(last, key, temperature, top_k)
    return lax.dynamic_update_slice(seq, next_id[:, None], (0, t))


padded_step_jit = jax.jit(_padded_step, static_argnums=(0, 5, 6))


def generate_padded(model: GPT, prompt, max_new_tokens: int, *, temperature=None, top_k=None, key=None):
    """(b) Generate with a fixed-size buffer and one jitted step called from Python.

    ``t`` is passed as a traced integer, so every step has the same signature and
    ``padded_step_jit`` compiles once; the price is a full forward over the buffer
    each step and one dispatch per token. Returns the (B, P + max_new_tokens) ids.
    """
    config = model.config
    ids = _as_prompt(prompt, config)
    B, P = ids.shape
    _check_fits(P, max_new_tokens, config.block_size)
    _check_sampling(config, temperature, top_k, key)
    graphdef, params = nnx.split(model, nnx.Param)
    seq = np.zeros((B, P + max_new_tokens), np.int32)  # built on the host: nothing to compile
    seq[:, :P] = ids
    for t in range(P, P + max_new_tokens):  # t < P + max_new_tokens: always inside the buffer
        seq = padded_step_jit(graphdef, params, seq, t, _step_key(key, t), temperature, top_k)
    return seq


# ---------------------------------------------------------------------------
# (c) a fixed-size KV cache, the whole decode in one jitted function
# ---------------------------------------------------------------------------


def _decode(graphdef, params, prompt, key, max_new_tokens, temperature, top_k, return_logits):
    """Feed the sequence through the KV cache one position at a time, inside one fori_loop.

    Step ``pos`` (0 .. P+N-2) feeds the token at ``pos`` and predicts ``pos + 1``: while
    ``pos + 1`` is still in the prompt the prediction is discarded (the step only fills
    the cache), afterwards it is written into the sequence. Feeding the prompt through
    the same one-token step keeps a single copy of the model in the compiled program
    (a separate prompt pass would be faster for long prompts, but it puts a second copy
    of the model into the program, and compile time grows with the program). Returns the full sequence (B, P + N) and the logits (B, N, V) each
    new token was picked from (None when ``return_logits`` is False, which keeps them out
    of the compiled loop).
    """
    model = nnx.merge(graphdef, params)
    B, P = prompt.shape
    N = max_new_tokens
    L = P + N - 1  # every position that is ever an input (the last new token is not)
    seq = jnp.zeros((B, P + N), jnp.int32).at[:, :P].set(prompt)
    cache = model.new_kv_cache(B, L)
    step_logits = jnp.zeros((B, N, model.config.vocab_size), jnp.float32) if return_logits else None

    def body(pos, carry):
        seq, step_logits, cache = carry
        token = lax.dynamic_slice_in_dim(seq, pos, 1, axis=1)  # (B, 1)
        logits, cache = model.forward_with_cache(token, cache, pos)  # pos < L: inside the cache
        last = logits[:, -1]  # (B, V): the distribution for position pos + 1
        chosen = _pick_next(last, _step_key(key, pos + 1), temperature, top_k)
        given = lax.dynamic_index_in_dim(seq, pos + 1, axis=1, keepdims=False)
        keep_prompt = pos + 1 < P
        seq = lax.dynamic_update_slice(seq, jnp.where(keep_prompt, given, chosen)[:, None], (0, pos + 1))
        if return_logits:
            # New token j = pos + 1 - P. Prompt steps write slot 0, which step P-1 overwrites.
            slot = jnp.maximum(pos + 1 - P, 0)
            step_logits = lax.dynamic_update_slice(step_logits, last[:, None, :].astype(jnp.float32), (0, slot, 0))
        return seq, step_logits, cache

    seq, step_logits, _ = lax.fori_loop(0, L, body, (seq, step_logits, cache))
    return seq, step_logits


decode_jit = jax.jit(_decode, static_argnums=(0, 4, 5, 6, 7))


def generate_cached(
    model: GPT, prompt, max_new_tokens: int, *, temperature=None, top_k=None, key=None, return_logits=True
):
    """(c) Generate with a fixed-size KV cache, the whole decode in one jitted call.

    Compiles once per (model structure, prompt shape, max_new_tokens, sampling
    settings) and then runs without returning to Python between tokens. Returns
    ``(tokens, step_logits)``: the (B, P + max_new_tokens) ids and the (B,
    max_new_tokens, V) logits each new token was chosen from (these equal the full
    forward's logits at positions P-1 .. P+max_new_tokens-2), or None with
    ``return_logits=False`` (a slightly smaller program: tokens only, like the other two).
    """
    config = model.config
    ids = _as_prompt(prompt, config)
    _check_fits(ids.shape[1], max_new_tokens, config.block_size)
    _check_sampling(config, temperature, top_k, key)
    graphdef, params = nnx.split(model, nnx.Param)
    # A numpy prompt goes straight to the jitted function (jnp.asarray would compile a
    # small transfer program of its own for each new shape).
    return decode_jit(graphdef, params, ids, key, max_new_tokens, temperature, top_k, bool(return_logits))


# ---------------------------------------------------------------------------
# measuring the three decoders
# ---------------------------------------------------------------------------

DECODERS = {
    "growing": (generate_growing, "jit(_forward)"),
    "padded": (generate_padded, "jit(_padded_step)"),
    # tokens only, like the other two decoders
    "cached": (functools.partial(generate_cached, return_logits=False), "jit(_decode)"),
}


def measure_decoders(
    model: GPT, prompt, max_new_tokens: int, methods=("cached", "padded", "growing"), warm_repeats: int = 3
) -> list[dict]:
    """Time each decoder end to end, compilation included, then again warm; count compilations.

    The first ("cold") run of each method is timed with a :class:`CompileCounter`
    around it; it includes every compilation the method triggers, so run this on a
    model whose structure and prompt shape have not been decoded before in this
    process (the jitted functions keep their compiled programs). Then the method runs
    ``warm_repeats`` more times with everything compiled, and the median is kept.
    Returns one dict per method: ``method``, ``compiles`` (all XLA compilations in the
    cold run), ``main_compiles`` (those of the method's own jitted function),
    ``compile_seconds``, ``cold_seconds``, ``warm_seconds`` (wall clock), ``cold_cpu_seconds``,
    ``warm_cpu_seconds`` (this process's CPU time: on a machine shared with other jobs it
    is the steadier figure), ``cold_tokens_per_s``, ``warm_tokens_per_s`` (new tokens x
    batch per wall-clock second) and ``tokens`` (numpy).
    Greedy decoding: every method must return the same tokens (checked by callers).
    """
    batch = np.asarray(prompt).shape[0]
    rows = []
    for method in methods:
        if method not in DECODERS:
            raise ValueError(f"unknown decoder {method!r}; choose from {tuple(DECODERS)}")
        decode, main_name = DECODERS[method]

        def run():
            out = decode(model, prompt, max_new_tokens)
            out = out[0] if isinstance(out, tuple) else out
            return np.asarray(jax.block_until_ready(out))

        with CompileCounter() as compiles:
            start, cpu_start = time.perf_counter(), time.process_time()
            tokens = run()
            cold, cold_cpu = time.perf_counter() - start, time.process_time() - cpu_start
        warm, warm_cpu = [], []
        for _ in range(warm_repeats):
            start, cpu_start = time.perf_counter(), time.process_time()
            run()
            warm.append(time.perf_counter() - start)
            warm_cpu.append(time.process_time() - cpu_start)
        warm_median = statistics.median(warm) if warm else float("nan")
        new_tokens = batch * max_new_tokens
        rows.append(
            {
                "method": method,
                "compiles": compiles.count,
                "main_compiles": compiles.names[main_name],
                "compile_seconds": compiles.seconds,
                "cold_seconds": cold,
                "warm_seconds": warm_median,
                "cold_cpu_seconds": cold_cpu,
                "warm_cpu_seconds": statistics.median(warm_cpu) if warm_cpu else float("nan"),
                "cold_tokens_per_s": new_tokens / cold,
                "warm_tokens_per_s": new_tokens / warm_median if warm else float("nan"),
                "compiled_names": dict(compiles.names),
                "tokens": tokens,
            }
        )
    return rows
