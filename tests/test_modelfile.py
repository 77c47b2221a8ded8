"""Tests for mingpt_lite.modelfile: a model as one safetensors file with its config inside."""

import hashlib
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import OPTIONS, tiny_config
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from mingpt_lite import GPT, GPTConfig
from mingpt_lite.modelfile import CheckpointError, load_model, model_file_bytes, save_model
from mingpt_lite.runstate import atomic_save

pytestmark = pytest.mark.usefixtures("one_thread")

ROOT = Path(__file__).resolve().parent.parent


def tiny_model(seed=0, **overrides):
    torch.manual_seed(seed)
    fields = dict(vocab_size=3, block_size=7, n_layer=1, n_head=2, n_embd=16, dropout=0.0)
    fields.update(overrides)
    return GPT(GPTConfig(**fields))


def _rewrite(path, edit):
    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata()
    tensors = load_file(str(path))
    edit(tensors)
    save_file(tensors, str(path), metadata=metadata)


def _sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_model_files_get_the_usual_mode(tmp_path):
    mask = os.umask(0)
    os.umask(mask)
    save_model(tiny_model(), tmp_path / "model.safetensors")
    atomic_save({"x": torch.zeros(1)}, tmp_path / "state.pt")
    assert (tmp_path / "model.safetensors").stat().st_mode & 0o777 == 0o666 & ~mask
    assert (tmp_path / "state.pt").stat().st_mode & 0o777 == 0o666 & ~mask


def test_a_header_claiming_a_huge_model_is_refused_before_allocating(tmp_path):
    path = save_model(tiny_model(), tmp_path / "m.safetensors")
    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata()
    tensors = load_file(str(path))
    claimed = json.loads(metadata["mingpt_lite.config"])
    claimed["vocab_size"] = 10**12  # 10^12 x 16 floats: 64 TB if it were allocated
    metadata["mingpt_lite.config"] = json.dumps(claimed)
    save_file(tensors, str(path), metadata=metadata)
    with pytest.raises(CheckpointError, match=r"token_embedding.weight: file \(3, 16\) vs model \(1000000000000, 16\)"):
        load_model(path)
    metadata["mingpt_lite.config"] = "{not json"
    save_file(tensors, str(path), metadata=metadata)
    with pytest.raises(CheckpointError, match="model config in its header is invalid"):
        load_model(path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="cannot read .* as a safetensors checkpoint"):
        load_model(path)


_SAVE_IN_A_NEW_PROCESS = """
import sys, torch
from mingpt_lite import GPT, GPTConfig, save_model
torch.manual_seed(0)
save_model(GPT(GPTConfig(vocab_size=3, block_size=7, n_layer=1, n_head=2, n_embd=16, dropout=0.0)), sys.argv[1])
"""


def test_the_same_model_always_gives_the_same_bytes(tmp_path):
    """Issue 28 item 10: safetensors' header order changed between saves; sha256 can now check a resume."""
    model = tiny_model()
    hashes = {_sha256(save_model(model, tmp_path / f"m{k}.safetensors")) for k in range(6)}
    other = subprocess.run([sys.executable, "-c", _SAVE_IN_A_NEW_PROCESS, str(tmp_path / "other.safetensors")],
                           env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert other.returncode == 0
    hashes.add(_sha256(tmp_path / "other.safetensors"))
    assert len(hashes) == 1
    # still a plain safetensors file: the header is 8-byte aligned JSON, and loads back
    raw = (tmp_path / "m0.safetensors").read_bytes()
    size = int.from_bytes(raw[:8], "little")
    assert size % 8 == 0 and json.loads(raw[8:8 + size])["__metadata__"]["format"] == "pt"
    loaded = load_model(tmp_path / "m0.safetensors")
    assert all(torch.equal(p, q) for p, q in zip(loaded.parameters(), model.parameters()))
    # and a different model gives different bytes
    assert _sha256(save_model(tiny_model(seed=1), tmp_path / "m9.safetensors")) not in hashes
    tensors = {"b": torch.ones(2), "a": torch.zeros(3, dtype=torch.float64)}
    assert len({model_file_bytes(tensors, {"x": "1", "y": "2", "z": "3"}) for _ in range(6)}) == 1


def test_nan_or_infinite_weights_are_refused_in_one_line(tmp_path):
    """Issue 28 item 13: load_model accepted all-NaN weights."""
    path = save_model(tiny_model(), tmp_path / "m.safetensors")

    def poison(tensors):
        tensors["blocks.0.attn.qkv.weight"] = torch.full_like(tensors["blocks.0.attn.qkv.weight"], float("nan"))

    _rewrite(path, poison)
    with pytest.raises(CheckpointError) as info:
        load_model(path)
    assert str(info.value) == (f"{path}: blocks.0.attn.qkv.weight holds NaN or infinite values; the model it "
                               f"stores is broken (saved after the run diverged, or damaged)")
    (tmp_path / "folder.safetensors").mkdir()
    with pytest.raises(CheckpointError, match="is a folder, not a model file"):
        load_model(tmp_path / "folder.safetensors")


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


def test_pickled_code_is_never_unpickled(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("this must never run",))

    with open(tmp_path / "pytorch_model.bin", "wb") as f:
        pickle.dump({"wte.weight": Payload()}, f, protocol=2)
    with pytest.raises(pickle.UnpicklingError, match="Unsupported global: GLOBAL print"):
        GPT.from_pretrained(tmp_path)


@pytest.mark.parametrize("name", OPTIONS)
def test_checkpoint_round_trip_keeps_the_option(name, tmp_path):
    torch.manual_seed(0)
    model = GPT(tiny_config(**OPTIONS[name])).eval()
    path = save_model(model, tmp_path / "model.safetensors")
    loaded = load_model(path).eval()
    assert loaded.config == model.config
    for field, value in OPTIONS[name].items():
        assert getattr(loaded.config, field) == value
    idx = torch.randint(0, 11, (2, 8))
    torch.testing.assert_close(loaded(idx), model(idx), rtol=0, atol=0)

