"""Autoregressive generation: pick a next token, append it, repeat, with a KV cache.

minGPT's ``generate`` runs the whole context through the model for every new
token, so the t-th token costs a forward over t positions and a run of N tokens
costs O(N^2) token-forwards. Yet a past position's keys and values never change
once computed (attention is causal): only the newest position is new. A *KV
cache* keeps every layer's keys and values in preallocated buffers; generation
then does one **prefill** over the prompt and, per new token, one forward over a
single position that attends to everything cached.

The pieces, each usable on its own (chapter 7 walks through them):

* :func:`filter_logits` masks logits outside the top-k / top-p (nucleus) set;
* :func:`sample_next` turns the last position's logits into next tokens
  (greedy argmax, or sampling with temperature, top-k, top-p and a generator);
* :func:`cached_logits` computes a sequence's logits one position at a time
  through the cache, to compare with a full forward;
* :func:`generate` puts it together (``GPT.generate`` delegates here).

Learned absolute positions stop at ``block_size``: a cache cannot slide, because
every cached key was computed with its old position embedding. When a run would
pass ``block_size``, :func:`generate` falls back to what minGPT does: crop the
context to the last ``block_size`` tokens and recompute it for every further token.

A model with rotary positions (``GPTConfig(position="rotary")``, chapter 13) caches
its keys already rotated to their absolute positions, so the same cache and the
same loop serve it unchanged (tests/test_modern.py checks cache = full recompute for
every option). Its scores depend only on distances, so its cache could in principle
slide; it still crops like minGPT here, to stay within the distances it was trained on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import numbers

import torch

from .checks import check_token_ids

__all__ = ["cached_logits", "filter_logits", "generate", "repeated_share", "sample_next"]


# --- choosing the next token --------------------------------------------------------------

def _check_sampling_options(do_sample, temperature, top_k, top_p, generator) -> None:
    """Raise a clear error for a sampling option no distribution can be built from."""
    if not isinstance(do_sample, bool):
        raise TypeError(f"do_sample must be True or False, got {do_sample!r}")
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real):
        raise TypeError(f"temperature must be a number, got {temperature!r}")
    if not temperature >= 0:  # also catches NaN
        raise ValueError(f"temperature must be positive, got {temperature}")
    if do_sample and temperature == 0:
        raise ValueError(
            "temperature must be > 0 when sampling (logits / 0 is not a distribution); "
            "for greedy decoding pass do_sample=False"
        )
    if top_k is not None:
        if isinstance(top_k, bool) or not isinstance(top_k, numbers.Integral):
            raise TypeError(f"top_k must be a positive integer or None, got {top_k!r}")
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1 (or None for no limit), got {top_k}")
    if top_p is not None:
        if isinstance(top_p, bool) or not isinstance(top_p, numbers.Real):
            raise TypeError(f"top_p must be a number in (0, 1] or None, got {top_p!r}")
        if not 0.0 < top_p <= 1.0:  # also False for NaN
            raise ValueError(f"top_p must be in (0, 1] (the probability mass to keep), got {top_p}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")


def filter_logits(logits, *, top_k: int | None = None, top_p: float | None = None):
    """Set logits outside the top-k and then the top-p set to ``-inf``; shape (..., V) in and out.

    ``top_k`` keeps the k largest logits per row (ties with the k-th are kept too,
    as in minGPT). A ``top_k`` larger than the vocabulary keeps everything: minGPT's
    ``torch.topk`` raises there, but "at most k candidates" is well defined.

    ``top_p`` (nucleus sampling) keeps the smallest set of most probable tokens
    whose probability mass reaches ``top_p``; the most probable token is always
    kept, and ``top_p=1`` keeps everything. Apply temperature *before* this: it
    changes the probabilities that top-p measures (top-k does not care).
    """
    _check_sampling_options(False, 1.0, top_k, top_p, None)
    return _filter_logits(logits, top_k, top_p)


def _filter_logits(logits, top_k, top_p):
    vocab_size = logits.size(-1)
    if top_k is not None and top_k < vocab_size:
        kth_largest = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth_largest, float("-inf"))
    if top_p is not None and top_p < 1.0:
        # stable: equal logits keep their vocabulary order, so a tie at the edge is
        # always resolved the same way
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True, stable=True)
        sorted_probs = torch.softmax(sorted_logits, dim=-1)
        mass_before = sorted_probs.cumsum(dim=-1) - sorted_probs  # mass of the tokens ranked above
        drop_sorted = mass_before >= top_p  # the set already reached top_p without this token
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)  # back to vocab order
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


# Below this temperature sampling is greedy decoding. Dividing a logit of 10 by 1e-300 gives
# inf, two infs make inf - inf = NaN inside the softmax, and multinomial fails. Long before
# that, at 1e-6, any other token whose logit is 4e-5 or more below the best one has a
# probability under e^-40 of being drawn: the draw is the argmax already.
GREEDY_BELOW = 1e-6


def _next_token(logits, do_sample, temperature, top_k, top_p, generator):
    """:func:`sample_next` without the option checks (``generate`` checks once, not per token)."""
    if not do_sample or temperature < GREEDY_BELOW:
        # The argmax is the same for every positive temperature and inside every
        # top-k / top-p set, so greedy decoding ignores those options.
        return logits.argmax(dim=-1, keepdim=True)
    if temperature != 1.0:
        logits = logits / temperature
    logits = _filter_logits(logits, top_k, top_p)
    probs = torch.softmax(logits, dim=-1)
    return torch.multinomial(probs, num_samples=1, generator=generator)


def sample_next(
    logits,
    *,
    do_sample: bool = False,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
):
    """Next token ids (B, 1) from the last position's logits (B, V).

    Greedy (``do_sample=False``, the default) takes the argmax. Sampling divides the
    logits by ``temperature`` (< 1 sharpens, > 1 flattens; below ``GREEDY_BELOW`` = 1e-6,
    too small to divide by safely, it is greedy), keeps the ``top_k`` /
    ``top_p`` set (see :func:`filter_logits`) and draws from the softmax with
    ``torch.multinomial``; pass a seeded ``torch.Generator`` (on the logits' device)
    to get the same draws every run without touching the global RNG.
    """
    _check_sampling_options(do_sample, temperature, top_k, top_p, generator)
    if logits.dim() != 2:
        raise ValueError(f"logits must have shape (batch, vocab_size), got {tuple(logits.shape)}")
    _check_generator_device(generator, logits.device)
    return _next_token(logits, do_sample, temperature, top_k, top_p, generator)


def _check_generator_device(generator, device) -> None:
    if generator is not None and generator.device.type != device.type:
        raise ValueError(
            f"the generator lives on {generator.device} but the logits on {device}; "
            f"create it with torch.Generator(device={str(device)!r})"
        )


# --- the prompt and the model -------------------------------------------------------------

def _check_prompt(model, idx) -> None:
    """Clear errors for a prompt the model cannot read (ids, shape, range, device).

    Unlike a plain forward, a prompt may be longer than ``block_size``: only its last
    ``block_size`` tokens condition the model, as in minGPT.
    """
    config = model.config
    if isinstance(idx, torch.Tensor) and idx.dim() == 2 and idx.size(1) > config.block_size:
        config = dataclasses.replace(config, block_size=idx.size(1))  # check the long prompt whole
    check_token_ids(idx, config)  # not a tensor, not integer, not (B, T), empty, ids out of range
    if idx.size(0) == 0:
        raise ValueError(f"the prompt has no sequences: shape {tuple(idx.shape)}")
    device = next(model.parameters()).device
    if idx.device != device:
        raise ValueError(f"the prompt is on {idx.device} but the model on {device}; move it with idx.to({str(device)!r})")


def _check_count(max_new_tokens) -> None:
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, numbers.Integral):
        raise TypeError(f"max_new_tokens must be an integer, got {max_new_tokens!r}")
    if max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens}")


@contextlib.contextmanager
def _eval_mode(model):
    """Put every submodule in eval mode (no dropout), then put each one back as it was."""
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training


# --- the cache, step by step ----------------------------------------------------------------

@torch.inference_mode()
def _cached_logits(model, idx, prefill):
    B, T = idx.shape
    cache = model.new_kv_cache(B, T)
    # idx was checked once by the caller: no forward reads its range back again
    steps = [model(idx[:, :prefill], kv_cache=cache, pos=0, check_range=False)]  # one forward over the prompt
    for pos in range(prefill, T):  # then one position per forward
        steps.append(model(idx[:, pos : pos + 1], kv_cache=cache, pos=pos, check_range=False))
    return torch.cat(steps, dim=1)


def cached_logits(model, idx, prefill: int = 1):
    """Logits (B, T, V) for ``idx`` (B, T) computed the way cached generation does.

    The first ``prefill`` tokens go through the model at once (filling the cache),
    the rest one position at a time, each attending to the cached keys and values.
    The result should equal ``model(idx)`` up to float rounding: this is the function
    the equivalence tests and chapter 7 compare with a full forward. Runs in eval
    mode without gradients and leaves the model's train/eval state as it was.
    """
    check_token_ids(idx, model.config)
    if isinstance(prefill, bool) or not isinstance(prefill, numbers.Integral) or not 1 <= prefill <= idx.size(1):
        raise ValueError(f"prefill must be an integer in [1, {idx.size(1)}] (the sequence length), got {prefill!r}")
    with _eval_mode(model):
        return _cached_logits(model, idx, int(prefill)).clone()  # clone: a normal tensor, not an inference one


# --- generate -----------------------------------------------------------------------------

def generate(
    model,
    idx,
    max_new_tokens: int,
    *,
    do_sample: bool = False,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
    use_cache: bool = True,
):
    """Continue each sequence of ``idx`` (B, T) by ``max_new_tokens`` tokens; returns (B, T + max_new_tokens).

    Greedy by default; ``do_sample=True`` samples with ``temperature``, ``top_k``
    (clamped to the vocabulary) and ``top_p`` (see :func:`sample_next`), drawing from
    ``generator`` when given, so a seeded generator repeats a run exactly.

    With ``use_cache=True`` (the default) the keys and values of every layer are kept
    in buffers preallocated for the whole run: one prefill over the prompt, then one
    position per token. ``use_cache=False`` recomputes the whole context for every
    token, as minGPT does; both give the same tokens (the logits agree to float
    rounding, which can only matter where the two best logits tie that closely).

    Positions are learned up to ``block_size``. Once a sequence would need a position
    past it, the cache is dropped and each further token is computed from the last
    ``block_size`` tokens by a full forward (minGPT's cropping): slower, but exactly
    what the model was trained to see. A prompt longer than ``block_size`` starts in
    that mode.

    The model runs in eval mode (no dropout) under ``torch.inference_mode``; its
    train/eval state is put back afterwards, and the returned tensor is an ordinary
    one (usable in a later training step).
    """
    _check_prompt(model, idx)
    _check_count(max_new_tokens)
    _check_sampling_options(do_sample, temperature, top_k, top_p, generator)
    if do_sample:
        _check_generator_device(generator, idx.device)
    if not isinstance(use_cache, bool):
        raise TypeError(f"use_cache must be True or False, got {use_cache!r}")
    with _eval_mode(model):
        tokens = _generate(
            model, idx, int(max_new_tokens), (do_sample, temperature, top_k, top_p, generator), use_cache
        )
    return tokens.clone()  # made outside inference mode: an ordinary tensor


@torch.inference_mode()
def _generate(model, idx, max_new_tokens, sampling, use_cache):
    block_size = model.config.block_size
    B, prompt_len = idx.shape
    total = prompt_len + max_new_tokens
    # The output is allocated once and filled in place (no torch.cat per token).
    tokens = idx.new_empty(B, total)
    tokens[:, :prompt_len] = idx
    n = prompt_len  # tokens known so far
    if n == total:
        return tokens

    # The prompt was checked once (_check_prompt), and every later id comes from an argmax or a
    # draw over the vocabulary, so no forward here reads the ids' range back (check_range=False):
    # off the CPU each such read is a host sync, two per token (min and max) on the recompute path.
    # The last new token is never fed back, so positions 0 .. total-2 are the most a
    # run can need: a 1-token prompt and block_size - 1 new tokens fit exactly.
    cache_len = min(total - 1, block_size)
    if use_cache and prompt_len <= cache_len:
        cache = model.new_kv_cache(B, cache_len)
        logits = model(tokens[:, :n], kv_cache=cache, pos=0, check_range=False)[:, -1]  # prefill
        while True:
            tokens[:, n : n + 1] = _next_token(logits, *sampling)
            n += 1
            if n == total or n > cache_len:  # done, or the next position is past block_size
                break
            logits = model(tokens[:, n - 1 : n], kv_cache=cache, pos=n - 1, check_range=False)[:, -1]
        del cache

    # Without a cache, or once the cache is full: recompute the (cropped) context.
    while n < total:
        logits = model(tokens[:, max(0, n - block_size) : n], check_range=False)[:, -1]
        tokens[:, n : n + 1] = _next_token(logits, *sampling)
        n += 1
    return tokens


def repeated_share(text: str, n: int = 10) -> float:
    """Fraction of the ``n``-character windows of ``text`` that already occurred earlier in it.

    A measure of a sample looping on itself (chapter 7): greedy decoding of a small
    character model often scores near 1, sampled text near 0.
    """
    if len(text) < n:
        raise ValueError(f"text of {len(text)} characters has no {n}-character window")
    seen, repeats = set(), 0
    for i in range(len(text) - n + 1):
        repeats += text[i : i + n] in seen
        seen.add(text[i : i + n])
    return repeats / (len(text) - n + 1)
