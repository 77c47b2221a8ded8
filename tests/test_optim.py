"""mingpt_lite.optim: AdamW parameter groups (minGPT's rule and the dim rule), and Muon."""


import pytest
import torch
from conftest import tiny_config

from mingpt_lite import GPT, GPTConfig, configure_adamw, parameter_groups
from mingpt_lite.optim import Muon, configure_muon, newton_schulz_orthogonalize


def _group_stats(groups):
    return [(len(g["params"]), sum(p.numel() for p in g["params"])) for g in groups]


pytestmark = pytest.mark.usefixtures("one_thread")


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


def test_newton_schulz_flattens_the_spectrum():
    torch.manual_seed(0)
    for shape in ((32, 96), (96, 32)):
        g = torch.randn(*shape) * torch.logspace(0, 1, shape[1])  # unequal column scales
        before = torch.linalg.svdvals(g)
        s = torch.linalg.svdvals(newton_schulz_orthogonalize(g))
        assert before.max() / before.min() > 4
        assert s.max() < 1.25 and s.min() > 0.5, s
        assert newton_schulz_orthogonalize(g).shape == shape


def test_muon_groups_and_training():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=7, block_size=8, n_layer=2, n_head=2, n_embd=16, dropout=0.0, bias=False,
                          tie_weights=True))
    opt = configure_muon(model, lr=1e-2)
    assert isinstance(opt, Muon)
    muon = {id(p) for g in opt.param_groups if g["muon"] for p in g["params"]}
    assert id(model.token_embedding.weight) not in muon
    assert id(model.blocks[0].attn.qkv.weight) in muon and id(model.blocks[1].mlp.expand.weight) in muon
    assert sum(len(g["params"]) for g in opt.param_groups) == len(list(model.parameters()))
    x = torch.randint(0, 7, (16, 8))
    y = torch.roll(x, -1, 1)
    losses = []
    for _ in range(30):
        loss = torch.nn.functional.cross_entropy(model(x).reshape(-1, 7), y.reshape(-1))
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_newton_schulz_on_a_stack_orthogonalises_each_matrix_alone():
    torch.manual_seed(0)
    stack = torch.randn(3, 24, 40)
    together = newton_schulz_orthogonalize(stack)
    for g, done in zip(stack, together):
        torch.testing.assert_close(done, newton_schulz_orthogonalize(g), rtol=1e-5, atol=1e-6)
    tall = torch.randn(2, 40, 24)
    assert newton_schulz_orthogonalize(tall).shape == tall.shape


def test_muon_bfloat16_products_keep_float32_weights():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=7, block_size=8, n_layer=2, n_head=2, n_embd=16, dropout=0.0))
    opt = configure_muon(model, lr=1e-2, ns_dtype=torch.bfloat16)
    x = torch.randint(0, 7, (4, 8))
    torch.nn.functional.cross_entropy(model(x).reshape(-1, 7), x.reshape(-1)).backward()
    opt.step()
    assert all(p.dtype == torch.float32 and torch.isfinite(p).all() for p in model.parameters())

