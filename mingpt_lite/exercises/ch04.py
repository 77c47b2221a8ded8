"""Checkers for chapter 04 (data, loss and optimizer).

- 4.1: ``my_examples(digits)`` turns sort problems (N, length) into model inputs and targets
  ``(x, y)``: the shift by one and the -1 mask over the problem.
- 4.2: ``my_groups(model)`` splits a model's parameters into ``(decay, no_decay)`` by minGPT's rule.
- 4.3: a predicted number, the share of its norm a never-seen embedding row keeps under AdamW.

References: :meth:`mingpt_lite.data.SortTask.examples` and
:func:`mingpt_lite.optim.parameter_groups`; no copy of a solution lives here.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ..config import GPTConfig
from ..data import SortTask
from ..loss import IGNORE_INDEX
from ..model import GPT
from ..optim import parameter_groups
from . import Hint, checker


def _as_pair(result, what: str) -> tuple:
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise Hint(f"{what} must return a pair, got {type(result).__name__}")
    return tuple(result)


# --- 4.1: inputs and targets of the sort task --------------------------------------------------


def _check_examples_on(attempt, task: SortTask, digits: torch.Tensor) -> None:
    _, length = digits.shape
    original = digits.clone()
    x, y = _as_pair(attempt(digits), "my_examples(digits)")
    if not torch.equal(digits, original):
        raise Hint("your function changed the problems it was given (an in-place sort?); sort a copy")
    x_ref, y_ref = task.examples(digits)
    if not (isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor)):
        raise Hint("return two tensors, x and y")
    if x.shape != x_ref.shape or y.shape != y_ref.shape:
        if x.shape[-1:] == (2 * length,) or y.shape[-1:] == (2 * length,):
            raise Hint(f"x and y must be (N, 2·length − 1) = {tuple(x_ref.shape)}: the model reads every token but "
                       "the last (x = sequence[:, :-1]) and predicts every token but the first (y = sequence[:, 1:])")
        raise Hint(f"x and y must both be (N, 2·length − 1) = {tuple(x_ref.shape)}, "
                   f"got {tuple(x.shape)} and {tuple(y.shape)}")
    if y.is_floating_point():
        raise Hint("targets are token ids: y must be an integer (long) tensor")
    sequence = torch.cat([digits, digits.sort(dim=1).values], dim=1)  # (N, 2·length)
    if not torch.equal(x, x_ref):
        if torch.equal(x, sequence[:, 1:]):
            raise Hint("x starts one token late: x is the sequence without its *last* token, sequence[:, :-1]")
        raise Hint("x must be the problem followed by its sorted answer, without the last token")
    masked, masked_ref = y == IGNORE_INDEX, y_ref == IGNORE_INDEX
    kept = ~masked
    if not masked.any():
        if (y[:, : length - 1] == 0).all():
            raise Hint("mask with -1 (IGNORE_INDEX), not 0: 0 is a real token, and the loss would train on it")
        raise Hint(f"nothing is masked: the first {length - 1} targets are digits of the random problem, "
                   "which no model can predict; set them to -1 so the loss ignores them")
    if torch.equal(y[kept], x[kept]) and not torch.equal(y, y_ref):
        raise Hint("y equals x: the targets must be shifted left by one, y[t] is the token *after* x[t]")
    if not torch.equal(masked, masked_ref):
        first_kept = masked.int().argmin(dim=1)  # first False in each row
        if masked[:, -1].all():
            raise Hint("you masked the answer instead of the problem: the targets over the sorted half "
                       "are what the model must learn; mask the first length − 1 targets")
        if (masked.sum(1) == length).all() and masked[:, :length].all():
            raise Hint(f"you masked {length} targets, one too many: at position {length - 1} the model has read the "
                       "whole problem and its target is the first digit of the answer; mask only the first "
                       f"length − 1 = {length - 1}")
        if (masked.sum(1) == length - 2).all() and masked[:, : length - 2].all():
            raise Hint(f"you masked {length - 2} targets, one too few: the target at position {length - 2} is the last "
                       f"digit of the random problem; mask the first length − 1 = {length - 1}")
        raise Hint(f"the -1 mask must cover exactly the first length − 1 = {length - 1} targets "
                   f"(yours starts keeping at position {first_kept[0].item()})")
    if not torch.equal(y, y_ref):
        raise Hint("the kept targets must be the sorted answer, one per position after the problem")


@checker("4.1")
def check_examples(attempt) -> str:
    """``attempt(digits)`` with digits (N, length) returns ``(x, y)`` like SortTask.examples."""
    generator = torch.Generator().manual_seed(0)
    for length, num_digits in ((6, 3), (5, 4)):          # two sizes: nothing may be hard-coded
        task = SortTask(length=length, num_digits=num_digits)
        digits = torch.randint(num_digits, (16, length), generator=generator)
        _check_examples_on(attempt, task, digits)
    return "x is the sequence without its last token, y without its first, and the first length − 1 targets are -1"


# --- 4.2: minGPT's weight-decay groups ---------------------------------------------------------


def _names(model: nn.Module) -> dict[int, list[str]]:
    """id(parameter) -> every name it has (a tied tensor has two)."""
    names: dict[int, list[str]] = {}
    for name, param in model.named_parameters(remove_duplicate=False):
        names.setdefault(id(param), []).append(name)
    return names


def _check_groups_on(attempt, model: nn.Module) -> None:
    decay, no_decay = (list(group) for group in _as_pair(attempt(model), "my_groups(model)"))
    names = _names(model)
    owners = {id(p): (m, n) for m in model.modules() for n, p in m.named_parameters(recurse=False)}
    for group in (decay, no_decay):
        for p in group:
            if id(p) not in names:
                raise Hint("a group holds something that is not a parameter of the model "
                           "(a copy, or a tensor from another model?)")
    for label, group in (("decay", decay), ("no-decay", no_decay)):
        ids = [id(p) for p in group]
        if len(ids) != len(set(ids)):
            dup = next(i for i in ids if ids.count(i) > 1)
            raise Hint(f"{' / '.join(names[dup])} is listed twice in the {label} group (a tied tensor has two "
                       "names but is one parameter: de-duplicate by identity, e.g. a dict keyed by id(p))")
    in_decay = {id(p) for p in decay}
    both = [id(p) for p in no_decay if id(p) in in_decay]
    if both:
        pid = both[0]
        raise Hint(f"{' / '.join(names[pid])} is in both groups: every parameter belongs to exactly one "
                   "(if its owners disagree, as for a tied head, 'no decay' wins)")
    placed = {id(p) for p in decay} | {id(p) for p in no_decay}
    missing = [pid for pid in names if pid not in placed]
    if missing:
        pid = missing[0]
        raise Hint(f"{' / '.join(names[pid])} is in neither group: every trainable parameter must be in exactly one")
    ref_decay, _ = parameter_groups(model, weight_decay=0.1, rule="mingpt")
    ref_ids = {id(p) for p in ref_decay["params"]}
    got_ids = {id(p) for p in decay}
    # In the model's own order, so the verdict never depends on memory addresses; the most
    # telling mistake is named first.
    wrongly_decayed = [pid for pid in names if pid in got_ids - ref_ids]
    kinds = {pid: owners[pid] for pid in wrongly_decayed}
    for pid in wrongly_decayed:
        module, short = kinds[pid]
        if isinstance(module, nn.LayerNorm) and short == "weight":
            raise Hint(f"you decay a LayerNorm gain ({' / '.join(names[pid])}): its neutral value is 1, and decay "
                       "pulls it toward 0, toward switching the channel off")
    for pid in wrongly_decayed:
        if kinds[pid][1] == "bias":
            raise Hint(f"you decay a bias ({' / '.join(names[pid])}): biases (one number per channel, they shift "
                       "and do not mix) are not decayed")
    for pid in wrongly_decayed:
        if len(names[pid]) > 1:
            raise Hint(f"{' / '.join(names[pid])} is one tensor with two owners, a Linear (decay) and an Embedding "
                       "(no decay); minGPT's rule lets 'no decay' win, so the tied matrix is not decayed")
    for pid in wrongly_decayed:
        if isinstance(kinds[pid][0], nn.Embedding):
            raise Hint(f"you decay the embedding table {' / '.join(names[pid])}: minGPT's rule, asked here, decays "
                       "Linear weights only, chosen by the owning module's type (isinstance(module, nn.Linear)), "
                       "not by the parameter's name or shape")
    for pid in wrongly_decayed:
        raise Hint(f"you decay {' / '.join(names[pid])}, which minGPT's rule does not (only Linear weights decay)")
    for pid in [pid for pid in names if pid in ref_ids - got_ids]:
        raise Hint(f"{' / '.join(names[pid])} is a Linear weight and must decay "
                   "(isinstance(module, nn.Linear) also covers subclasses such as ResidualProjection)")


def _follows_dim_rule(attempt, models) -> bool:
    """Whether ``attempt`` puts exactly the tensors with dim >= 2 in its decay group, on every model."""
    for model in models:
        try:
            decay, _ = _as_pair(attempt(model), "my_groups(model)")
        except Exception:  # the attempt's own error or shape is reported by the main check
            return False
        dim_decay, _ = parameter_groups(model, weight_decay=0.1, rule="dim")
        if {id(p) for p in decay} != {id(p) for p in dim_decay["params"]}:
            return False
    return True


@checker("4.2")
def check_groups(attempt) -> str:
    """``attempt(model)`` returns ``(decay, no_decay)``, two lists of parameters, by minGPT's rule."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        models = [
            GPT(GPTConfig.from_preset("gpt-nano", vocab_size=3, block_size=11)),
            nn.Sequential(nn.Embedding(10, 8), nn.LayerNorm(8), nn.Linear(8, 8, bias=False), nn.Linear(8, 10)),
            GPT(GPTConfig.from_preset("gpt-nano", vocab_size=3, block_size=11, tie_weights=True)),
        ]
    try:
        for model in models:
            _check_groups_on(attempt, model)
    except Hint:
        # Name the other well-known rule only when the attempt *is* that rule on every model; a rule
        # by names that happens to agree with it on one model gets the neutral hint above.
        if _follows_dim_rule(attempt, models):
            raise Hint("you decay every tensor with dim >= 2, embeddings included: that is nanoGPT's rule "
                       "(parameter_groups(rule='dim')); minGPT's rule, asked here, decays Linear weights only") from None
        raise
    return ("Linear weights decay; biases, LayerNorm and embeddings do not; a tied head counts once, "
            "not decayed; every parameter in exactly one group")


# --- 4.3: how much of a never-seen embedding row survives AdamW's decay -------------------------

UNSEEN_ROW = {"lr": 6e-4, "weight_decay": 0.1, "steps": 10_000}


def kept_fraction(lr: float, weight_decay: float, steps: int) -> float:
    """Decoupled decay multiplies a parameter with no gradient by (1 - lr·wd) every step."""
    return (1 - lr * weight_decay) ** steps


@checker("4.3")
def check_unseen_row(prediction) -> str:
    """``prediction``: the fraction of its norm that a never-seen embedding row keeps after
    10,000 AdamW steps at a constant lr 6e-4 and weight decay 0.1."""
    try:
        value = float(prediction)
    except (TypeError, ValueError):
        raise Hint(f"give a number (a fraction between 0 and 1), got {type(prediction).__name__}") from None
    lr, wd, steps = UNSEEN_ROW["lr"], UNSEEN_ROW["weight_decay"], UNSEEN_ROW["steps"]
    answer = kept_fraction(lr, wd, steps)
    if abs(value - answer) < 0.005:
        return f"(1 − lr·wd)^steps = {answer:.4f}: about e^(−0.6), whatever the row's values"
    if abs(value - answer * 100) < 0.5:
        raise Hint("give a fraction between 0 and 1, not a percentage")
    if abs(value - (1 - answer)) < 0.005:
        raise Hint("that is the share the row *loses*; the question asks what it keeps")
    if value == 1.0:
        raise Hint("the row gets no gradient, but AdamW's decoupled decay needs none: it shrinks every parameter "
                   "in its group on every step")
    if abs(value - max(0.0, 1 - lr * wd * steps)) < 0.005:
        raise Hint("the shrinking compounds: each step multiplies by (1 − lr·wd), it does not subtract a fixed amount")
    if value < 1e-6:
        raise Hint("decay per step is 1 − lr·wd = 0.99994, not 1 − wd: the learning rate scales it")
    lr_only = kept_fraction(lr, 1.0, steps)
    if abs(value / lr_only - 1) < 0.1:
        raise Hint("the factor per step is 1 − lr·weight_decay, and you left out the weight decay")
    if not 0 < value < 1:
        raise Hint("a fraction of the norm kept lies between 0 and 1")
    raise Hint(f"not quite: each step multiplies the row by (1 − lr·wd); what is that after {steps:,} steps?")

