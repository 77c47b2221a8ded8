"""Checkers for chapter 11 (data parallelism).

- 11.1: ``combine(grads, counts)``: the full-batch gradient from each rank's gradient of its own
  *mean* loss and the number of targets each rank scored.
- 11.2: a prediction: the factor relating the full-batch gradient to the average of two
  half-batch gradients when the loss is a *sum* over targets instead of a mean.

Both references are computed, not stored: the package's :class:`~mingpt_lite.model.GPT` and
:func:`~mingpt_lite.loss.lm_loss` on sort-task batches (:class:`~mingpt_lite.data.SortTask`),
differentiated by autograd through :func:`~mingpt_lite.distributed.flat_gradient` (in float64
up to the loss, which lm_loss computes in float32).
"""

from __future__ import annotations

import torch

from ..config import GPTConfig
from ..data import SortTask
from ..distributed import flat_gradient
from ..model import GPT
from . import Hint, checker
from .kit import close, require_tensor


def _model_and_task(seed: int = 0):
    task = SortTask(length=6, num_digits=3)
    torch.manual_seed(seed)
    model = GPT(GPTConfig(vocab_size=task.vocab_size, block_size=task.block_size, n_layer=1, n_head=2,
                          n_embd=16, dropout=0.0)).double()
    return model, task


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    # lm_loss computes the cross entropy in float32 (it casts the logits), so agreement is to
    # float32 rounding; the mistakes below are off by factors, far outside this tolerance.
    return close(a, b, rtol=1e-5, atol=1e-7)


@checker("11.1")
def check_combine(attempt) -> str:
    """``attempt(grads, counts)``: grads a list of per-rank gradient vectors (each of its rank's mean
    loss), counts the scored targets per rank; returns the full batch's gradient."""
    model, task = _model_and_task()
    x, y = task.get_batch("train", 9, torch.Generator().manual_seed(0))  # 3 ranks x 3 sequences
    cases = {"equal": y.clone(), "unequal": y.clone()}
    # Unequal counts, as padding or masked prompts give: rank 1 scores fewer targets, rank 2 fewer still.
    cases["unequal"][3:6, 5:7] = -1
    cases["unequal"][6:9, 5:9] = -1
    for kind, targets in cases.items():
        parts = [slice(0, 3), slice(3, 6), slice(6, 9)]
        grads = [flat_gradient(model, x[p], targets[p]) for p in parts]
        counts = [int((targets[p] != -1).sum()) for p in parts]
        full = flat_gradient(model, x, targets)
        got = attempt([g.clone() for g in grads], list(counts))
        require_tensor(got, full.shape, what="combine",
                       fix="That is the wrong shape: the combined gradient has the shape of one rank's")
        got = got.to(full.dtype)
        if _close(got, full):
            continue
        total = sum(counts)
        if _close(got, sum(grads)):
            raise Hint("you summed the ranks' gradients: that is what the all-reduce leaves on every rank; "
                       "an average is still needed")
        if _close(got, sum(grads) / len(grads)):
            raise Hint(f"the plain average over ranks is DDP's rule, and it is the full-batch gradient only when "
                       f"every rank scores the same number of targets; here they score {counts}. Weight each "
                       "rank's gradient by its count")
        if _close(got, sum(c * g for c, g in zip(counts, grads))):
            raise Hint(f"weighted by the counts, but not divided by the total ({total} targets)")
        if _close(got, sum(g / c for c, g in zip(counts, grads)) / len(grads)) or \
                _close(got, sum(g / c for c, g in zip(counts, grads)) * total / len(grads)):
            raise Hint("each rank's gradient is already of a *mean* loss: multiply by its count, don't divide")
        raise Hint(f"with {kind} counts {counts} your result is not the full batch's gradient")
    return ("equal to the full batch's gradient with equal and with unequal target counts: "
            "sum(count_r * g_r) / sum(count_r)")


@checker("11.2")
def check_sum_reduction_factor(attempt) -> str:
    """``attempt``: the number f with full-batch gradient = f x (average of the two half-batch
    gradients) when the loss is the sum over targets."""
    if isinstance(attempt, bool) or not isinstance(attempt, (int, float)):
        raise Hint(f"give a number, got {attempt!r}")
    model, task = _model_and_task()
    x, y = task.get_batch("train", 32, torch.Generator().manual_seed(0))
    full = flat_gradient(model, x, y, "sum")
    average = (flat_gradient(model, x[:16], y[:16], "sum") + flat_gradient(model, x[16:], y[16:], "sum")) / 2
    factor = float(full @ average / (average @ average))
    assert _close(full, factor * average)  # it is a factor
    if abs(attempt - factor) < 1e-4:
        return (f"f = {factor:.4g}: a sum over 32 sequences is the sum of the two halves' sums, and their average is "
                "half of that. With a sum loss, DDP's averaging halves the gradient; the all-reduce's sum would be right")
    if abs(attempt - 1.0) < 1e-4:
        raise Hint("1 is the answer for the mean loss, the chapter's case; with a sum the halves' gradients add up")
    if abs(attempt - 1 / factor) < 1e-4:
        raise Hint("inverted: the full-batch gradient is the larger one")
    raise Hint(f"not {attempt}: compare the full batch's sum of losses with the average of the two halves' sums")
