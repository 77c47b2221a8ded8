"""mingpt_lite.optim: AdamW parameter groups (minGPT's rule and the dim rule), and Muon."""

import pytest

from mingpt_lite import GPT, GPTConfig, configure_adamw, parameter_groups


def tiny_config(**overrides):
    fields = dict(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16, dropout=0.0)
    fields.update(overrides)
    return GPTConfig(**fields)


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

