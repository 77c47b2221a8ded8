"""mingpt_lite.attention: explicit and fused attention agree, no position sees the future, and rotary
positions equal their complex-number definition and give relative-position scores."""


import pytest
import torch
from conftest import tiny_config

from mingpt_lite import GPT, GPTConfig
from mingpt_lite.attention import CausalSelfAttention, apply_rotary, explicit_attention, rotary_tables, rotate_explicit


def exact_dtype(device):
    """float64 where the device has it; Apple's MPS has no float64, so float32 there (issue 26-J)."""
    return torch.float32 if device.type == "mps" else torch.float64


pytestmark = pytest.mark.usefixtures("one_thread")


def test_explicit_and_fast_attention_agree_in_float64():
    torch.manual_seed(0)
    config = tiny_config(n_embd=32, n_head=4)
    explicit = CausalSelfAttention(GPTConfig(**{**config.__dict__, "attention": "explicit"})).double()
    fast = CausalSelfAttention(config).double()
    fast.load_state_dict(explicit.state_dict())
    x = torch.randn(3, 8, 32, dtype=torch.float64)
    y_explicit, weights = explicit(x, return_weights=True)
    y_fast = fast(x)
    torch.testing.assert_close(y_fast, y_explicit, rtol=0, atol=1e-12)
    torch.testing.assert_close(explicit(x), y_explicit, rtol=0, atol=0)
    assert weights.shape == (3, 4, 8, 8)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, 4, 8, dtype=torch.float64))
    assert torch.all(weights.triu(diagonal=1) == 0)  # nothing above the diagonal: no future


def test_whole_models_agree_across_attention_paths(device):
    torch.manual_seed(0)
    dtype = exact_dtype(device)
    fast = GPT(tiny_config()).eval().to(device, dtype)
    explicit = GPT(tiny_config(attention="explicit")).eval().to(device, dtype)
    explicit.load_state_dict(fast.state_dict())
    idx = torch.randint(0, 11, (2, 8), device=device)
    torch.testing.assert_close(fast(idx), explicit(idx), rtol=0, atol=1e-12 if dtype == torch.float64 else 1e-5)


def test_explicit_attention_function_matches_torch():
    torch.manual_seed(1)
    q, k, v = (torch.randn(2, 3, 5, 4, dtype=torch.float64) for _ in range(3))
    mask = torch.tril(torch.ones(5, 5, dtype=torch.bool))
    y, _ = explicit_attention(q, k, v, mask)
    expected = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(y, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("norm", ["pre", "post", "notes-bug"])
def test_no_position_sees_the_future(norm, device):
    torch.manual_seed(0)
    model = GPT(tiny_config(norm=norm)).eval().to(device, exact_dtype(device))
    idx = torch.randint(0, 11, (2, 8), device=device)
    logits = model(idx)
    for t in range(7):
        changed = idx.clone()
        changed[:, t + 1] = (changed[:, t + 1] + 1) % 11
        torch.testing.assert_close(model(changed)[:, : t + 1], logits[:, : t + 1], rtol=0, atol=0)
        assert not torch.equal(model(changed)[:, t + 1], logits[:, t + 1])


@pytest.mark.parametrize("norm", ["pre", "post", "notes-bug"])
@pytest.mark.parametrize("attention", ["fast", "explicit"])
def test_gradient_of_past_logits_wrt_future_is_zero(norm, attention):
    torch.manual_seed(0)
    model = GPT(tiny_config(norm=norm, attention=attention)).double().eval()
    idx = torch.randint(0, 11, (1, 8))
    embeddings = []

    def keep(module, inputs, out):
        out.retain_grad()
        embeddings.append(out)

    hook = model.token_embedding.register_forward_hook(keep)
    logits = model(idx)
    hook.remove()
    t = 3
    logits[0, t].sum().backward()
    grad = embeddings[0].grad[0]  # (T, C): d logits[t] / d embedding of each position
    assert torch.all(grad[t + 1 :] == 0)
    assert torch.all(grad[: t + 1].abs().sum(-1) > 0)


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
    model = GPT(tiny_config(position="rotary", block_size=16, qk_norm=True)).double().eval()
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

