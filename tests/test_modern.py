"""Tests for the later changes to GPT-2's recipe (chapter 13): each a GPTConfig option, off by default.

RMSNorm against its formula; rotary embeddings against their complex-number
definition and for relative-position scores; and for every option (and all of
them together): the KV cache equals full recompute, no position sees the future,
checkpoints round-trip with the option stored in the config, and the optimizer
options train.
"""

import math

import pytest
import torch

from mingpt_lite import GPT, GPTConfig, load_model, save_model
from mingpt_lite.attention import apply_rotary, rotary_tables, rotate_explicit
from mingpt_lite.blocks import MLP, ReluSquaredMLP, SwiGLUMLP, swiglu_hidden
from mingpt_lite.generation import cached_logits, generate
from mingpt_lite.norms import RMSNorm, make_norm, rms_norm_explicit

pytestmark = pytest.mark.usefixtures("one_thread")


def tiny(**overrides):
    fields = dict(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16, dropout=0.0)
    fields.update(overrides)
    return GPTConfig(**fields)


OPTIONS = {
    "rmsnorm": dict(normalization="rmsnorm"),
    "rotary": dict(position="rotary"),
    "relu2": dict(mlp="relu2"),
    "swiglu": dict(mlp="swiglu"),
    "qk_norm": dict(qk_norm=True),
    "no_bias": dict(bias=False),
    "tied": dict(tie_weights=True),
    "all": dict(normalization="rmsnorm", position="rotary", mlp="relu2", qk_norm=True, bias=False,
                tie_weights=True),
}


# --- defaults stay minGPT's -----------------------------------------------------------------

def test_defaults_are_mingpt():
    config = GPTConfig()
    assert (config.normalization, config.position, config.mlp, config.qk_norm) == ("layernorm", "learned", "gelu", False)
    model = GPT(tiny())
    assert isinstance(model.final_norm, torch.nn.LayerNorm)
    assert type(model.blocks[0].mlp) is MLP
    assert model.position_embedding is not None and model.blocks[0].attn.q_norm is None


@pytest.mark.parametrize("field,value", [
    ("normalization", "batchnorm"), ("position", "sinusoid"), ("mlp", "tanh"), ("qk_norm", 1),
    ("rotary_base", 0.5), ("rotary_base", True),
])
def test_bad_option_values_are_clear_errors(field, value):
    with pytest.raises(ValueError, match=field):
        tiny(**{field: value})


def test_rotary_needs_an_even_head_dim():
    with pytest.raises(ValueError, match="even"):
        tiny(n_embd=6, n_head=2, position="rotary")


# --- RMSNorm ---------------------------------------------------------------------------------

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
    model = GPT(tiny(normalization="rmsnorm", qk_norm=True))
    assert not any(isinstance(m, torch.nn.LayerNorm) for m in model.modules())
    assert sum(isinstance(m, RMSNorm) for m in model.modules()) == 2 * 2 + 1 + 2 * 2  # blocks, final, q/k
    assert isinstance(make_norm(tiny()), torch.nn.LayerNorm)


# --- rotary ----------------------------------------------------------------------------------

def test_apply_rotary_equals_the_complex_definition():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 8, 16, dtype=torch.float64)
    cos, sin = rotary_tables(8, 16)
    fast = apply_rotary(x, cos.double(), sin.double())
    torch.testing.assert_close(fast, rotate_explicit(x, torch.arange(8)), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(fast.norm(dim=-1), x.norm(dim=-1))  # a rotation keeps lengths


def test_rotary_scores_depend_only_on_relative_position():
    torch.manual_seed(0)
    q, k = torch.randn(16, dtype=torch.float64), torch.randn(16, dtype=torch.float64)
    positions = torch.arange(32)
    Q = rotate_explicit(q.expand(32, 16), positions)  # the same query at every position
    K = rotate_explicit(k.expand(32, 16), positions)
    scores = Q @ K.T  # scores[m, n] = <R_m q, R_n k>
    for offset in range(-5, 6):
        diagonal = torch.diagonal(scores, offset)
        torch.testing.assert_close(diagonal, diagonal[0].expand_as(diagonal), rtol=1e-9, atol=1e-9)
    assert not torch.allclose(torch.diagonal(scores, 0)[0], torch.diagonal(scores, 3)[0])


def test_rotary_attention_scores_in_a_model_are_shift_invariant():
    # Inside a rotary model's attention, the same tokens placed at positions 7..12 instead of
    # 0..5 get exactly the same query-key scores: only distances between positions enter.
    torch.manual_seed(0)
    model = GPT(tiny(position="rotary", block_size=16, qk_norm=True)).double().eval()
    assert model.position_embedding is None
    attn = model.blocks[0].attn
    h = model.blocks[0].norm1(model.token_embedding(torch.randint(0, 11, (1, 6))))
    q, k, _ = attn.qkv(h).split(16, dim=2)
    q = attn.q_norm(q.view(1, 6, 2, 8).transpose(1, 2))
    k = attn.k_norm(k.view(1, 6, 2, 8).transpose(1, 2))

    def scores(start):
        cos, sin = attn.rotary_cos[start : start + 6].double(), attn.rotary_sin[start : start + 6].double()
        return apply_rotary(q, cos, sin) @ apply_rotary(k, cos, sin).transpose(-2, -1)

    torch.testing.assert_close(scores(7), scores(0), rtol=1e-6, atol=1e-6)
    assert not torch.allclose(scores(0), q @ k.transpose(-2, -1))  # the rotation did change them


# --- MLP variants ----------------------------------------------------------------------------

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
    config = tiny(n_embd=48, n_head=3)
    assert type(GPT(tiny(mlp="relu2")).blocks[0].mlp) is ReluSquaredMLP
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


def test_parameter_counts_of_the_options():
    base = GPT(tiny()).num_parameters(include_head=True)
    assert GPT(tiny(position="rotary")).num_parameters(include_head=True) == base - 8 * 16
    # RMSNorm drops the LayerNorms' biases: 2 per block + the final one
    assert GPT(tiny(normalization="rmsnorm")).num_parameters(include_head=True) == base - 16 * (2 * 2 + 1)
    # QK-norm adds a LayerNorm (gain and bias, head_dim 8) for q and for k in each block
    assert GPT(tiny(qk_norm=True)).num_parameters(include_head=True) == base + 2 * 2 * 2 * 8
    assert GPT(tiny(tie_weights=True)).num_parameters(include_head=True) == base - 11 * 16


# --- every option: cache, causality, checkpoints -----------------------------------------------

@pytest.mark.parametrize("name", OPTIONS)
@pytest.mark.parametrize("attention", ["fast", "explicit"])
def test_kv_cache_equals_full_recompute(name, attention):
    torch.manual_seed(0)
    model = GPT(tiny(attention=attention, **OPTIONS[name])).double()
    idx = torch.randint(0, 11, (2, 8))
    for prefill in (1, 3):
        torch.testing.assert_close(cached_logits(model, idx, prefill), model.eval()(idx), rtol=1e-9, atol=1e-9)
    prompt = idx[:, :2]
    torch.testing.assert_close(generate(model, prompt, 6), generate(model, prompt, 6, use_cache=False))


@pytest.mark.parametrize("name", OPTIONS)
def test_no_position_sees_the_future(name):
    torch.manual_seed(0)
    model = GPT(tiny(**OPTIONS[name])).double().eval()
    idx = torch.randint(0, 11, (2, 8))
    logits = model(idx)
    for t in range(7):
        changed = idx.clone()
        changed[:, t + 1] = (changed[:, t + 1] + 1) % 11
        out = model(changed)
        torch.testing.assert_close(out[:, : t + 1], logits[:, : t + 1], rtol=0, atol=0)
        assert not torch.equal(out[:, t + 1], logits[:, t + 1])


@pytest.mark.parametrize("name", OPTIONS)
def test_checkpoint_round_trip_keeps_the_option(name, tmp_path):
    torch.manual_seed(0)
    model = GPT(tiny(**OPTIONS[name])).eval()
    path = save_model(model, tmp_path / "model.safetensors")
    loaded = load_model(path).eval()
    assert loaded.config == model.config
    for field, value in OPTIONS[name].items():
        assert getattr(loaded.config, field) == value
    idx = torch.randint(0, 11, (2, 8))
    torch.testing.assert_close(loaded(idx), model(idx), rtol=0, atol=0)


def test_config_json_round_trip_with_options():
    config = tiny(**OPTIONS["all"], rotary_base=500.0)
    assert GPTConfig.from_json(config.to_json()) == config


def test_rolled_rotary_is_bit_for_bit_apply_rotary():
    from mingpt_lite.attention import apply_rotary, apply_rotary_rolled, rolled_rotary_tables, rotary_tables

    torch.manual_seed(0)
    x = torch.randn(2, 5, 3, 8)  # (B, T, H, D)
    cos, sin = rotary_tables(5, 8)
    expected = apply_rotary(x, cos[:, None], sin[:, None])
    assert torch.equal(apply_rotary_rolled(x, *rolled_rotary_tables(cos[:, None], sin[:, None])), expected)


def test_rotary_attention_rotates_queries_and_keys_in_one_call_exactly_as_in_two():
    from mingpt_lite.attention import CausalSelfAttention, apply_rotary

    torch.manual_seed(0)
    config = GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=16, dropout=0.0, position="rotary")
    attn = CausalSelfAttention(config).eval()
    x = torch.randn(3, 6, 16)
    B, T, C = x.shape
    q, k, v = (t.view(B, T, 2, 8).transpose(1, 2) for t in attn.qkv(x).split(C, dim=2))
    cos, sin = attn.rotary_cos[:T], attn.rotary_sin[:T]
    y = torch.nn.functional.scaled_dot_product_attention(apply_rotary(q, cos, sin), apply_rotary(k, cos, sin), v,
                                                         is_causal=True)
    expected = attn.residual_proj(y.transpose(1, 2).reshape(B, T, C))
    torch.testing.assert_close(attn(x), expected, rtol=1e-6, atol=1e-6)
