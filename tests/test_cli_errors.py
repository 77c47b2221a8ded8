"""The command line when things go wrong (issue 15): the real command in a subprocess.

A user's mistake is one line on stderr naming the problem and the fix (exit status 2), a
run that fails is one line too (exit status 1), Ctrl-C says where the run was saved
(130), and no traceback unless --debug or MINGPT_DEBUG asks for one. Each subprocess
pays torch's import (a few seconds), so each test here runs a whole scenario; checks that
need no process of their own call ``main()`` in this process.
"""

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from mingpt_lite.train import main
from mingpt_lite.training_state import load_state

pytestmark = pytest.mark.usefixtures("one_thread")

ROOT = Path(__file__).resolve().parent.parent
TINY = ["--length", "4", "--batch-size", "16", "--dropout", "0", "--n-layer", "1", "--n-head", "2",
        "--n-embd", "16", "--device", "cpu", "--no-progress"]
TIMEOUT = 600  # generous: a busy machine makes torch's import slow


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("MINGPT_DEBUG", "MINGPT_DEVICE")}
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT), **extra)
    return env


def cli(*args, cwd, **extra_env):
    return subprocess.run([sys.executable, "-m", "mingpt_lite.train", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, env=_env(**extra_env), timeout=TIMEOUT)


def one_line(stderr: str) -> str:
    """stderr must be exactly one line and no traceback; returns it."""
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def _dead_pid() -> int:
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    return done.pid


def test_divergence_names_a_checkpoint_from_which_a_lower_lr_recovers(tmp_path):
    # The command, shortened: lr 30 without clipping diverges at once.
    run = ["sort", "--out", "nan5", "--iters", "60", "--checkpoint-interval", "20", "--grad-clip", "0", *TINY]
    first = cli(*run, "--lr", "30", cwd=tmp_path)
    assert first.returncode == 1
    line = one_line(first.stderr)
    assert line.startswith("error: the training loss jumped to ") and "at iteration 1" in line and "diverged" in line
    assert "The last good checkpoint (iteration 0) is kept at nan5/training_state.pt" in line
    assert "--resume --lr 0.0005" in line
    out = tmp_path / "nan5"
    assert load_state(out / "training_state.pt")["iter_num"] == 0

    # the same command again must not silently replace the run
    again = cli(*run, "--lr", "30", cwd=tmp_path)
    assert again.returncode == 2
    line = one_line(again.stderr)
    assert "nan5 already holds a run" in line and "--resume" in line and "--overwrite" in line

    # a killed writer's temporary file is cleaned up when the run continues there
    stale = out / f".training_state.pt.tmp-{_dead_pid()}"
    stale.write_bytes(b"x" * 1000)
    resumed = cli(*run, "--lr", "1e-2", "--resume", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "Traceback" not in resumed.stderr
    assert "resuming at iteration 0 of 60" in resumed.stdout
    assert "changed since the run was saved: --lr 30.0 -> 0.01 (used from here on)" in resumed.stdout
    assert "trained 60 iterations" in resumed.stdout
    losses = load_state(out / "training_state.pt")["losses"]
    assert len(losses) == 60 and all(math.isfinite(v) for v in losses)
    assert sum(losses[-15:]) / 15 < 0.8 * losses[0]  # it really recovers: the loss falls
    assert not stale.exists()
    assert not list(out.glob(".*tmp*"))


def test_usage_errors_are_one_line_with_exit_status_2(tmp_path, capsys):
    result = cli("sort", "--out", "x", "--n-layer", "0", cwd=tmp_path)
    assert result.returncode == 2
    assert one_line(result.stderr) == ("python -m mingpt_lite.train sort: error: argument --n-layer: must be at "
                                       "least 1, got 0 (see python -m mingpt_lite.train sort --help)")
    assert not (tmp_path / "x").exists()

    # the same checks without a process each
    cases = [
        (["sort", "--n-embd", "0", "--n-head", "0"], "argument --n-embd: must be at least 1, got 0"),
        (["sort", "--seed", str(2**70)], "argument --seed: must be between 0 and 9223372036854775807"),
        (["sort", "--lr", "nan"], "argument --lr: must be a finite number"),
        (["sort", "--lr", "0"], "argument --lr: must be above 0"),
        (["sort", "--iters", "-1"], "argument --iters: must be at least 0"),
        (["sort", "--dropout", "1"], "argument --dropout: must be in [0, 1)"),
        (["char", "--val-fraction", "0"], "argument --val-fraction: must be in (0, 1)"),
        (["sample", "--run", "r", "--temperature", "0"], "argument --temperature: must be above 0"),
    ]
    for argv, says in cases:
        with pytest.raises(SystemExit) as done:
            main(argv)
        assert done.value.code == 2
        assert says in one_line(capsys.readouterr().err), argv

    out = tmp_path / "run"
    common = ["sort", "--out", str(out), *TINY]
    assert main([*common, "--resume"]) == 2
    assert "there is no run to continue" in one_line(capsys.readouterr().err)
    assert main([*common, "--resume", "--overwrite"]) == 2
    assert "choose one" in one_line(capsys.readouterr().err)
    if not torch.cuda.is_available():
        assert main([*common, "--device", "cuda"]) == 2
        line = one_line(capsys.readouterr().err)
        assert "--device cuda" in line and "CUDA is not available" in line and "--device cpu" not in line[:10]

    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("déjà vu ".encode("latin-1") * 100)
    assert main(["char", "--text", str(latin1), "--out", str(tmp_path / "c"), "--device", "cpu"]) == 2
    assert f"--text: {latin1} is not UTF-8 text: byte 0xe9" in one_line(capsys.readouterr().err)

    # --iters 0 trains nothing and says so (it crashed on trainer.losses[-1])
    assert main([*common, "--iters", "0"]) == 0
    assert "trained 0 iterations" in capsys.readouterr().out
    assert (out / "model.safetensors").is_file()
    # continuing asks for iterations past the run's; other data is refused
    assert main([*common, "--iters", "4", "--checkpoint-interval", "2", "--overwrite"]) == 0
    capsys.readouterr()
    assert main([*common, "--iters", "2", "--resume"]) == 2
    assert "is at iteration 4, past --iters 2" in one_line(capsys.readouterr().err)
    assert main([*common[:-len(TINY)], *TINY[2:], "--length", "5", "--iters", "6", "--resume"]) == 2
    assert "was trained on other data (length 4 -> 5)" in one_line(capsys.readouterr().err)
    assert main([*common, "--iters", "6", "--resume", "--n-layer", "2"]) == 2
    assert "n_layer 1 in the checkpoint vs 2 here" in one_line(capsys.readouterr().err)


def test_a_closed_pipe_does_not_stop_the_run(tmp_path):
    # `python -m mingpt_lite.train ... | head -1`: head reads one line and exits
    process = subprocess.Popen(
        [sys.executable, "-m", "mingpt_lite.train", "sort", "--out", "piped", "--iters", "30", *TINY],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    first = process.stdout.readline()
    process.stdout.close()
    stderr = process.communicate(timeout=TIMEOUT)[1]
    assert "parameters, training on cpu" in first
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr
    assert (tmp_path / "piped" / "model.safetensors").is_file()  # it finished and saved


def test_ctrl_c_saves_and_says_where_in_one_line(tmp_path):
    out = tmp_path / "long"
    process = subprocess.Popen(
        [sys.executable, "-m", "mingpt_lite.train", "sort", "--out", "long", "--iters", "1000000",
         "--checkpoint-interval", "100000", *TINY],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    deadline = time.monotonic() + TIMEOUT
    # the starting point is saved inside train(), after its Ctrl-C handler is in place
    while not (out / "training_state.pt").exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.1)
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 130, stderr
    line = one_line(stderr)
    assert line.startswith("interrupted at iteration ") and "the run is saved in long at iteration" in line
    assert line.endswith("; continue with --resume")
    at = int(line.split("interrupted at iteration ")[1].split(";")[0])
    assert load_state(out / "training_state.pt")["iter_num"] == at > 0


_FULL_DISK = """
import errno, os, runpy, sys
real_fsync, calls = os.fsync, []
def fsync(fd):  # the disk fills up after data.json and the starting checkpoint
    calls.append(fd)
    if len(calls) > 2:
        raise OSError(errno.ENOSPC, "No space left on device")
    return real_fsync(fd)
os.fsync = fsync
sys.argv = ["mingpt_lite.train"] + sys.argv[1:]
runpy.run_module("mingpt_lite.train", run_name="__main__", alter_sys=True)
"""


def test_a_full_disk_is_one_line_and_the_checkpoint_before_is_intact(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", _FULL_DISK, "sort", "--out", "full", "--iters", "20", "--checkpoint-interval", "5", *TINY],
        cwd=tmp_path, capture_output=True, text=True, env=_env(), timeout=TIMEOUT)
    assert result.returncode == 1
    assert one_line(result.stderr) == ("error: no space left on device while writing full/training_state.pt; "
                                       "the previous checkpoint is intact; free some space and continue with --resume")
    assert load_state(tmp_path / "full" / "training_state.pt")["iter_num"] == 0
    assert not list((tmp_path / "full").glob(".*tmp*"))


def test_a_damaged_run_is_one_line_and_debug_shows_the_traceback(tmp_path):
    from mingpt_lite import GPT, GPTConfig, save_model

    run = tmp_path / "run"
    save_model(GPT(GPTConfig(vocab_size=3, block_size=7, n_layer=1, n_head=2, n_embd=16)), run / "model.safetensors")
    (run / "data.json").write_text(json.dumps({"kind": "sort", "num_digits": 3}))
    result = cli("eval", "--run", "run", "--device", "cpu", cwd=tmp_path)
    assert result.returncode == 2
    assert one_line(result.stderr) == ("error: run/data.json lacks 'length': it is damaged or was not written by "
                                       "this command; train the run again")
    debug = cli("eval", "--run", "run", "--device", "cpu", cwd=tmp_path, MINGPT_DEBUG="1")
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "lacks 'length'" in debug.stderr
