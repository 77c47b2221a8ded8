"""mingpt_lite.norms: RMSNorm against its formula, and the option that swaps every LayerNorm for it."""

import math

import pytest
import torch
from conftest import tiny_config

from mingpt_lite import GPT
from mingpt_lite.norms import RMSNorm, make_norm, rms_norm_explicit

pytestmark = pytest.mark.usefixtures("one_thread")


def test_rmsnorm_matches_its_formula():
    torch.manual_seed(0)
    x = torch.randn(3, 5, 16, dtype=torch.float64)
    norm = RMSNorm(16).double()
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
    by_hand = torch.stack([
        torch.stack([v / math.sqrt((v * v).mean().item() + 1e-5) for v in row]) for row in x
    ]) * norm.weight
    torch.testing.assert_close(norm(x), by_hand, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(rms_norm_explicit(x, norm.weight), by_hand, rtol=1e-12, atol=1e-12)
    # RMS of the output is 1 before the gain; unlike LayerNorm the mean is not removed
    plain = rms_norm_explicit(x + 3.0)
    torch.testing.assert_close(plain.pow(2).mean(-1), torch.ones(3, 5, dtype=torch.float64), rtol=1e-4, atol=1e-4)
    assert plain.mean(-1).abs().min() > 0.5


def test_rmsnorm_option_replaces_every_layernorm():
    model = GPT(tiny_config(normalization="rmsnorm", qk_norm=True))
    assert not any(isinstance(m, torch.nn.LayerNorm) for m in model.modules())
    assert sum(isinstance(m, RMSNorm) for m in model.modules()) == 2 * 2 + 1 + 2 * 2  # blocks, final, q/k
    assert isinstance(make_norm(tiny_config()), torch.nn.LayerNorm)

