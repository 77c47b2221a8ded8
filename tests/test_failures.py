"""What a bad run or a bad input costs (issue 15), at the library level.

Divergence and the checkpoint to recover from, a full disk, temporary files of killed
writers, and clear errors for values of the wrong type or range. The command line's side
of the same cases is in test_cli_errors.py.
"""

import errno
import json
import math
import os
import subprocess
import sys

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from mingpt_lite import GPT, GPTConfig
from mingpt_lite.checkpoint import CheckpointError, load_model, save_model
from mingpt_lite.data import CharDataset, SortTask, read_text_file
from mingpt_lite.loss import lm_loss
from mingpt_lite.trainer import DivergenceError, NonFiniteLossError, Trainer, TrainerConfig
from mingpt_lite.training_state import (
    DiskFullError,
    TrainingStateError,
    atomic_save,
    load_state,
    previous_path,
    remove_stale_temporaries,
)

pytestmark = pytest.mark.usefixtures("one_thread")

TASK = SortTask(length=4, num_digits=3)


def tiny_model(seed=0, **overrides):
    torch.manual_seed(seed)
    fields = dict(vocab_size=3, block_size=7, n_layer=1, n_head=2, n_embd=16, dropout=0.0)
    fields.update(overrides)
    return GPT(GPTConfig(**fields))


def config(**overrides):
    base = dict(max_iters=20, batch_size=16, learning_rate=1e-2, progress=False, device="cpu", log_interval=4, seed=11)
    base.update(overrides)
    return TrainerConfig(**base)


def _falls(losses):
    """Finite, and the last quarter clearly below the first loss."""
    tail = losses[-max(1, len(losses) // 4):]
    return all(math.isfinite(v) for v in losses) and sum(tail) / len(tail) < 0.8 * losses[0]


# --- divergence -------------------------------------------------------------------------------------


def test_a_finite_blow_up_stops_the_run_and_names_a_checkpoint_that_recovers(tmp_path):
    # The run: lr 30 without clipping. Its loss stays finite for a while (1e4, 1e6, ...),
    # so "not NaN" would have let it save blown-up weights as "the last good checkpoint".
    path = tmp_path / "state.pt"
    doomed = Trainer(tiny_model(), TASK, config(learning_rate=30.0, grad_clip=None, checkpoint_path=str(path),
                                                checkpoint_interval=5, checkpoint_start=True, max_iters=40))
    with pytest.raises(DivergenceError, match=r"jumped to .* at iteration 1, more than 4 times") as info:
        doomed.train()
    assert not isinstance(info.value, NonFiniteLossError)  # caught while still finite
    assert info.value.iteration == 1 and info.value.checkpoint == (0, str(path))
    assert "last good checkpoint (iteration 0)" in str(info.value)
    # The checkpoint it names really recovers with a lower learning rate.
    resumed = Trainer.resume(path, tiny_model(seed=5), TASK, config(learning_rate=1e-2, max_iters=40))
    assert resumed.iter_num == 0
    resumed.train()
    assert _falls(resumed.losses)


def test_a_checkpoint_written_after_the_run_went_bad_is_set_aside(tmp_path):
    path = tmp_path / "state.pt"
    trainer = Trainer(tiny_model(), TASK, config(checkpoint_path=str(path), checkpoint_interval=5, max_iters=40))

    def blow_up(t):  # after step 9's update: the checkpoint due at 10 holds ruined, finite weights
        if t.iter_num == 9:
            with torch.no_grad():
                for p in t.model.parameters():
                    p.mul_(1e4)

    trainer.add_callback("on_batch_end", blow_up)
    with pytest.raises(DivergenceError) as info:
        trainer.train()
    message = str(info.value)
    assert "at iteration 10" in message and "newest checkpoint (iteration 10) was written after the run went bad" in message
    assert "last good checkpoint (iteration 5)" in message and info.value.checkpoint == (5, str(path))
    aside = tmp_path / "state.diverged.pt"
    assert load_state(aside)["iter_num"] == 10 and load_state(path)["iter_num"] == 5
    assert trainer.last_checkpoint == (5, str(path))
    resumed = Trainer.resume(path, tiny_model(seed=1), TASK, config(max_iters=30))
    assert resumed.losses == trainer.losses[:5]  # the history up to the good checkpoint
    resumed.train()
    assert all(math.isfinite(v) for v in resumed.losses) and resumed.losses[-1] < 0.8 * resumed.losses[0]


def test_a_non_finite_gradient_stops_before_its_update_is_saved(tmp_path):
    path = tmp_path / "state.pt"
    trainer = Trainer(tiny_model(), TASK, config(checkpoint_path=str(path), checkpoint_interval=4, grad_clip=1.0))

    def poison(t):
        if t.iter_num == 6:
            t.model.lm_head.weight.grad[0, 0] = float("inf")

    trainer.add_callback("on_after_backward", poison)
    with pytest.raises(NonFiniteLossError, match=r"gradient's norm became inf at iteration 6.*iteration 4"):
        trainer.train()
    assert len(trainer.losses) == 7  # step 6's own loss was fine; the weights after it are not
    assert load_state(path)["iter_num"] == 4
    assert all(torch.isfinite(t).all() for t in load_state(path)["model"].values())


def test_the_safety_checks_do_not_change_a_healthy_run(tmp_path):
    plain = Trainer(tiny_model(), TASK, config(divergence_factor=None)).train()
    checked = Trainer(tiny_model(), TASK, config(checkpoint_path=str(tmp_path / "s.pt"), checkpoint_interval=3)).train()
    assert plain.losses == checked.losses
    assert all(torch.equal(p, q) for p, q in zip(plain.model.parameters(), checked.model.parameters()))
    # the last two saves are kept: the final one and the one before it
    assert load_state(tmp_path / "s.pt")["iter_num"] == 20
    assert load_state(previous_path(tmp_path / "s.pt"))["iter_num"] == 18


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_the_divergence_checks_add_no_device_sync_to_a_gpu_step():
    trainer = Trainer(tiny_model(), TASK, config(device="cuda", log_interval=8, grad_clip=1.0))
    trainer._step()  # warm up: first-call allocations may synchronise
    torch.cuda.synchronize()
    previous = torch.cuda.get_sync_debug_mode()
    torch.cuda.set_sync_debug_mode("error")  # any synchronising call in the step raises
    try:
        for _ in range(5):
            trainer._step()
    finally:
        torch.cuda.set_sync_debug_mode(previous)
    trainer._flush_losses()  # the one read-back, where the checks run
    assert len(trainer.losses) == 6 and all(math.isfinite(v) for v in trainer.losses)


# --- files: a full disk, temporaries of killed writers, modes --------------------------------------


def _enospc_inside_torch_save(obj, f):
    """What torch.save does on a full disk: the OSError, then a RuntimeError raised while handling it."""
    f.write(b"part of a checkpoint")
    try:
        raise OSError(errno.ENOSPC, "No space left on device")
    except OSError:
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 736960 vs 736852")


def test_a_full_disk_is_named_and_the_previous_checkpoint_is_intact(tmp_path, monkeypatch):
    path = tmp_path / "state.pt"
    atomic_save({"value": torch.tensor([1.0])}, path)
    monkeypatch.setattr(torch, "save", _enospc_inside_torch_save)
    with pytest.raises(DiskFullError) as info:
        atomic_save({"value": torch.tensor([2.0])}, path, keep_previous=True)
    assert str(info.value) == f"no space left on device while writing {path}; the previous checkpoint is intact"
    assert info.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert load_state(path)["value"].item() == 1.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.pt"]  # no temporary left

    # the weights file: a full disk usually shows up at fsync
    model = tiny_model()
    save_model(model, tmp_path / "model.safetensors")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(DiskFullError, match="no space left on device while writing .*model.safetensors; the previous"):
        save_model(tiny_model(seed=1), tmp_path / "model.safetensors")
    monkeypatch.undo()
    loaded = load_model(tmp_path / "model.safetensors")
    assert all(torch.equal(p, q) for p, q in zip(loaded.parameters(), model.parameters()))


def test_stale_temporaries_of_dead_writers_are_removed_and_live_ones_kept(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stale = tmp_path / f".state.pt.tmp-{dead.pid}"
        busy = tmp_path / f".state.pt.tmp-{alive.pid}"
        other = tmp_path / "notes.tmp-1"  # not ours: no leading dot
        for file in (stale, busy, other):
            file.write_bytes(b"x" * 100)
        trainer = Trainer(tiny_model(), TASK, config(max_iters=2, checkpoint_path=str(tmp_path / "state.pt")))
        trainer.train()  # a run starting in the folder cleans up
        assert not stale.exists() and busy.exists() and other.exists()
        assert remove_stale_temporaries(tmp_path) == []
    finally:
        alive.kill()
        alive.wait()
    assert remove_stale_temporaries(tmp_path) == [busy]


def test_model_files_get_the_usual_mode(tmp_path):
    mask = os.umask(0)
    os.umask(mask)
    save_model(tiny_model(), tmp_path / "model.safetensors")
    atomic_save({"x": torch.zeros(1)}, tmp_path / "state.pt")
    assert (tmp_path / "model.safetensors").stat().st_mode & 0o777 == 0o666 & ~mask
    assert (tmp_path / "state.pt").stat().st_mode & 0o777 == 0o666 & ~mask


# --- values of the wrong type or range ------------------------------------------------------------------


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
    ("betas", (0.9, "0.95"), r"TrainerConfig.betas\[1\]"),
])
def test_trainer_config_names_the_bad_field(field, value, says):
    with pytest.raises(ValueError) as info:
        TrainerConfig(**{field: value})
    assert says.replace("\\", "") in str(info.value) or says in str(info.value)


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


def test_token_id_dtypes_and_target_ranges():
    model = tiny_model().eval()
    ids = torch.tensor([[0, 1, 2, 1]])
    for dtype in (torch.uint8, torch.int16, torch.int8):
        with pytest.raises(TypeError, match=f"token ids must be torch.long .*got dtype {dtype}"):
            model(ids.to(dtype))
    torch.testing.assert_close(model(ids.int()), model(ids), rtol=0, atol=0)

    logits = torch.randn(1, 4, 3)
    assert lm_loss(logits, ids.int()) == lm_loss(logits, ids)  # int32 targets: converted
    assert lm_loss(logits, torch.tensor([[-1, 0, 1, 2]])).isfinite()  # -1: no loss there
    for bad, shown in (([[0, 1, 2, 3]], "from 0 to 3"), ([[0, -2, 1, 1]], "from -2 to 1")):
        with pytest.raises(ValueError, match=rf"targets must be token ids in \[0, 3\) .* or -1 .*got values {shown}"):
            lm_loss(logits, torch.tensor(bad))
    with pytest.raises(TypeError, match="integer token ids"):
        lm_loss(logits, ids.float())


def test_text_files_in_other_encodings_name_the_file(tmp_path):
    text = "Ça va? Très bien. " * 20
    (tmp_path / "utf16.txt").write_bytes(text.encode("utf-16"))  # with its byte-order mark
    (tmp_path / "bom.txt").write_bytes(text.encode("utf-8-sig"))
    assert read_text_file(tmp_path / "utf16.txt") == text
    assert read_text_file(tmp_path / "bom.txt") == text
    (tmp_path / "latin1.txt").write_bytes(text.encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1\.txt is not UTF-8 text: byte 0xc7 at offset 0 .*iconv"):
        CharDataset.from_file(tmp_path / "latin1.txt")
    (tmp_path / "binary.bin").write_bytes(bytes(range(256)))
    with pytest.raises(ValueError, match=r"binary\.bin is not UTF-8 text"):
        CharDataset.from_file(tmp_path / "binary.bin")
    (tmp_path / "nul.txt").write_bytes(b"abc\x00def" * 50)
    with pytest.raises(ValueError, match=r"nul\.txt holds NUL bytes"):
        read_text_file(tmp_path / "nul.txt")
    with pytest.raises(FileNotFoundError, match="no text file at"):
        read_text_file(tmp_path / "absent.txt")


def test_decode_refuses_ids_outside_the_vocabulary():
    data = CharDataset("abcabcabc" * 10, block_size=4)
    assert data.decode([0, 1, 2]) == "abc"
    for bad in ([-1], [3], [1.0], torch.tensor([0, -1])):
        with pytest.raises(ValueError, match=r"token ids must be integers in \[0, 3\)"):
            data.decode(bad)


# --- checkpoints and pretrained weights --------------------------------------------------------------------


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


def test_resuming_into_another_model_says_what_differs_in_one_line(tmp_path):
    path = tmp_path / "s.pt"
    Trainer(tiny_model(), TASK, config(max_iters=1, checkpoint_path=str(path))).train()
    with pytest.raises(TrainingStateError) as info:
        Trainer.resume(path, tiny_model(n_layer=2), TASK)
    assert "\n" not in str(info.value) and "n_layer 1 in the checkpoint vs 2 here" in str(info.value)


transformers = pytest.importorskip("transformers")


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
