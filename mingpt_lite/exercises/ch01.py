"""Checkers for chapter 01 (attention).

- 1.1: a causal attention function ``my_attention(q, k, v)`` for q, k, v of shape (..., T, D),
  returning the output (..., T, D) (or ``(output, weights)``, like the chapter's ``attend``).
- 1.2: a prediction: which future positions' tokens reach the logits at one position of
  gpt-nano when each layer's mask lets a position see one step ahead.
- 1.3: the (T, T) weights of a hand-built "previous token" head.

Each compares with the package's own code (:func:`mingpt_lite.attention.explicit_attention`,
:class:`mingpt_lite.model.GPT` and its causal-mask buffers), never with a copy of a solution.
The diagnoses below name a mistake by the *property* it breaks (a future position changes the
output, the rows of the weights do not sum to one...) or by the package's reference computed
with one ingredient changed (no 1/sqrt(d), softmax over the other axis).
"""

from __future__ import annotations

import math

import torch

from ..attention import explicit_attention
from ..config import GPTConfig
from ..model import GPT
from . import Hint, checker

_ATOL = 1e-9  # float64 inputs: a correct attempt agrees to ~1e-15


def _causal(T: int) -> torch.Tensor:
    return torch.ones(T, T, dtype=torch.bool).tril()


def _output(result):
    """The attempt's output: the tensor itself, or the first element of an (output, weights) pair."""
    if isinstance(result, (tuple, list)):
        if not result:
            raise Hint("your function returned an empty tuple; return the output (..., T, D)")
        result = result[0]
    if not isinstance(result, torch.Tensor):
        raise Hint(f"your function returned a {type(result).__name__}; return a tensor of shape (..., T, D)")
    return result


def _inputs(shape, seed):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(*shape, generator=g, dtype=torch.float64) for _ in range(3))


def _matches(y, reference) -> bool:
    return y.shape == reference.shape and torch.allclose(y, reference, rtol=0, atol=_ATOL)


@checker("1.1")
def check_causal_attention(attempt) -> str:
    """``attempt(q, k, v)`` computes causal scaled dot-product attention over the last two axes."""
    # Unbatched first: (T, D) with T != D, so that a transposed result cannot pass by its shape.
    T, D = 6, 4
    q, k, v = _inputs((T, D), seed=1)
    reference, _ = explicit_attention(q, k, v, _causal(T))
    y = _output(attempt(q, k, v))
    if y.shape == (T, T):
        raise Hint(f"your function returned a ({T}, {T}) tensor: those are the weights. "
                   "The output is the weighted average of the values, weights @ v, of shape (T, D)")
    if y.shape != (T, D):
        raise Hint(f"wrong shape: for q, k, v of shape ({T}, {D}) the output must be ({T}, {D}), got {tuple(y.shape)}")
    _diagnose(attempt, y, q, k, v, reference)

    # Batched: (B, H, T, D), the layout of chapter 01's section 4.
    qb, kb, vb = _inputs((2, 3, 7, 4), seed=2)
    reference_b, _ = explicit_attention(qb, kb, vb, _causal(7))
    try:
        yb = _output(attempt(qb, kb, vb))
    except Hint:
        raise
    except Exception as err:
        raise Hint("your function works on (T, D) inputs but fails on batched (B, H, T, D) ones "
                   f"({type(err).__name__}: {err}). Use k.transpose(-2, -1) rather than k.T, and "
                   "sizes from q.shape[-2:]") from None
    if yb.shape != reference_b.shape:
        raise Hint(f"wrong shape on batched input: q of shape (2, 3, 7, 4) must give (2, 3, 7, 4), got {tuple(yb.shape)}. "
                   "Use k.transpose(-2, -1) rather than k.T, and sizes from q.shape[-2:]")
    if not _matches(yb, reference_b):
        raise Hint("right on a single (T, D) sequence but wrong on a batch of shape (2, 3, 7, 4): "
                   "transpose only the last two axes of k (k.transpose(-2, -1)), and take T and D "
                   "from q.shape[-2:]")
    return "causal, scaled by 1/sqrt(d), softmax over the keys; equal to mingpt_lite's explicit_attention."


def _diagnose(attempt, y, q, k, v, reference) -> None:
    """Raise the most specific hint for an unbatched output ``y`` that differs from ``reference``."""
    if _matches(y, reference):
        return
    T, D = q.shape
    weights = torch.softmax(q @ k.T / math.sqrt(D), dim=-1)
    variants = {
        "no_scale": explicit_attention(q * math.sqrt(D), k, v, _causal(T))[0],
        "scale_1_over_d": explicit_attention(q / math.sqrt(D), k, v, _causal(T))[0],
        "masked_after_softmax": (weights * _causal(T)) @ v,
    }
    scores = (q @ k.T / math.sqrt(D)).masked_fill(~_causal(T), float("-inf"))
    over_queries = torch.softmax(scores, dim=0)  # each column sums to one instead of each row
    variants["softmax_over_queries"] = over_queries @ v
    if _matches(y, variants["no_scale"]):
        raise Hint("missing the 1/sqrt(d) factor: divide the scores q @ k^T by math.sqrt(D) before the softmax "
                   "(D = q.size(-1), the width of a query)")
    if _matches(y, variants["scale_1_over_d"]):
        raise Hint("the scores are divided by d instead of sqrt(d): use math.sqrt(q.size(-1))")
    if _matches(y, variants["masked_after_softmax"]):
        raise Hint("you zeroed the future weights after the softmax, so the rows no longer sum to one. "
                   "Mask the scores with -inf before the softmax; the softmax then renormalises each row")
    if _matches(y, variants["softmax_over_queries"]):
        raise Hint("softmax over the wrong dimension: each query's weights (a row of the (T, T) matrix, "
                   "dim=-1) must sum to one, not each key's column (dim=-2)")
    # Leak: change only the last position's key and value; every earlier output must stay put.
    k2, v2 = k.clone(), v.clone()
    k2[-1] += 1.0
    v2[-1] += 1.0
    y2 = _output(attempt(q, k2, v2))
    moved = (y2[:-1] - y[:-1]).abs().amax(dim=-1) > _ATOL  # (T-1,) which earlier rows changed
    if moved.any():
        first = int(moved.nonzero()[0])
        raise Hint(f"your attention leaks future positions: changing only the key and value at position {T - 1} "
                   f"changed the output at position {first}. Set the scores above the diagonal (key s > query t) "
                   "to -inf before the softmax")
    first = int(((y - reference).abs().amax(dim=-1) > _ATOL).nonzero()[0])
    raise Hint(f"the output differs from the reference from position {first} on "
               f"(largest difference {(y - reference).abs().max().item():.3g}). Check the order: scores = "
               "q @ k^T / sqrt(D), -inf above the diagonal, softmax over the last axis, then @ v")


# --- 1.2: how far a one-step-ahead mask leaks through gpt-nano's layers

_LEAK_T = 12
_LEAK_POSITION = 2


def _leak_reach(t: int = _LEAK_POSITION, T: int = _LEAK_T, diagonal: int = 1) -> list[int]:
    """The positions s > t whose token embedding gets a non-zero gradient from the logits at
    position ``t``, in gpt-nano (3 layers, explicit attention, float64) whose every block's
    causal mask is ``tril(diagonal=diagonal)``. With ``diagonal=0`` (the real mask) it is empty."""
    config = GPTConfig.from_preset("gpt-nano", vocab_size=10, block_size=T, dropout=0.0, attention="explicit")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = GPT(config).double().eval()
        idx = torch.randint(0, 10, (1, T))
    for block in model.blocks:
        block.attn.causal_mask.copy_(torch.ones(T, T, dtype=torch.bool).tril(diagonal=diagonal))
    captured = {}

    def keep(module, inputs, output):
        output.retain_grad()
        captured["embedding"] = output

    hook = model.token_embedding.register_forward_hook(keep)
    try:
        model(idx)[0, t].sum().backward()
    finally:
        hook.remove()
    reach = captured["embedding"].grad[0].abs().amax(dim=-1) > 0  # (T,)
    return [s for s in range(t + 1, T) if reach[s]]


@checker("1.2")
def check_leak_reach(attempt) -> str:
    """``attempt``: the future positions (an iterable of ints) whose tokens can change the logits
    at position 2 of gpt-nano when every block's mask is tril(diagonal=1)."""
    try:
        predicted = sorted({int(s) for s in attempt})
    except TypeError:
        raise Hint("give the positions as a list of integers, e.g. [3, 4]") from None
    truth = _leak_reach()
    t = _LEAK_POSITION
    if predicted == truth:
        return (f"positions {truth}: each of the {len(truth)} layers lets information travel one more step "
                "ahead, so the leak reaches t + n_layer.")
    if not predicted:
        raise Hint(f"with tril(diagonal=1) every layer lets position {t} see position {t + 1}: "
                   "something from the future does reach it")
    if any(s <= t for s in predicted):
        raise Hint(f"positions 0..{t} are not the future of position {t}: they are allowed anyway. "
                   f"List only positions after {t}")
    if predicted == [t + 1]:
        raise Hint(f"one layer would leak only position {t + 1}, but the leak compounds: after layer 1, "
                   f"position {t + 1}'s vector already holds position {t + 2}'s token, and layer 2 lets "
                   f"position {t} read it. Count the layers of gpt-nano")
    if predicted and predicted[-1] >= _LEAK_T - 1 and len(predicted) > len(truth):
        raise Hint("not every future position: each layer opens exactly one more step ahead, and gpt-nano "
                   "has a fixed number of layers. How far can information travel in that many steps?")
    raise Hint(f"not quite: count one step ahead per layer of gpt-nano, starting from position {t}")


# --- 1.3: a previous-token head

@checker("1.3")
def check_previous_token_head(attempt) -> str:
    """``attempt``: a (T, T) tensor of attention weights (T >= 3), or the chapter's ``(output, weights)``
    pair, in which every position t >= 1 puts (almost) all its weight on position t - 1."""
    w = attempt[-1] if isinstance(attempt, (tuple, list)) and attempt else attempt  # attend's (y, weights)
    if not isinstance(w, torch.Tensor):
        raise Hint(f"pass the weights as a tensor, got {type(w).__name__}")
    w = w.detach().cpu().double()  # to the host first: MPS has no float64
    if w.dim() != 2 or w.size(0) != w.size(1) or w.size(0) < 3:
        raise Hint(f"pass one head's (T, T) weight matrix with T >= 3, got shape {tuple(w.shape)}; "
                   "for a batched result take [0] (and a head index) first")
    T = w.size(0)
    if not torch.allclose(w.sum(dim=-1), torch.ones(T, dtype=torch.float64), atol=1e-6):
        raise Hint("the rows do not sum to one: these are not softmax weights (mask before the softmax, "
                   "not after)")
    if w.triu(diagonal=1).abs().max() > 1e-6:
        raise Hint("your head leaks future positions: some weight sits above the diagonal. Keep the causal "
                   "mask; the previous position is allowed, the next one is not")
    on_previous = w.diagonal(offset=-1)  # w[t, t-1] for t = 1 .. T-1
    on_self = w.diagonal()[1:]
    if on_previous.min() > 0.99:
        return f"every position 1..{T - 1} puts at least {on_previous.min().item():.3f} of its weight on the previous one."
    if on_self.min() > 0.99:
        raise Hint("each position attends to itself: that is the same-character head with unique "
                   "characters. Shift the queries by one: query t must match the key of position t - 1")
    worst = int(on_previous.argmin()) + 1
    raise Hint(f"position {worst} puts only {on_previous[worst - 1].item():.3f} of its weight on position {worst - 1}; "
               "make the match sharper (a larger scale before the softmax) or check the shift of the queries")
