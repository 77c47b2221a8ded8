"""Tests for mingpt_lite.config: GPTConfig's presets and JSON form, TrainerConfig, and the field rules both
share with the CLI."""


import pytest
import torch
from conftest import OPTIONS, tiny_config

from mingpt_lite import GPT, GPTConfig
from mingpt_lite.blocks import MLP
from mingpt_lite.config import (
    GPT_RULES,
    BoolRule,
    ChoiceRule,
    FieldRule,
    GPTConfig,
    IntegerRule,
    NumberRule,
    TrainerConfig,
    field_rule,
    validate_fields,
)


@pytest.mark.parametrize("field, value, says", [
    ("layer_norm_eps", -1, "GPTConfig.layer_norm_eps must be a finite number > 0, got -1"),
    ("layer_norm_eps", "x", "GPTConfig.layer_norm_eps must be a finite number > 0, got 'x' (a str)"),
    ("bias", "no", "GPTConfig.bias must be True or False, got 'no' (a str)"),
    ("tie_weights", "yes", "GPTConfig.tie_weights must be True or False"),
    ("dropout", "0.1", "GPTConfig.dropout must be a finite number in [0, 1), got '0.1' (a str)"),
    ("n_layer", 0, "GPTConfig.n_layer must be an integer >= 1, got 0"),
    ("n_embd", 16.0, "GPTConfig.n_embd must be an integer >= 1, got 16.0"),
])
def test_gpt_config_names_the_bad_field(field, value, says):
    fields = dict(vocab_size=3, block_size=7, n_layer=1, n_head=2, n_embd=16)
    fields[field] = value
    with pytest.raises(ValueError) as info:
        GPTConfig(**fields)
    assert says in str(info.value)


def test_every_field_has_a_rule_and_the_table_is_the_class_s():
    assert GPTConfig.FIELD_RULES is GPT_RULES
    assert set(GPT_RULES) == set(GPTConfig.__dataclass_fields__) - {"FIELD_RULES"}
    assert all(isinstance(rule, FieldRule) for rule in GPT_RULES.values())
    assert field_rule(GPTConfig, "n_layer") is GPT_RULES["n_layer"]
    with pytest.raises(KeyError, match="GPTConfig.nope has no validation rule"):
        field_rule(GPTConfig, "nope")


@pytest.mark.parametrize("rule, text, value", [
    (IntegerRule(1), "3", 3),
    (IntegerRule(0, 10), "10", 10),
    (NumberRule(0, low_open=True), "1e-3", 1e-3),
    (NumberRule(0, 1, high_open=True), "0", 0.0),
    (BoolRule(), "yes", True),
    (BoolRule(), "False", False),
    (ChoiceRule("pre", "post"), "post", "post"),
])
def test_a_rule_reads_a_command_line_value(rule, text, value):
    assert rule.parse(text) == value and type(rule.parse(text)) is type(value)


@pytest.mark.parametrize("rule, text, says", [
    (IntegerRule(1), "0", "must be an integer >= 1, got 0"),
    (IntegerRule(1), "2.0", "must be an integer >= 1, got '2.0'"),
    (IntegerRule(0, 10), "11", "must be an integer in [0, 10], got 11"),
    (NumberRule(0, low_open=True), "0", "must be a finite number > 0, got 0"),
    (NumberRule(0, low_open=True), "nan", "must be a finite number > 0, got nan"),
    (NumberRule(0, low_open=True), "inf", "must be a finite number > 0, got inf"),
    (NumberRule(0, 1, high_open=True), "x", "must be a finite number in [0, 1), got 'x'"),
    (BoolRule(), "maybe", "must be true or false, got 'maybe'"),
    (ChoiceRule("pre", "post"), "mid", "must be one of ('pre', 'post'), got mid"),
])
def test_a_rule_refuses_a_command_line_value_in_the_words_of_the_config(rule, text, says):
    with pytest.raises(ValueError) as info:
        rule.parse(text)
    assert str(info.value) == says


def test_a_rule_and_the_config_agree():
    """The command line reads --n-layer with the rule that GPTConfig checks n_layer with."""
    with pytest.raises(ValueError, match="GPTConfig.n_layer must be an integer >= 1, got 0"):
        GPTConfig(vocab_size=3, block_size=7, n_layer=0, n_head=2, n_embd=16)
    with pytest.raises(ValueError, match="must be an integer >= 1, got 0"):
        field_rule(GPTConfig, "n_layer").parse("0")

    class Settings:
        FIELD_RULES = {"steps": IntegerRule(0), "mode": ChoiceRule("a", "b", optional=True)}

        def __init__(self, steps, mode=None):
            self.steps, self.mode = steps, mode

    validate_fields(Settings(3))
    with pytest.raises(ValueError, match=r"Settings.mode must be one of \('a', 'b'\) or None, got 'c'"):
        validate_fields(Settings(3, "c"))


# --- TrainerConfig -------------------------------------------------------------------------------------

def test_config_validation():
    with pytest.raises(ValueError, match="lr_schedule"):
        TrainerConfig(lr_schedule="exponential")
    with pytest.raises(ValueError, match="batch_size"):
        TrainerConfig(batch_size=0)
    with pytest.raises(ValueError, match="min_lr"):
        TrainerConfig(learning_rate=1e-3, min_lr=1e-2)

@pytest.mark.parametrize("field, value, says", [
    ("seed", "a", "TrainerConfig.seed must be an integer"),
    ("seed", 2**70, "TrainerConfig.seed must be an integer in [0, 9223372036854775807], got 1180591620717411303424"),
    ("seed", -1, "TrainerConfig.seed"),
    ("eval_batch_size", 2.5, "TrainerConfig.eval_batch_size must be an integer >= 1 or None, got 2.5"),
    ("learning_rate", "1e-3", "TrainerConfig.learning_rate must be a finite number > 0, got '1e-3' (a str)"),
    ("learning_rate", float("nan"), "TrainerConfig.learning_rate"),
    ("grad_clip", "1", "TrainerConfig.grad_clip"),
    ("max_iters", True, "TrainerConfig.max_iters"),
    ("progress", "no", "TrainerConfig.progress must be True or False"),
    ("divergence_factor", 0.5, "TrainerConfig.divergence_factor must be a finite number > 1 or None"),
    ("betas", (0.9, "0.95"), "TrainerConfig.betas[1]"),
])
def test_trainer_config_names_the_bad_field(field, value, says):
    with pytest.raises(ValueError) as info:
        TrainerConfig(**{field: value})
    assert says in str(info.value)


pytestmark = pytest.mark.usefixtures("one_thread")


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


def test_defaults_are_mingpt():
    config = GPTConfig()
    assert (config.normalization, config.position, config.mlp, config.qk_norm) == ("layernorm", "learned", "gelu", False)
    model = GPT(tiny_config())
    assert isinstance(model.final_norm, torch.nn.LayerNorm)
    assert type(model.blocks[0].mlp) is MLP
    assert model.position_embedding is not None and model.blocks[0].attn.q_norm is None


@pytest.mark.parametrize("field,value", [
    ("normalization", "batchnorm"), ("position", "sinusoid"), ("mlp", "tanh"), ("qk_norm", 1),
    ("rotary_base", 0.5), ("rotary_base", True),
])
def test_bad_option_values_are_clear_errors(field, value):
    with pytest.raises(ValueError, match=field):
        tiny_config(**{field: value})


def test_rotary_needs_an_even_head_dim():
    with pytest.raises(ValueError, match="even"):
        tiny_config(n_embd=6, n_head=2, position="rotary")


def test_config_json_round_trip_with_options():
    config = tiny_config(**OPTIONS["all"], rotary_base=500.0)
    assert GPTConfig.from_json(config.to_json()) == config

