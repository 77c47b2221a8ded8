"""Chapter 06's checkers accept the reference answers and name the plausible wrong ones."""

from __future__ import annotations

import pytest

from mingpt_lite.exercises import check

pytestmark = pytest.mark.usefixtures("one_thread")


def post_ln(block, x):
    x = block.norm1(x + block.attn(x))
    return block.norm2(x + block.mlp(x))


def pre_ln(block, x):
    x = x + block.attn(block.norm1(x))
    return x + block.mlp(block.norm2(x))


def notes_block(block, x):
    x = block.attn(x)
    x = x + block.norm1(x)
    x = block.mlp(x)
    return x + block.norm2(x)


def half_right(block, x):
    x = block.norm1(x + block.attn(x))
    return x + block.mlp(x)


def test_6_1_accepts_post_ln():
    assert check("6.1", post_ln, quiet=True)


@pytest.mark.parametrize("attempt, hint", [(pre_ln, "that is pre-LN"), (notes_block, "that is the notes' block"),
                                           (half_right, "the MLP half"), (lambda block, x: x[:, :1], "keeps the stream's shape")])
def test_6_1_names_the_wrong_wiring(attempt, hint):
    result = check("6.1", attempt, quiet=True)
    assert not result and hint in result.message


def test_6_2_accepts_the_measured_parameter_and_explains_others():
    from mingpt_lite.exercises.ch06 import block1_gradients

    grads = block1_gradients()
    best = max(grads, key=lambda name: grads[name][0])
    assert check("6.2", best, quiet=True)
    assert check("6.2", f"blocks.0.{best}", quiet=True)
    wrong_weight = check("6.2", "attn.qkv.weight", quiet=True)
    assert not wrong_weight and "Look at a parameter with no input" in wrong_weight.message
    wrong_norm = check("6.2", "norm1.weight", quiet=True)
    assert not wrong_norm and "flows *into the sum before it*" in wrong_norm.message
    assert "not a parameter of a block" in check("6.2", "wte", quiet=True).message
    second = sorted(grads, key=lambda name: grads[name][0] / grads[name][1])[-2:]   # the other amplified bias
    other = [name for name in second if name != best][0]
    wrong_bias = check("6.2", other, quiet=True)
    assert not wrong_bias and "but not the largest" in wrong_bias.message
