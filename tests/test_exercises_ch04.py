"""Chapter 04's checkers: the package's references pass, plausible wrong answers fail with their hint."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from mingpt_lite.data import SortTask
from mingpt_lite.exercises import check
from mingpt_lite.optim import parameter_groups

pytestmark = pytest.mark.usefixtures("one_thread")


def _examples(shift=1, masked=None, mask_value=-1, keep_last=False):
    """Sort examples with one thing changed: the target shift, how many targets are masked, the mask value."""
    def examples(digits):
        length = digits.size(1)
        sequence = torch.cat([digits, digits.sort(dim=1).values], dim=1)
        x = sequence if keep_last else sequence[:, :-1]
        y = sequence[:, shift:] if keep_last else sequence[:, shift: shift + 2 * length - 1].clone()
        y = y.clone()
        y[:, : (length - 1 if masked is None else masked(length))] = mask_value
        return x, y
    return examples


def test_the_reference_examples_pass():
    assert check("4.1", lambda digits: SortTask(length=digits.size(1), num_digits=4).examples(digits), quiet=True)
    assert check("4.1", _examples(), quiet=True)


@pytest.mark.parametrize("attempt, hint", [
    (_examples(shift=0), "shifted left by one"),
    (_examples(masked=lambda n: n), "one too many"),
    (_examples(masked=lambda n: n - 2), "one too few"),
    (_examples(masked=lambda n: 0), "nothing is masked"),
    (_examples(mask_value=0), "not 0"),
    (_examples(keep_last=True, shift=0), "(N, 2·length − 1)"),
])
def test_wrong_examples_get_their_hint(attempt, hint):
    result = check("4.1", attempt, quiet=True)
    assert not result and hint in result.message, result.message


def _reference_groups(model):
    decay, no_decay = parameter_groups(model, weight_decay=0.1)
    return decay["params"], no_decay["params"]


def _dim_rule(model):
    decay, no_decay = parameter_groups(model, weight_decay=0.1, rule="dim")
    return decay["params"], no_decay["params"]


def _every_linear_parameter(model):
    ids = {id(p) for m in model.modules() if isinstance(m, nn.Linear) for p in m.parameters(recurse=False)}
    params = list({id(p): p for p in model.parameters()}.values())
    return [p for p in params if id(p) in ids], [p for p in params if id(p) not in ids]


def _every_weight(model):
    named = dict(model.named_parameters())
    return ([p for n, p in named.items() if n.endswith("weight")], [p for n, p in named.items() if not n.endswith("weight")])


def _by_name_with_duplicates(model):
    decay_ids = {id(p) for p in _reference_groups(model)[0]}
    every = [p for _, p in model.named_parameters(remove_duplicate=False)]
    return [p for p in every if id(p) in decay_ids], [p for p in every if id(p) not in decay_ids]


def _forgets_the_head(model):
    decay, no_decay = _reference_groups(model)
    head = getattr(model, "lm_head", None)
    return [p for p in decay if head is None or p is not head.weight], no_decay


def _tied_in_both(model):
    decay, no_decay = _reference_groups(model)
    if getattr(model.config, "tie_weights", False) if hasattr(model, "config") else False:
        decay = decay + [model.lm_head.weight]
    return decay, no_decay


def test_the_reference_groups_pass():
    assert check("4.2", _reference_groups, quiet=True)


@pytest.mark.parametrize("attempt, hint", [
    (_dim_rule, "nanoGPT's rule"),
    (_every_linear_parameter, "you decay a bias"),
    (_every_weight, "LayerNorm gain"),
    (_by_name_with_duplicates, "listed twice"),
    (_forgets_the_head, "in neither group"),
    (_tied_in_both, "in both groups"),
])
def test_wrong_groups_get_their_hint(attempt, hint):
    result = check("4.2", attempt, quiet=True)
    assert not result and hint in result.message, result.message


def test_the_unseen_row_prediction():
    assert check("4.3", (1 - 6e-4 * 0.1) ** 10_000, quiet=True)
    answer = (1 - 6e-5) ** 10_000
    for wrong, hint in ((100 * answer, "percentage"), (1 - answer, "loses"), (1.0, "needs none"),
                        (1 - 6e-5 * 10_000, "compounds"), ((1 - 6e-4) ** 10_000, "left out the weight decay"),
                        (0.9 ** 10_000, "not 1 − wd")):
        result = check("4.3", wrong, quiet=True)
        assert not result and hint in result.message, (wrong, result.message)


def _by_name_not_norm(model):
    """A rule by names: every "weight" whose name does not mention a norm. On gpt-nano it equals the
    dim rule, on a plain nn.Sequential it decays the LayerNorm gain ("1.weight") too."""
    named = [(n, p) for n, p in model.named_parameters() if "norm" not in n and "ln" not in n]
    decay = [p for n, p in named if n.endswith("weight")]
    ids = {id(p) for p in decay}
    return decay, [p for p in model.parameters() if id(p) not in ids]


def test_a_rule_that_is_not_nanogpts_is_not_called_nanogpts():
    """Issue 25: the embedding hint named nanoGPT's rule for any attempt that decayed an embedding."""
    result = check("4.2", _by_name_not_norm, quiet=True)
    assert not result and "nanoGPT" not in result.message, result.message
    assert "embedding table" in result.message and "not by the parameter's name" in result.message, result.message
    assert "nanoGPT's rule" in check("4.2", _dim_rule, quiet=True).message
