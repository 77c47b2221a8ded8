"""Tests for the model half of mingpt_lite: config, attention, blocks, init, loss, optimizer groups."""

import math

import pytest
import torch

from mingpt_lite import GPT, GPTConfig, configure_adamw, lm_loss, parameter_groups, pick_device
from mingpt_lite.attention import CausalSelfAttention, explicit_attention
from mingpt_lite.blocks import Block
from mingpt_lite.init import ResidualProjection, residual_std


def tiny_config(**overrides):
    fields = dict(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16, dropout=0.0)
    fields.update(overrides)
    return GPTConfig(**fields)


# --- parameter counts: minGPT's printed figures -------------------------------------------

def formula_count(vocab, block, n_layer, n_embd):
    """Parameters without the head: embeddings + per block (12 C^2 + 13 C) + final LayerNorm."""
    return vocab * n_embd + block * n_embd + n_layer * (12 * n_embd**2 + 13 * n_embd) + 2 * n_embd


MINGPT_COUNTS = [
    # preset, vocab, block, minGPT's count without the lm head
    ("gpt-nano", 3, 11, 85_584),
    ("gpt-micro", 65, 128, 818_048),
    ("gpt-mini", 65, 128, 2_706_624),
    ("gpt2", 50257, 1024, 124_439_808),
    ("gpt2-medium", 50257, 1024, 354_823_168),
    ("gpt2-large", 50257, 1024, 774_030_080),
    ("gpt2-xl", 50257, 1024, 1_557_611_200),
]


@pytest.mark.parametrize("preset,vocab,block,expected", MINGPT_COUNTS)
def test_parameter_counts_equal_mingpt(preset, vocab, block, expected):
    config = GPTConfig.from_preset(preset, vocab_size=vocab, block_size=block)
    with torch.device("meta"):  # shapes only: gpt2-xl costs nothing
        model = GPT(config)
    assert model.num_parameters() == expected
    assert model.num_parameters(include_head=True) == expected + vocab * config.n_embd


@pytest.mark.parametrize("preset", ["openai-gpt", "gopher-44m"])
def test_other_presets_follow_the_formula(preset):
    config = GPTConfig.from_preset(preset, vocab_size=50257, block_size=1024)
    with torch.device("meta"):
        model = GPT(config)
    assert model.num_parameters() == formula_count(50257, 1024, config.n_layer, config.n_embd)


def test_gpt_nano_with_head():
    model = GPT(GPTConfig.from_preset("gpt-nano", vocab_size=3, block_size=11))
    assert model.num_parameters(include_head=True) == 85_728


def test_tied_head_counts_once():
    config = tiny_config(tie_weights=True)
    model = GPT(config)
    assert model.lm_head.weight is model.token_embedding.weight
    assert model.num_parameters() == model.num_parameters(include_head=True)
    assert model.num_parameters() == formula_count(11, 8, 2, 16)


# --- config errors ------------------------------------------------------------------------

def test_n_embd_must_divide_by_heads():
    with pytest.raises(ValueError, match="divisible by n_head"):
        GPTConfig(n_embd=50, n_head=3)


def test_unknown_preset_lists_known_ones():
    with pytest.raises(ValueError, match="gpt-nano") as info:
        GPTConfig.from_preset("gpt-tiny")
    assert "gpt-tiny" in str(info.value) and "gpt2-xl" in str(info.value)


@pytest.mark.parametrize("field,value", [("norm", "middle"), ("attention", "flash"), ("dropout", 1.0), ("n_layer", 0)])
def test_bad_config_values(field, value):
    with pytest.raises(ValueError, match=field):
        tiny_config(**{field: value})


def test_config_json_round_trip():
    config = tiny_config(norm="post", tie_weights=True)
    assert GPTConfig.from_json(config.to_json()) == config


# --- input validation ---------------------------------------------------------------------

def test_sequence_longer_than_block_size():
    model = GPT(tiny_config())
    with pytest.raises(ValueError, match="block_size 8"):
        model(torch.zeros(1, 9, dtype=torch.long))


@pytest.mark.parametrize("bad", [-1, 11, 100])
def test_token_ids_out_of_range(bad):
    model = GPT(tiny_config())
    idx = torch.zeros(2, 4, dtype=torch.long)
    idx[1, 2] = bad
    with pytest.raises(ValueError, match=r"\[0, 11\)"):
        model(idx)


def test_importing_the_package_does_not_import_dynamo():
    # torch._dynamo costs over a second to import; nothing in `import mingpt_lite` needs it
    # (torch.optim and torch.compile import it themselves when they are used)
    import subprocess
    import sys

    code = "import sys, mingpt_lite, mingpt_lite.model, mingpt_lite.trainer; print('torch._dynamo' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_token_checks_are_skipped_only_while_compiling(monkeypatch):
    from mingpt_lite.model import check_token_ids

    config, bad = tiny_config(), torch.full((1, 4), 99)
    with pytest.raises(ValueError):
        check_token_ids(bad, config)
    monkeypatch.setattr(torch.compiler, "is_compiling", lambda: True)
    assert check_token_ids(bad, config) is None  # inside a graph: the Trainer checked a batch eagerly


def test_float_ids_rejected():
    model = GPT(tiny_config())
    with pytest.raises(TypeError, match="integer"):
        model(torch.zeros(1, 4))


def test_wrong_rank_and_empty_rejected():
    model = GPT(tiny_config())
    with pytest.raises(ValueError, match="batch, time"):
        model(torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="empty"):
        model(torch.zeros(1, 0, dtype=torch.long))


# --- attention ----------------------------------------------------------------------------

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
    fast = GPT(tiny_config()).double().eval().to(device)
    explicit = GPT(tiny_config(attention="explicit")).double().eval().to(device)
    explicit.load_state_dict(fast.state_dict())
    idx = torch.randint(0, 11, (2, 8), device=device)
    torch.testing.assert_close(fast(idx), explicit(idx), rtol=0, atol=1e-12)


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
    model = GPT(tiny_config(norm=norm)).double().eval().to(device)
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


# --- blocks -------------------------------------------------------------------------------

def _block_pair(norm):
    torch.manual_seed(0)
    config = tiny_config(norm=norm)
    block = Block(config).double().eval()
    return block, torch.randn(2, 8, 16, dtype=torch.float64)


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


# --- init ---------------------------------------------------------------------------------

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


# --- loss ---------------------------------------------------------------------------------

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


# --- optimizer groups ---------------------------------------------------------------------

def _group_stats(groups):
    return [(len(g["params"]), sum(p.numel() for p in g["params"])) for g in groups]


def test_mingpt_rule_on_gpt_nano():
    model = GPT(GPTConfig.from_preset("gpt-nano", vocab_size=3, block_size=11))
    groups = parameter_groups(model, weight_decay=0.1)
    assert _group_stats(groups) == [(13, 83_088), (28, 2_640)]
    assert groups[0]["weight_decay"] == 0.1 and groups[1]["weight_decay"] == 0.0
    every = [id(p) for g in groups for p in g["params"]]
    assert len(every) == len(set(every)) == len(list(model.parameters()))


def test_dim_rule_moves_embeddings_into_decay():
    model = GPT(GPTConfig.from_preset("gpt-nano", vocab_size=3, block_size=11))
    groups = parameter_groups(model, weight_decay=0.1, rule="dim")
    # the two embedding tables (3*48 + 11*48 = 672 numbers) join the decayed matrices
    assert _group_stats(groups) == [(15, 83_088 + 672), (26, 2_640 - 672)]


def test_tied_weight_counted_once_and_not_decayed():
    model = GPT(tiny_config(tie_weights=True))
    groups = parameter_groups(model, weight_decay=0.1)
    every = [p for g in groups for p in g["params"]]
    assert len({id(p) for p in every}) == len(every) == len(list(model.parameters()))
    assert any(p is model.token_embedding.weight for p in groups[1]["params"])


def test_configure_adamw_on_cpu():
    model = GPT(tiny_config())
    opt = configure_adamw(model, lr=1e-3, weight_decay=0.1, betas=(0.9, 0.95))
    assert [g["weight_decay"] for g in opt.param_groups] == [0.1, 0.0]
    assert opt.defaults["betas"] == (0.9, 0.95)
    assert not opt.defaults["fused"]
    with pytest.raises(ValueError, match="rule"):
        parameter_groups(model, 0.1, rule="names")


# --- device -------------------------------------------------------------------------------

def test_pick_device_override(monkeypatch):
    monkeypatch.setenv("MINGPT_DEVICE", "cpu")
    assert pick_device() == torch.device("cpu")
    assert pick_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            pick_device("cuda")
