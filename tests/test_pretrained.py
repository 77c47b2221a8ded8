"""mingpt_lite.pretrained: GPT-2 weights in the Hugging Face layout onto GPT, from a random local GPT-2
(no download), and the clear errors for files that are not one."""

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from mingpt_lite import GPT, GPTConfig
from mingpt_lite.checks import CheckpointError
from mingpt_lite.modelfile import save_model

pytestmark = pytest.mark.usefixtures("one_thread")


import json

import pytest
import torch
import transformers
from safetensors.torch import load_file, save_file

from mingpt_lite import GPT, GPTConfig
from mingpt_lite.checks import CheckpointError
from mingpt_lite.modelfile import save_model
from mingpt_lite.pretrained import convert_gpt2_state_dict, gpt2_weights


def _hf_folder(tmp_path, n_layer=2, drop_layer=None, n_head=2):
    tmp_path.mkdir()
    torch.manual_seed(0)
    hf_config = transformers.GPT2Config(vocab_size=11, n_positions=8, n_embd=16, n_layer=n_layer, n_head=n_head)
    model = transformers.GPT2LMHeadModel(hf_config)
    state = {k.removeprefix("transformer."): v.contiguous() for k, v in model.state_dict().items()
             if k != "lm_head.weight"}
    if drop_layer is not None:
        state = {k: v for k, v in state.items() if not k.startswith(f"h.{drop_layer}.")}
    save_file(state, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps(hf_config.to_dict()))
    return tmp_path


def test_from_pretrained_names_missing_layers_and_bad_files(tmp_path):
    last = _hf_folder(tmp_path / "last", drop_layer=1)
    with pytest.raises(CheckpointError, match=r"missing tensors: blocks\.1\.attn\.qkv\.bias, blocks\.1\.attn\.qkv\.weight"):
        GPT.from_pretrained(last)
    first = _hf_folder(tmp_path / "first", drop_layer=0)
    with pytest.raises(CheckpointError, match=r"no tensors at all for layer\(s\) 0 \(h\.0\.\*\)"):
        GPT.from_pretrained(first)
    ok = _hf_folder(tmp_path / "ok")
    assert GPT.from_pretrained(ok).config.n_layer == 2
    with pytest.raises(ValueError, match="GPTConfig.n_head must be an integer >= 1, got 0"):
        GPT.from_pretrained(ok, n_head=0)  # an override is used, not replaced by config.json's
    assert GPT.from_pretrained(ok, n_head=4).config.n_head == 4
    (ok / "config.json").write_text('{"n_head": 2,')
    with pytest.raises(CheckpointError, match=r"config\.json is not valid JSON"):
        GPT.from_pretrained(ok)
    for missing in (tmp_path / "absent", str(tmp_path / "absent"), "./absent-folder", "~/no/such/model.safetensors"):
        with pytest.raises(FileNotFoundError, match="no such file or folder"):
            GPT.from_pretrained(missing)


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


def test_our_own_model_file_points_to_load_model(tmp_path):
    """Issue 28-13: a file written by save_model is not GPT-2's layout; say what loads it."""
    path = save_model(GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=16)),
                      tmp_path / "ours.safetensors")
    for source in (path, load_file(str(path))):
        with pytest.raises(CheckpointError, match=r"mingpt_lite\.modelfile\.load_model") as info:
            GPT.from_pretrained(source)
        assert "unexpected tensors" not in str(info.value)


def test_gpt2_weights_reads_without_building_a_model():
    """pretrained.py renames tensors and builds a config; GPT.from_pretrained loads them."""
    hf = random_hf_gpt2()
    config, tensors = gpt2_weights(hf)
    assert config.n_layer == 2 and config.n_head == 4 and config.tie_weights
    assert set(tensors) == set(GPT(config).state_dict()) - {"lm_head.weight"}


def test_not_a_path_nor_a_name_type_error():
    with pytest.raises(TypeError, match="source must be"):
        GPT.from_pretrained(42)

