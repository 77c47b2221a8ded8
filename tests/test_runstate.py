"""Tests for mingpt_lite.runstate: the atomic writer, the run folder's lock, the cleanup, reading state back.

Fault injection uses the real thing: files and symbolic links planted in a temporary folder,
other processes holding a lock, a process killed with SIGKILL. The command line's side of the
same cases is in test_cli.py.
"""

import errno
import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mingpt_lite import GPT, GPTConfig, runstate
from mingpt_lite.optim import configure_adamw, configure_muon
from mingpt_lite.runstate import (
    DATA_FILE,
    DIVERGED_STATE_FILE,
    FORMAT,
    LOCK_FILE,
    MODEL_FILE,
    PREVIOUS_STATE_FILE,
    RUN_FILES,
    STATE_FILE,
    DiskFullError,
    RunFolderError,
    RunFolderLocked,
    TrainingStateError,
    atomic_save,
    check_optimizer_state,
    diverged_path,
    load_state,
    previous_path,
    remove_stale_temporaries,
    run_lock,
    write_atomically,
    write_json_atomically,
)

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 120


class Payload:
    pass


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _dead_pid() -> int:
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    return done.pid


def _enospc_inside_torch_save(obj, f):
    """What torch.save does on a full disk: the OSError, then a RuntimeError raised while handling it."""
    f.write(b"part of a checkpoint")
    try:
        raise OSError(errno.ENOSPC, "No space left on device")
    except OSError:
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 736960 vs 736852")


# --- file names -----------------------------------------------------------------------------------


def test_the_run_files_are_named_once():
    assert (MODEL_FILE, STATE_FILE, DATA_FILE) == ("model.safetensors", "training_state.pt", "data.json")
    assert PREVIOUS_STATE_FILE == previous_path(STATE_FILE).name == "training_state.previous.pt"
    assert DIVERGED_STATE_FILE == diverged_path(STATE_FILE).name == "training_state.diverged.pt"
    assert set(RUN_FILES) == {MODEL_FILE, STATE_FILE, PREVIOUS_STATE_FILE, DIVERGED_STATE_FILE, DATA_FILE}
    assert previous_path("runs/x/state.pt") == Path("runs/x/state.previous.pt")


# --- the writer -----------------------------------------------------------------------------------


def test_atomic_save_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / "state.pt"
    atomic_save({"value": torch.tensor([1.0])}, path)

    def broken_save(obj, f):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        atomic_save({"value": torch.tensor([2.0])}, path)
    monkeypatch.undo()
    assert load_state(path)["value"].item() == 1.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.pt"]  # no temporary left


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


def test_keep_previous_keeps_the_last_two_versions(tmp_path):
    path = tmp_path / STATE_FILE
    for value in (1.0, 2.0, 3.0):
        atomic_save({"value": torch.tensor([value])}, path, keep_previous=True)
    assert load_state(path)["value"].item() == 3.0
    assert load_state(previous_path(path))["value"].item() == 2.0
    assert sorted(p.name for p in tmp_path.iterdir()) == [PREVIOUS_STATE_FILE, STATE_FILE]


def test_json_is_written_with_the_usual_mode_and_the_folder_is_synced(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync

    def fsync(fd):
        synced.append(stat.S_ISDIR(os.fstat(fd).st_mode))
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    old = os.umask(0o027)
    try:
        write_json_atomically(tmp_path / "r.json", {"a": [1, 2], "é": "x"})
    finally:
        os.umask(old)
    assert synced == [False, True]  # the file's bytes, then the folder's entry for the new name
    assert json.loads((tmp_path / "r.json").read_text(encoding="utf-8")) == {"a": [1, 2], "é": "x"}
    assert (tmp_path / "r.json").stat().st_mode & 0o777 == 0o640  # 0666 through the umask, as open() does
    write_atomically(tmp_path / "b.bin", lambda f: f.write(b"xyz"))
    assert (tmp_path / "b.bin").stat().st_mode & 0o777 == 0o666 & ~_umask()


def test_no_symlink_is_followed_at_the_target_the_previous_name_or_a_temporary_name(tmp_path, monkeypatch):
    """Issue 28 item 5: links planted at every name the writer uses never redirect a write."""
    run, outside = tmp_path / "run", tmp_path / "outside"
    run.mkdir()
    outside.mkdir()
    victims = {name: outside / name for name in ("data", "previous", "temporary", "old-temporary")}
    for name, victim in victims.items():
        victim.write_text(f"{name} belongs to someone else")
    (run / DATA_FILE).symlink_to(victims["data"])
    (run / STATE_FILE).write_bytes(b"not read")
    (run / PREVIOUS_STATE_FILE).symlink_to(victims["previous"])
    # the temporary name the writer will try first (its random part made predictable here),
    # and the fixed name the old writer used
    names = iter(["0" * 12, "1" * 12, "2" * 12, "3" * 12])
    monkeypatch.setattr(runstate.secrets, "token_hex", lambda n: next(names))
    (run / f".{DATA_FILE}.mingpt-tmp-{os.getpid()}-{'0' * 12}").symlink_to(victims["temporary"])
    (run / f".{DATA_FILE}.tmp-{os.getpid()}").symlink_to(victims["old-temporary"])

    write_json_atomically(run / DATA_FILE, {"kind": "sort"})
    write_atomically(run / STATE_FILE, lambda f: f.write(b"new state"), keep_previous=True)

    for name, victim in victims.items():
        assert victim.read_text() == f"{name} belongs to someone else", name  # nothing outside was written
    assert not (run / DATA_FILE).is_symlink() and json.loads((run / DATA_FILE).read_text()) == {"kind": "sort"}
    assert not (run / PREVIOUS_STATE_FILE).is_symlink() and (run / PREVIOUS_STATE_FILE).read_bytes() == b"not read"
    assert (run / STATE_FILE).read_bytes() == b"new state"


# --- cleaning up after a killed writer --------------------------------------------------------------


def test_the_cleanup_removes_only_our_temporaries_of_the_run_files(tmp_path):
    """Issue 28 item 1: a user's own temp-like files, and other writers' files, stay."""
    dead = _dead_pid()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        ours_stale = tmp_path / f".{STATE_FILE}.mingpt-tmp-{dead}-0123456789ab"
        ours_busy = tmp_path / f".{DATA_FILE}.mingpt-tmp-{alive.pid}-0123456789ab"
        kept = [
            tmp_path / ".thesis.tex.tmp-999999",  # the two files, deleted by the old rule
            tmp_path / ".cache.tmp-424242",
            tmp_path / f".{STATE_FILE}.tmp-{dead}",  # the old writer's name: not recognisably ours
            tmp_path / f".notes.txt.mingpt-tmp-{dead}-0123456789ab",  # ours, but not a run file
            tmp_path / "notes.tmp-1",
        ]
        for file in (ours_stale, ours_busy, *kept):
            file.write_bytes(b"x" * 100)
        assert remove_stale_temporaries(tmp_path) == [ours_stale]
        assert all(file.exists() for file in (ours_busy, *kept))
        # a caller may name its own targets
        assert remove_stale_temporaries(tmp_path, targets=["notes.txt"]) == [kept[3]]
    finally:
        alive.kill()
        alive.wait()
    assert remove_stale_temporaries(tmp_path) == [ours_busy]
    assert all(file.exists() for file in kept[:3] + kept[4:])


# --- one run per folder ---------------------------------------------------------------------------

_HOLD = """
import sys, time
from mingpt_lite.runstate import run_lock
with run_lock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(120)
"""


def _holder(folder: Path) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", _HOLD, str(folder)], stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert process.stdout.readline().strip() == "locked"
    return process


def test_a_second_run_is_refused_naming_the_holder_and_a_killed_holder_never_blocks(tmp_path):
    """Issue 28 item 2, with real processes: flock is released by the kernel when its holder dies."""
    folder = tmp_path / "run"
    holder = _holder(folder)
    try:
        with pytest.raises(RunFolderLocked) as info:
            with run_lock(folder):
                pass
        assert info.value.pid == holder.pid
        message = str(info.value)
        assert f"process {holder.pid}" in message and "\n" not in message and str(folder) in message
    finally:
        holder.send_signal(signal.SIGKILL)  # no cleanup at all: the lock file stays behind
        holder.wait()
    assert (folder / LOCK_FILE).exists()
    with run_lock(folder):  # the stale lock file does not block
        assert (folder / LOCK_FILE).read_text().strip() == str(os.getpid())
        with run_lock(folder):  # re-entrant within one process (the CLI, then the Trainer)
            pass
        assert (folder / LOCK_FILE).exists()
    assert not (folder / LOCK_FILE).exists()  # released and removed


def test_the_lock_file_is_never_a_symlink(tmp_path):
    folder, victim = tmp_path / "run", tmp_path / "victim"
    folder.mkdir()
    victim.write_text("keep me")
    (folder / LOCK_FILE).symlink_to(victim)
    with pytest.raises(RunFolderError, match="is a symbolic link, which a lock file never is"):
        with run_lock(folder):
            pass
    assert victim.read_text() == "keep me"


_MERGE = """
import json, sys
from pathlib import Path
from mingpt_lite.runstate import file_lock, write_json_atomically
path, me = Path(sys.argv[1]), sys.argv[2]
for k in range(25):
    with file_lock(path, wait=True):
        runs = json.loads(path.read_text()) if path.exists() else {}
        runs[f"{me}-{k}"] = k
        write_json_atomically(path, runs)
"""


def test_writers_that_merge_under_file_lock_lose_nothing(tmp_path):
    results = tmp_path / "results.json"
    writers = [subprocess.Popen([sys.executable, "-c", _MERGE, str(results), name],
                                env={**os.environ, "PYTHONPATH": str(ROOT)}) for name in ("a", "b")]
    for writer in writers:
        assert writer.wait(timeout=TIMEOUT) == 0
    assert len(json.loads(results.read_text())) == 50
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]  # no lock or temporary left


# --- reading a checkpoint back ----------------------------------------------------------------------


def test_loading_refuses_pickled_objects_and_foreign_files(tmp_path):
    evil = tmp_path / "evil.pt"
    torch.save({"format": FORMAT, "x": Payload()}, evil)
    with pytest.raises(TrainingStateError, match="holds Python objects .* never loaded"):
        load_state(evil)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(TrainingStateError, match="not a mingpt_lite training checkpoint"):
        load_state(other)
    with pytest.raises(FileNotFoundError):
        load_state(tmp_path / "missing.pt")


@pytest.mark.parametrize("content", [b"garbage" * 100, b"PK\x03\x04" + b"\x00" * 60, b""])
def test_a_damaged_checkpoint_is_one_line_that_names_the_good_previous_one(tmp_path, content):
    """Issue 28 items 7 and 13: no torch advice to load unsafely; a 0-byte file gets a real reason."""
    path = tmp_path / STATE_FILE
    atomic_save({"value": torch.tensor([1.0])}, path)
    atomic_save({"value": torch.tensor([2.0])}, path, keep_previous=True)
    path.write_bytes(content)
    with pytest.raises(TrainingStateError) as info:
        load_state(path)
    message = str(info.value)
    assert "\n" not in message and "weights_only" not in message
    assert message.endswith(f"; the checkpoint before it, {previous_path(path)}, is intact")
    if content:
        assert message.startswith(f"cannot read training checkpoint {path}: it is damaged or not a torch.save file")
    else:
        assert message.startswith(f"{path} is empty (0 bytes): it was never written completely")
    previous_path(path).unlink()
    with pytest.raises(TrainingStateError) as info:
        load_state(path)
    assert "checkpoint before it" not in str(info.value)


def test_a_folder_where_the_checkpoint_belongs_is_named(tmp_path):
    (tmp_path / STATE_FILE).mkdir()
    with pytest.raises(TrainingStateError, match=f"^{tmp_path / STATE_FILE} is a folder, not a training checkpoint"):
        load_state(tmp_path / STATE_FILE)


def test_an_optimizer_state_of_another_optimizer_is_named_in_one_line():
    """Issue 28 item 13: resuming a Muon checkpoint into AdamW gave torch's bare ValueError."""
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=3, block_size=7, n_layer=1, n_head=2, n_embd=16))
    adamw, muon = configure_adamw(model, 1e-2), configure_muon(model, lr=1e-2)
    check_optimizer_state(adamw.state_dict(), configure_adamw(model, 1e-3))  # the same kind fits
    with pytest.raises(TrainingStateError) as info:
        check_optimizer_state(muon.state_dict(), adamw)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("the checkpoint's optimizer state does not fit this AdamW: it has parameter groups of "
                              "[4, 3, 10] tensors with settings lr_scale, momentum, muon that AdamW does not have, "
                              "this optimizer [5, 12]")
    with pytest.raises(ValueError, match="different number of parameter groups"):
        adamw.load_state_dict(muon.state_dict())  # what it guards against
