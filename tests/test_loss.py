"""mingpt_lite.loss: lm_loss near ln(vocab) at init, no gradient through ignored (-1) targets, clear
shape errors."""

import math

import pytest
import torch

from mingpt_lite import GPT, GPTConfig, lm_loss
from mingpt_lite.loss import lm_loss

pytestmark = pytest.mark.usefixtures("one_thread")


def test_loss_at_init_is_close_to_log_vocab():
    torch.manual_seed(0)
    config = GPTConfig.from_preset("gpt-nano", vocab_size=65, block_size=32, dropout=0.0)
    model = GPT(config)
    idx = torch.randint(0, 65, (16, 32))
    loss = lm_loss(model(idx), idx)
    assert abs(loss.item() - math.log(65)) < 0.05


def test_ignored_targets_get_no_gradient():
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 7, requires_grad=True)
    targets = torch.randint(0, 7, (2, 5))
    targets[:, :3] = -1
    lm_loss(logits, targets).backward()
    assert torch.all(logits.grad[:, :3] == 0)
    assert torch.all(logits.grad[:, 3:].abs().sum(-1) > 0)
    expected = torch.nn.functional.cross_entropy(logits[:, 3:].reshape(-1, 7), targets[:, 3:].reshape(-1))
    torch.testing.assert_close(lm_loss(logits, targets), expected)


def test_loss_shape_errors():
    with pytest.raises(ValueError, match="does not match"):
        lm_loss(torch.randn(2, 5, 7), torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(TypeError, match="integer"):
        lm_loss(torch.randn(2, 5, 7), torch.zeros(2, 5))

