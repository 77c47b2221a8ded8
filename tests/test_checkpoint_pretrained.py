"""Tests for safetensors checkpoints and GPT-2 weight import (no download: a random local GPT-2)."""

import json
import pickle

import pytest
import torch
from safetensors.torch import load_file, save_file

from mingpt_lite import GPT, GPTConfig
from mingpt_lite.checkpoint import CheckpointError, load_model, save_model
from mingpt_lite.pretrained import convert_gpt2_state_dict

transformers = pytest.importorskip("transformers")


def tiny_config(**overrides):
    fields = dict(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16, dropout=0.0)
    fields.update(overrides)
    return GPTConfig(**fields)


# --- checkpoints --------------------------------------------------------------------------

@pytest.mark.parametrize("tie", [False, True])
def test_save_load_round_trip(tmp_path, tie):
    torch.manual_seed(0)
    model = GPT(tiny_config(tie_weights=tie, norm="post")).eval()
    path = save_model(model, tmp_path / "model.safetensors")
    loaded = load_model(path).eval()
    assert loaded.config == model.config
    idx = torch.randint(0, 11, (2, 8))
    torch.testing.assert_close(loaded(idx), model(idx), rtol=0, atol=0)
    if tie:
        assert loaded.lm_head.weight is loaded.token_embedding.weight
    assert not (tmp_path / "model.safetensors.tmp").exists()


def _rewrite(path, edit):
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata()
    tensors = load_file(str(path))
    edit(tensors)
    save_file(tensors, str(path), metadata=metadata)


def test_missing_unexpected_and_misshaped_tensors_are_named(tmp_path):
    path = save_model(GPT(tiny_config()), tmp_path / "m.safetensors")

    def damage(tensors):
        del tensors["blocks.1.mlp.expand.bias"]
        tensors["blocks.0.extra.weight"] = torch.zeros(2)
        tensors["final_norm.weight"] = torch.ones(17)

    _rewrite(path, damage)
    with pytest.raises(CheckpointError) as info:
        load_model(path)
    message = str(info.value)
    assert "missing tensors: blocks.1.mlp.expand.bias" in message
    assert "unexpected tensors: blocks.0.extra.weight" in message
    assert "final_norm.weight: file (17,) vs model (16,)" in message


def test_file_without_config_is_refused(tmp_path):
    save_file({"x": torch.zeros(1)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(CheckpointError, match="not written by save_model"):
        load_model(tmp_path / "other.safetensors")
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "absent.safetensors")


# --- GPT-2 import -------------------------------------------------------------------------

def random_hf_gpt2(n_layer=2, n_head=4, n_embd=32, vocab=97, positions=24):
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        vocab_size=vocab, n_positions=positions, n_embd=n_embd, n_layer=n_layer, n_head=n_head,
        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
    )
    model = transformers.GPT2LMHeadModel(config).eval()
    # Random init leaves LayerNorms at 1/0 and biases at 0; perturb them so the
    # test would catch a bias or gain loaded into the wrong place.
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "ln" in name or name.endswith("bias"):
                param.add_(0.1 * torch.randn_like(param))
    return model


def _compare(hf_model, ours):
    idx = torch.randint(0, hf_model.config.vocab_size, (3, hf_model.config.n_positions))
    with torch.no_grad():
        expected = hf_model(idx).logits
        got = ours(idx)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_import_from_gpt2_lm_head_model():
    hf = random_hf_gpt2()
    ours = GPT.from_pretrained(hf)
    assert ours.config.n_layer == 2 and ours.config.n_head == 4 and ours.config.block_size == 24
    assert ours.lm_head.weight is ours.token_embedding.weight
    assert not ours.training
    _compare(hf, ours)


def test_import_from_state_dict_needs_or_guesses_heads():
    hf = random_hf_gpt2(n_head=4)
    state = hf.state_dict()
    with pytest.raises(ValueError, match="n_head"):
        GPT.from_pretrained(state)
    _compare(hf, GPT.from_pretrained(state, n_head=4))


@pytest.mark.parametrize("with_buffers", [False, True])
def test_import_from_folder_with_or_without_mask_buffers(tmp_path, with_buffers):
    hf = random_hf_gpt2()
    state = {k: v.contiguous() for k, v in hf.state_dict().items() if k != "lm_head.weight"}
    state = {k.removeprefix("transformer."): v for k, v in state.items()}  # the hub's layout
    if with_buffers:
        n = hf.config.n_positions
        for i in range(hf.config.n_layer):
            state[f"h.{i}.attn.bias"] = torch.tril(torch.ones(n, n)).view(1, 1, n, n)
            state[f"h.{i}.attn.masked_bias"] = torch.tensor(-1e4)
    save_file(state, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps(hf.config.to_dict()))
    _compare(hf, GPT.from_pretrained(tmp_path))
    _compare(hf, GPT.from_pretrained(tmp_path / "model.safetensors"))


def test_conv1d_weights_are_transposed():
    hf = random_hf_gpt2()
    tensors, facts = convert_gpt2_state_dict(hf.state_dict())
    conv = hf.transformer.h[0].attn.c_attn.weight  # (in, out) = (32, 96)
    assert tensors["blocks.0.attn.qkv.weight"].shape == (96, 32)
    torch.testing.assert_close(tensors["blocks.0.attn.qkv.weight"], conv.t())
    assert facts["tie_weights"] and facts["n_layer"] == 2 and facts["vocab_size"] == 97


def test_unknown_tensor_names_are_reported():
    state = dict(random_hf_gpt2().state_dict())
    state["transformer.h.0.adapter.weight"] = torch.zeros(3)
    with pytest.raises(CheckpointError, match="h.0.adapter.weight"):
        convert_gpt2_state_dict(state)


def test_pickled_code_is_never_unpickled(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("this must never run",))

    with open(tmp_path / "pytorch_model.bin", "wb") as f:
        pickle.dump({"wte.weight": Payload()}, f, protocol=2)
    with pytest.raises(pickle.UnpicklingError, match="Unsupported global: GLOBAL print"):
        GPT.from_pretrained(tmp_path)


def test_not_a_path_nor_a_name_type_error():
    with pytest.raises(TypeError, match="source must be"):
        GPT.from_pretrained(42)
