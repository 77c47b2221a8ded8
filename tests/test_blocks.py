"""mingpt_lite.blocks: the pre-LN, post-LN and notes-bug blocks against their formulas, GELU, and the
ReLU² and SwiGLU MLPs."""


import pytest
import torch
from conftest import tiny_config

from mingpt_lite import GPT
from mingpt_lite.blocks import MLP, Block, ReluSquaredMLP, SwiGLUMLP, swiglu_hidden


def _block_pair(norm):
    torch.manual_seed(0)
    config = tiny_config(norm=norm)
    block = Block(config).double().eval()
    return block, torch.randn(2, 8, 16, dtype=torch.float64)


pytestmark = pytest.mark.usefixtures("one_thread")


def test_pre_norm_block_formula():
    block, x = _block_pair("pre")
    h = x + block.attn(block.norm1(x))
    torch.testing.assert_close(block(x), h + block.mlp(block.norm2(h)))


def test_post_norm_block_formula():
    block, x = _block_pair("post")
    h = block.norm1(x + block.attn(x))
    torch.testing.assert_close(block(x), block.norm2(h + block.mlp(h)))


def test_notes_bug_block_is_verbatim_from_the_log():
    block, x = _block_pair("notes-bug")
    h = block.attn(x)
    h = h + block.norm1(h)
    h = block.mlp(h)
    torch.testing.assert_close(block(x), h + block.norm2(h))


def test_gelu_is_the_tanh_approximation():
    model = GPT(tiny_config())
    assert model.blocks[0].mlp.gelu.approximate == "tanh"


def test_relu_squared_backward_equals_autograds():
    # the hand-written backward (one addcmul: 2 * grad * relu(x)) against autograd's chain
    # through relu and square, on values with both signs, zeros and a non-uniform upstream
    # grad: equal values (torch.equal), the signs of zeros aside
    from mingpt_lite.blocks import ReluSquared

    x = torch.randn(4, 8, 64, generator=torch.Generator().manual_seed(0))
    x[0, 0, :8] = 0.0
    upstream = torch.randn(4, 8, 64, generator=torch.Generator().manual_seed(1))
    ours_x = x.clone().requires_grad_()
    ours = ReluSquared()(ours_x)
    ours.backward(upstream)
    plain_x = x.clone().requires_grad_()
    plain = torch.nn.functional.relu(plain_x).square()
    plain.backward(upstream)
    assert torch.equal(ours, plain) and torch.equal(ours_x.grad, plain_x.grad)
    assert torch.equal(ours_x.grad[x < 0], torch.zeros_like(ours_x.grad[x < 0]))
    assert torch.autograd.gradcheck(ReluSquared(), (torch.randn(3, 5, dtype=torch.double, requires_grad=True),))


def test_mlp_variants_and_their_sizes():
    config = tiny_config(n_embd=48, n_head=3)
    assert type(GPT(tiny_config(mlp="relu2")).blocks[0].mlp) is ReluSquaredMLP
    relu2 = ReluSquaredMLP(config)
    x = torch.linspace(-2, 2, 48).expand(1, 1, 48)
    torch.testing.assert_close(relu2.gelu(x), torch.clamp(x, min=0) ** 2)
    assert swiglu_hidden(48) == 128 and swiglu_hidden(128) == 344
    swiglu = SwiGLUMLP(config)
    classic = sum(p.numel() for p in MLP(config).parameters())
    gated = sum(p.numel() for p in swiglu.parameters())
    assert abs(gated - classic) / classic < 0.02  # 2/3 of the width for 3 matrices: about equal
    torch.manual_seed(0)
    h = torch.randn(2, 4, 48)
    gate, up = swiglu.expand(h).split(128, dim=-1)
    by_hand = swiglu.residual_proj(gate * torch.sigmoid(gate) * up)
    torch.testing.assert_close(swiglu(h), by_hand)

