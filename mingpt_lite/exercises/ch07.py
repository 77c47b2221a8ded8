"""Checkers for chapter 07 (generation and the KV cache).

- 7.1: ``my_top_p(logits, p)``, the nucleus filter: logits (..., V) in, the same logits out with
  every token outside the top-p set at ``-inf``.
- 7.2: ``my_probs(logits, temperature, top_p)``, the distribution a sampler draws the next
  token from: temperature first, then the top-p filter, then the softmax.
- 7.3: ``my_cache_write(k_buf, v_buf, k, v, pos)``, one attention layer's cache step: write the
  new keys and values at positions ``pos .. pos+T-1`` of the preallocated buffers and return the
  keys and values the new queries attend to.

References: :func:`mingpt_lite.generation.filter_logits` for 7.1 and 7.2, and the buffers the
model's own attention layers fill during cached generation for 7.3; no copy of a solution lives here.
"""

from __future__ import annotations

import torch

from ..config import GPTConfig
from ..generation import filter_logits
from ..model import GPT
from . import Hint, checker
from .kit import close, largest_difference, match_variants, require_tensor

# --- shared: logits to test on ---------------------------------------------------------------


def _test_logits() -> list[tuple[torch.Tensor, float]]:
    """(logits, p) cases: a row whose top token alone exceeds p, a hand-made row where the token
    crossing p matters, shuffled rows (vocabulary order is not probability order), a batch."""
    g = torch.Generator().manual_seed(7)
    crossing = torch.tensor([[0.2, 0.5, 0.3]]).log()  # sorted: 0.5, 0.3, 0.2; p = 0.6 keeps 0.5 and 0.3
    confident = torch.tensor([[0.5, 0.0, 4.0, 1.0]])   # top token alone holds 0.91
    batch = torch.randn(4, 40, generator=g) * 2.0
    return [(confident, 0.5), (crossing, 0.6), (batch, 0.9), (batch, 0.5), (batch[:1], 0.99)]


def _kept(logits: torch.Tensor) -> torch.Tensor:
    return torch.isfinite(logits)


def _drops_crossing_token(kept: torch.Tensor, logits: torch.Tensor, p: float) -> bool:
    """Whether ``kept`` is the commonest mistake's set, ``cumsum <= p`` (or ``< p``), which drops the
    token whose probability carries the mass past p."""
    probs, order = logits.softmax(-1).sort(dim=-1, descending=True)
    cumulative = probs.cumsum(-1)
    return any(torch.equal(kept, torch.zeros_like(keep).scatter(-1, order, keep))
               for keep in (cumulative <= p, cumulative < p))


_CROSSING_HINT = ("you drop the token that carries the mass past p = {p} (a `cumsum <= p` test): the nucleus is "
                  "the smallest set whose mass *reaches* p, so that token stays. Keep a token when the mass of "
                  "the tokens ranked above it is still below p")


# --- 7.1: the top-p filter -------------------------------------------------------------------


def _diagnose_top_p(out: torch.Tensor, logits: torch.Tensor, p: float) -> None:
    """Raise a Hint if ``out`` is not the top-p filtered ``logits``."""
    ref = filter_logits(logits, top_p=p)
    require_tensor(out, logits.shape, what="my_top_p",
                   fix="Return logits of the same shape as the input, with -inf outside the nucleus")
    kept, kept_ref = _kept(out), _kept(ref)
    if kept.all(dim=-1).all() and not kept_ref.all():
        sums = out.sum(dim=-1)
        if (out >= 0).all() and torch.allclose(sums, torch.ones_like(sums), atol=1e-4):
            raise Hint("you returned probabilities: return the *logits* with the dropped tokens set to -inf; the "
                       "sampler's softmax renormalises the kept ones by itself")
        raise Hint("nothing was set to -inf: mark the dropped tokens with float('-inf'), not 0 (a zero logit "
                   "still has probability)")
    if not kept.any(dim=-1).all():
        if _drops_crossing_token(kept, logits, p):
            raise Hint(_CROSSING_HINT.format(p=p) + ". Here the most probable token alone holds more than p, "
                       "so dropping the crossing token left the row empty")
        raise Hint("a row kept no token at all: always keep the most probable one (when it alone holds more "
                   f"than p = {p}, the nucleus is that single token)")
    probs = logits.softmax(-1)
    # every kept token must be at least as probable as every dropped one
    lowest_kept = torch.where(kept, probs, torch.inf).min(dim=-1).values
    highest_dropped = torch.where(kept, -torch.inf, probs).max(dim=-1).values
    if (highest_dropped > lowest_kept).any():
        raise Hint("your kept set is not the most probable tokens: sort the probabilities in descending order "
                   "before accumulating the mass (the vocabulary order is arbitrary)")
    n, n_ref = kept.sum(-1), kept_ref.sum(-1)
    if (n < n_ref).any():
        raise Hint(_CROSSING_HINT.format(p=p))
    if (n > n_ref).any():
        raise Hint(f"you keep more tokens than the smallest set whose mass reaches p = {p}: once the tokens "
                   "ranked above a token already hold p, that token is dropped")
    top = logits.argmax(dim=-1, keepdim=True)                       # always kept
    shift = (out - ref).gather(-1, top)                               # (..., 1): the row's constant, if any
    drift = torch.where(kept_ref, out - ref - shift, torch.zeros_like(ref))
    if not torch.allclose(drift, torch.zeros_like(drift), atol=1e-5):
        raise Hint("the kept logits changed: leave them as they were (or shift a whole row by one constant); "
                   "only the dropped ones become -inf")


@checker("7.1")
def check_top_p(attempt) -> str:
    """``attempt(logits, p)`` must keep the same tokens as ``filter_logits(logits, top_p=p)``."""
    if not callable(attempt):
        raise Hint("pass your function itself, my_top_p, which takes (logits, p)")
    cases = _test_logits()
    for logits, p in cases:
        given = logits.clone()
        out = attempt(given, p)
        if not torch.equal(given, logits):
            raise Hint("your function changed the logits it was given (an in-place masked_fill_ or sort_?); "
                       "work on a copy")
        _diagnose_top_p(out, logits, p)
    return (f"your filter keeps the same tokens as filter_logits(top_p=p) on {len(cases)} cases, including the "
            "token that crosses p and a token that alone holds more than p")


# --- 7.2: temperature, then top-p, then softmax ------------------------------------------------


def _reference_probs(logits, temperature, top_p):
    return filter_logits(logits / temperature, top_p=top_p).softmax(-1)


@checker("7.2")
def check_sampling_probs(attempt) -> str:
    """``attempt(logits, temperature, top_p)`` must return the distribution ``sample_next`` draws from."""
    if not callable(attempt):
        raise Hint("pass your function itself, my_probs, which takes (logits, temperature, top_p)")
    g = torch.Generator().manual_seed(11)
    logits = torch.randn(3, 30, generator=g) * 2.0
    cases = [(0.5, None), (2.0, None), (2.0, 0.8), (0.7, 0.8), (1.0, 0.9)]
    for temperature, top_p in cases:
        out = attempt(logits.clone(), temperature, top_p)
        want = _reference_probs(logits, temperature, top_p)
        require_tensor(out, want.shape, what="my_probs", fix="Return probabilities with the logits' shape")
        if close(out, want, atol=1e-6):
            continue
        setting = f"(temperature={temperature}, top_p={top_p})"
        sums = out.sum(-1)
        if not torch.allclose(sums, torch.ones_like(sums), atol=1e-4) or (out < 0).any():
            raise Hint(f"each row must be a probability distribution, non-negative and summing to 1 {setting}; "
                       f"yours sum to {[round(v, 4) for v in sums.tolist()]}. Finish with a softmax over the "
                       "filtered logits")
        variants = [(filter_logits(logits * temperature, top_p=top_p).softmax(-1),
                     f"you multiplied the logits by the temperature {setting}: divide them, so that T > 1 "
                     "flattens the distribution and T < 1 sharpens it")]
        if top_p is not None:
            variants.append(((filter_logits(logits, top_p=top_p) / temperature).softmax(-1),
                             f"you applied top-p before the temperature {setting}: the temperature changes the "
                             "probabilities that top-p measures, so divide first, then filter"))
        variants.append((_reference_probs(logits, 1.0, top_p), f"the temperature has no effect in your attempt {setting}"))
        if top_p is not None:
            variants.append((_reference_probs(logits, temperature, None),
                             f"top_p has no effect in your attempt {setting}: filter the tempered logits with it"))
        match_variants(out, variants, rtol=1e-5, atol=1e-6)
        raise Hint(f"your distribution differs from the sampler's {setting} by up to "
                   f"{largest_difference(out, want):.3g}")
    return f"your distribution equals the sampler's for {len(cases)} (temperature, top_p) settings"


# --- 7.3: one cache write -------------------------------------------------------------------


def _cache_case():
    """A tiny model's layer-0 key and value buffers before and after the model's own cache steps:
    a prefill of 3 positions, then a decode step at position 3 (of 6)."""
    with torch.random.fork_rng(devices=[]):  # leave the reader's global RNG as it was
        torch.manual_seed(5)
        model = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=8, dropout=0.0)).eval()
    ids = torch.randint(11, (2, 6), generator=torch.Generator().manual_seed(5))
    cache = model.new_kv_cache(2, 6)                       # [(k_buf, v_buf)], each (2, 2, 6, 4)
    with torch.no_grad():
        model(ids[:, :3], kv_cache=cache, pos=0)
        after_prefill = [t.clone() for t in cache[0]]
        model(ids[:, 3:4], kv_cache=cache, pos=3)
        after_step = [t.clone() for t in cache[0]]
    empty = [torch.zeros_like(t) for t in after_prefill]
    return [
        # (buffers before, new k, new v, pos, buffers after)
        (empty, after_prefill[0][:, :, 0:3], after_prefill[1][:, :, 0:3], 0, after_prefill),
        (after_prefill, after_step[0][:, :, 3:4], after_step[1][:, :, 3:4], 3, after_step),
    ]


def _landed_at(buf: torch.Tensor, new: torch.Tensor) -> list[int]:
    T = new.size(2)
    return [start for start in range(buf.size(2) - T + 1) if torch.equal(buf[:, :, start:start + T], new)]


@checker("7.3")
def check_cache_write(attempt) -> str:
    """``attempt(k_buf, v_buf, k, v, pos)`` must write in place what the model's attention writes,
    and return the keys and values of positions 0 .. pos+T-1."""
    if not callable(attempt):
        raise Hint("pass your function itself, my_cache_write, which takes (k_buf, v_buf, k, v, pos)")
    for before, k, v, pos, after in _cache_case():
        k_buf, v_buf = before[0].clone(), before[1].clone()
        T = k.size(2)
        try:
            result = attempt(k_buf, v_buf, k.clone(), v.clone(), pos)
        except RuntimeError as err:
            if "size" in str(err) or "shape" in str(err):
                raise Hint(f"a shape error ({str(err).splitlines()[0]}): the buffers are (B, H, L, D) = "
                           f"{tuple(k_buf.shape)} and the new k, v are (B, H, T, D) = {tuple(k.shape)}; positions "
                           "are dimension 2, so write k_buf[:, :, pos:pos + T]") from None
            raise
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise Hint("return a pair (keys, values): what the new queries attend to")
        keys, values = result
        call = f"(prefill of {T} positions at pos={pos})" if T > 1 else f"(one decode step at pos={pos})"
        if torch.equal(k_buf, before[0]) and torch.equal(v_buf, before[1]):
            raise Hint(f"the buffers were not written {call}: write into k_buf and v_buf in place; the next step "
                       "reads the buffers, not your return value")
        if torch.equal(k_buf, after[1]) or torch.equal(v_buf, after[0]):
            raise Hint(f"keys and values are swapped {call}: k goes into k_buf, v into v_buf")
        if not torch.equal(k_buf, after[0]) or not torch.equal(v_buf, after[1]):
            landed = _landed_at(k_buf, k)
            if landed and pos not in landed:
                raise Hint(f"your new keys landed at position {landed[0]} {call}; they belong at positions "
                           f"pos .. pos+T-1 = {pos} .. {pos + T - 1}")
            raise Hint(f"the buffers differ from what the model's attention writes {call}: only positions "
                       f"{pos} .. {pos + T - 1} may change, and they must hold the new k and v")
        if not isinstance(keys, torch.Tensor) or not isinstance(values, torch.Tensor):
            raise Hint("return two tensors, the keys and the values")
        if keys.shape != after[0][:, :, : pos + T].shape:
            if keys.shape == k_buf.shape:
                raise Hint(f"you returned the whole buffer {call}: return only the positions written so far, "
                           "k_buf[:, :, :pos + T]; the zero keys past them would get attention weight (a zero "
                           "key scores 0, not -inf)")
            if keys.shape == k.shape and pos > 0:
                raise Hint(f"you returned only the new keys {call}: the new query attends to every cached "
                           "position 0 .. pos+T-1, so return k_buf[:, :, :pos + T]")
            raise Hint(f"the returned keys should be (B, H, pos+T, D) = {tuple(after[0][:, :, : pos + T].shape)} "
                       f"{call}, got {tuple(keys.shape)}")
        if not torch.equal(keys, after[0][:, :, : pos + T]) or not torch.equal(values, after[1][:, :, : pos + T]):
            raise Hint(f"the returned keys or values differ from the buffers' positions 0 .. {pos + T - 1} {call}")
    return ("your cache write fills the buffers exactly as the model's attention does, for a 3-position prefill "
            "and a decode step at pos=3, and returns the positions the new queries attend to")
