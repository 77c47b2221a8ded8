"""mingpt_lite.init: residual projections found by type, not by name, scaled by 1/sqrt(2 n_layer);
biases start at zero, and bias=False removes them."""

import math

import pytest
import torch
from conftest import tiny_config

from mingpt_lite import GPT, GPTConfig
from mingpt_lite.init import ResidualProjection, residual_std

pytestmark = pytest.mark.usefixtures("one_thread")


def test_residual_projections_found_by_type_not_name():
    config = GPTConfig.from_preset("gpt-mini", vocab_size=65, block_size=64)
    torch.manual_seed(0)
    model = GPT(config)
    marked = [m for m in model.modules() if isinstance(m, ResidualProjection)]
    assert len(marked) == 2 * config.n_layer
    marked_ids = {id(m.weight) for m in marked}
    target = residual_std(config.n_layer)
    for name, param in model.named_parameters():
        if param.dim() < 2:
            continue
        expected = target if id(param) in marked_ids else 0.02
        assert abs(param.std().item() - expected) < 0.1 * expected, name
    assert target == pytest.approx(0.02 / math.sqrt(12))


def test_marker_survives_renaming():
    config = tiny_config()
    model = GPT(config)
    block = model.blocks[0]
    block.attn.output_layer = block.attn.residual_proj  # a new name for the same module
    del block.attn.residual_proj
    count = sum(isinstance(m, ResidualProjection) for m in model.modules())
    assert count == 2 * config.n_layer


def test_biases_exist_and_start_at_zero():
    model = GPT(tiny_config())
    linear_biases = [m.bias for m in model.modules() if isinstance(m, torch.nn.Linear) and m is not model.lm_head]
    assert linear_biases and all(b is not None for b in linear_biases)
    assert all(torch.all(b == 0) for b in linear_biases)
    for m in model.modules():
        if isinstance(m, torch.nn.LayerNorm):
            assert torch.all(m.weight == 1) and torch.all(m.bias == 0)


def test_bias_false_removes_them_and_counts_drop():
    with_bias, without = GPT(tiny_config()), GPT(tiny_config(bias=False))
    assert all(m.bias is None for m in without.modules() if isinstance(m, torch.nn.Linear))
    assert with_bias.num_parameters() > without.num_parameters()

