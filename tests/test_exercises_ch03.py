"""Chapter 03's checkers: the package's own init passes, plausible wrong ones fail with their hint."""

from __future__ import annotations

import math

import pytest
import torch.nn as nn

from mingpt_lite.exercises import check
from mingpt_lite.init import ResidualProjection, init_gpt_weights, residual_std

pytestmark = pytest.mark.usefixtures("one_thread")


def _init_with(projection_std, linear_std=lambda n_layer: 0.02, zero_bias=True, touch_norm=False,
               drop_bias=False, by_name=False):
    """An init function with one rule changed (the stds are functions of n_layer)."""
    def init(model, n_layer):
        for name, m in model.named_modules():
            is_proj = name.endswith("c_proj") if by_name else isinstance(m, ResidualProjection)
            if isinstance(m, nn.Linear):
                std = projection_std(n_layer) if is_proj else linear_std(n_layer)
                nn.init.normal_(m.weight, 0.0, std)
                if m.bias is not None:
                    if drop_bias:
                        m.bias = None
                    elif zero_bias:
                        nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Embedding):
                nn.init.normal_(m.weight, 0.0, 0.02)
            elif isinstance(m, nn.LayerNorm) and touch_norm:
                nn.init.normal_(m.weight, 0.0, 0.02)
    return init


def test_the_reference_init_passes():
    assert check("3.1", init_gpt_weights, quiet=True)
    assert check("3.1", _init_with(residual_std), quiet=True)


@pytest.mark.parametrize("attempt, hint", [
    (_init_with(residual_std, linear_std=residual_std), "you scaled all of them"),
    (_init_with(lambda n: 0.02 / math.sqrt(n)), "0.02/sqrt(n_layer)"),
    (_init_with(lambda n: 0.02), "scaling is missing"),
    (_init_with(residual_std, by_name=True), "scaling is missing"),
    (_init_with(residual_std, zero_bias=False), "is not zero"),
    (_init_with(residual_std, touch_norm=True), "LayerNorm"),
    (_init_with(residual_std, drop_bias=True), "module.bias = None"),
    (_init_with(lambda n: 0.02 / (2 * n)), "divided by n rather than by sqrt(n)"),
])
def test_wrong_inits_get_their_hint(attempt, hint):
    result = check("3.1", attempt, quiet=True)
    assert not result and hint in result.message, result.message


def test_the_loss_at_init_prediction():
    assert check("3.2", math.log(50257), quiet=True)
    assert check("3.2", math.log(50257) + 0.0256, quiet=True)
    for wrong, hint in ((math.log10(50257), "log10"), (math.log2(50257), "log2"), (math.log(65), "ln(65)"),
                        (-math.log(50257), "never negative"), (20.0, "too high"), ("ten", "give a number")):
        result = check("3.2", wrong, quiet=True)
        assert not result and hint in result.message, (wrong, result.message)
