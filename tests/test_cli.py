"""The ``mingpt-lite`` command line: train, resume, eval, sample, and everything that goes wrong.

A user's mistake is one line on stderr naming the problem and the fix (exit status 2), a
run that fails is one line too (exit status 1), Ctrl-C, SIGTERM and SIGHUP say where the run
was saved (130, 143, 129), a second run into a busy folder is refused naming the first one's
process, and no traceback unless --debug or MINGPT_DEBUG asks for one. Each subprocess pays
torch's import (a few seconds), so each subprocess test runs a whole scenario with real
processes and real signals; checks that need no process of their own call ``main()`` here.
"""

import hashlib
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

from mingpt_lab.cli import MAX_TOKENS, build_parser, main
from mingpt_lite import GPT, GPTConfig, save_model
from mingpt_lite.runstate import LOCK_FILE, load_state

pytestmark = pytest.mark.usefixtures("one_thread")

ROOT = Path(__file__).resolve().parent.parent
MODEL = ["--n-layer", "1", "--n-head", "2", "--n-embd", "16", "--device", "cpu", "--no-progress"]
TINY = ["--length", "4", "--batch-size", "16", "--dropout", "0", *MODEL]
TIMEOUT = 600  # generous: a busy machine makes torch's import slow


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("MINGPT_DEBUG", "MINGPT_DEVICE")}
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT), **extra)
    return env


def _command(*args):
    return [sys.executable, "-m", "mingpt_lab", *map(str, args)]


def cli(*args, cwd, **extra_env):
    return subprocess.run(_command(*args), cwd=cwd, capture_output=True, text=True, env=_env(**extra_env),
                          timeout=TIMEOUT)


def start(*args, cwd) -> subprocess.Popen:
    return subprocess.Popen(_command(*args), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_env())


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


def _wait_for(path: Path, process: subprocess.Popen) -> None:
    """Until ``path`` exists (the run's first save is inside train(), with its signal handlers in place)."""
    deadline = time.monotonic() + TIMEOUT
    while not path.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert path.exists(), process.communicate()[1]
    time.sleep(0.5)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _train_sort(out: Path, *extra) -> None:
    assert main(["train", "sort", "--out", str(out), "--iters", "2", *TINY, *extra]) == 0


# --- the console script ---------------------------------------------------------------------------


def test_the_console_script_and_python_m_are_one_command(tmp_path, capsys):
    result = cli("--help", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.startswith("usage: mingpt-lite ")
    assert "mingpt-lite train sort --out runs/sort" in result.stdout
    old_way = subprocess.run([sys.executable, "-m", "mingpt_lab.cli", "train", "char", "--val-fraction", "1"],
                             cwd=tmp_path, capture_output=True, text=True, env=_env(), timeout=TIMEOUT)
    assert old_way.returncode == 2
    assert one_line(old_way.stderr) == ("mingpt-lite train char: error: argument --val-fraction: must be a finite "
                                        "number in (0, 1), got 1 (see mingpt-lite train char --help)")
    # experiments and bench are handed to their own command lines
    assert main(["bench", "--help"]) == 0
    assert "sort" in capsys.readouterr().out
    with pytest.raises(SystemExit) as done:
        main(["experiments", "--help"])
    assert done.value.code == 0 and "mingpt-lite experiments" in capsys.readouterr().out


def test_help_explains_every_option(capsys):
    parser = build_parser()
    for command in (["train", "sort"], ["train", "char"], ["eval"], ["sample"]):
        with pytest.raises(SystemExit) as done:
            parser.parse_args([*command, "--help"])
        assert done.value.code == 0
        text = capsys.readouterr().out
        assert text.startswith(f"usage: mingpt-lite {' '.join(command)} ")
        sub = parser._subparsers._group_actions[0].choices[command[0]]
        if len(command) == 2:
            sub = sub._subparsers._group_actions[0].choices[command[1]]
        for action in sub._actions:
            if action.option_strings and action.dest != "help":
                assert action.help, f"{command} {action.option_strings} has no help"
                assert action.option_strings[0] in text


# --- training, resuming, using a run -----------------------------------------------------------------


def test_sort_train_resume_eval_sample(tmp_path, capsys):
    out = tmp_path / "sort"
    (tmp_path / "sort").mkdir()
    # issue 28 item 1: files of the user's that merely look like temporaries stay
    users = [out / ".thesis.tex.tmp-999999", out / ".cache.tmp-424242"]
    for file in users:
        file.write_text("mine")
    common = ["train", "sort", "--length", "4", "--batch-size", "16", "--lr", "1e-2", "--dropout", "0",
              "--out", str(out), "--checkpoint-interval", "10", *MODEL]
    assert main([*common, "--iters", "20"]) == 0
    first = capsys.readouterr().out
    assert "trained 20 iterations" in first and "test" in first
    run_files = {"model.safetensors", "training_state.pt", "training_state.previous.pt", "data.json"}
    assert {p.name for p in out.iterdir()} == run_files | {p.name for p in users}  # no lock file left
    assert {oct(p.stat().st_mode & 0o777) for p in out.iterdir() if p.name in run_files} == {oct(0o666 & ~_umask())}
    assert json.loads((out / "data.json").read_text()) == {"kind": "sort", "length": 4, "num_digits": 3}

    assert main([*common, "--iters", "30", "--resume"]) == 0
    resumed = capsys.readouterr().out
    assert "resuming at iteration 20 of 30" in resumed and "trained 30 iterations" in resumed
    assert all(file.read_text() == "mine" for file in users)

    assert main(["eval", "--run", str(out), "--problems", "50", "--device", "cpu"]) == 0
    assert "accuracy on 50 problems per split" in capsys.readouterr().out
    assert main(["sample", "--run", str(out), "--prompt", "2 0 1 1", "--greedy", "--device", "cpu"]) == 0
    greedy = capsys.readouterr().out
    assert greedy.startswith("input [2, 0, 1, 1] -> model [")
    # issue 28 item 9: a temperature too small to divide by is greedy, not inf/nan
    assert main(["sample", "--run", str(out), "--prompt", "2 0 1 1", "--temperature", "1e-300", "--device", "cpu"]) == 0
    assert capsys.readouterr().out == greedy
    assert main(["sample", "--run", str(out), "--prompt", "2 0 1", "--device", "cpu"]) == 2
    assert "needs 4 digits" in capsys.readouterr().err


def test_char_train_eval_sample(tmp_path, capsys):
    text = tmp_path / "text.txt"
    text.write_text("the cat sat on the mat. " * 40, encoding="utf-8")  # no newline in it
    out = tmp_path / "char"
    assert main(["train", "char", "--text", str(text), "--block-size", "16", "--batch-size", "8", "--iters", "5",
                 "--out", str(out), *MODEL]) == 0
    trained = capsys.readouterr().out
    assert "held-out loss" in trained and "sample:" in trained
    record = json.loads((out / "data.json").read_text())
    assert record["chars"] == sorted(set(text.read_text()))
    assert main(["eval", "--run", str(out), "--batches", "2", "--device", "cpu"]) == 0
    assert "val" in capsys.readouterr().out
    assert main(["sample", "--run", str(out), "--prompt", "the ", "--tokens", "10", "--device", "cpu"]) == 0
    sample = capsys.readouterr().out
    assert sample.startswith("the ") and len(sample.rstrip("\n")) == 14
    assert main(["sample", "--run", str(out), "--prompt", "XYZ", "--device", "cpu"]) == 2
    assert "vocabulary" in capsys.readouterr().err
    # issue 28 item 13: without --prompt, a text with no newline starts from its first character
    assert main(["sample", "--run", str(out), "--tokens", "5", "--device", "cpu"]) == 0
    assert len(capsys.readouterr().out.rstrip("\n")) == 6


# --- mistakes: one line, exit status 2 ------------------------------------------------------------


def test_usage_errors_are_one_line_with_exit_status_2(tmp_path, capsys):
    result = cli("train", "sort", "--out", "x", "--n-layer", "0", cwd=tmp_path)
    assert result.returncode == 2
    assert one_line(result.stderr) == ("mingpt-lite train sort: error: argument --n-layer: must be an integer "
                                       ">= 1, got 0 (see mingpt-lite train sort --help)")
    assert not (tmp_path / "x").exists()

    # the same checks without a process each; the words are the config's own rules
    cases = [
        (["train", "sort", "--n-embd", "0", "--n-head", "0"], "argument --n-embd: must be an integer >= 1, got 0"),
        (["train", "sort", "--seed", str(2**70)], "argument --seed: must be an integer in [0, 9223372036854775807]"),
        (["train", "sort", "--lr", "nan"], "argument --lr: must be a finite number > 0, got nan"),
        (["train", "sort", "--lr", "0"], "argument --lr: must be a finite number > 0, got 0"),
        (["train", "sort", "--iters", "-1"], "argument --iters: must be an integer >= 0, got -1"),
        (["train", "sort", "--dropout", "1"], "argument --dropout: must be a finite number in [0, 1), got 1"),
        (["train", "sort", "--length", "100000000"], "argument --length: must be an integer in [1, 1000]"),
        (["train", "char", "--val-fraction", "0"], "argument --val-fraction: must be a finite number in (0, 1)"),
        (["sample", "--run", "r", "--temperature", "0"], "argument --temperature: must be a finite number > 0"),
        # issue 28 item 9: about 11 days of work and an 8 GB tensor
        (["sample", "--run", "r", "--tokens", "1000000000"], f"argument --tokens: must be an integer in [0, {MAX_TOKENS}]"),
        (["sort", "--out", "r"], "mingpt-lite: error: training is now 'mingpt-lite train sort ...'"),
    ]
    for argv, says in cases:
        with pytest.raises(SystemExit) as done:
            main(argv)
        assert done.value.code == 2
        assert says in one_line(capsys.readouterr().err), argv

    out = tmp_path / "run"
    common = ["train", "sort", "--out", str(out), *TINY]
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
    assert main(["train", "char", "--text", str(latin1), "--out", str(tmp_path / "c"), "--device", "cpu"]) == 2
    assert f"--text: {latin1} is not UTF-8 text: byte 0xe9" in one_line(capsys.readouterr().err)
    # issue 28 item 13: a folder given as --text is a usage error too (it exited 1)
    assert main(["train", "char", "--text", str(tmp_path), "--out", str(tmp_path / "c"), "--device", "cpu"]) == 2
    assert f"--text: {tmp_path} is a folder, not a text file" in one_line(capsys.readouterr().err)

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


def test_a_folder_where_a_run_file_belongs_is_named(tmp_path, capsys):
    """Issue 28 item 13: the message named the wrong path."""
    out = tmp_path / "run"
    (out / "training_state.pt").mkdir(parents=True)
    assert main(["train", "sort", "--out", str(out), *TINY, "--resume"]) == 2
    assert one_line(capsys.readouterr().err) == (f"error: {out / 'training_state.pt'} is a folder where the run's "
                                                 f"training_state.pt belongs; move it away or pick another --out")
    (out / "training_state.pt").rmdir()
    _train_sort(out)
    capsys.readouterr()
    (out / "data.json").unlink()
    (out / "data.json").mkdir()
    for command in (["eval"], ["sample"]):
        assert main([*command, "--run", str(out), "--device", "cpu"]) == 2
        assert one_line(capsys.readouterr().err) == (f"error: {out / 'data.json'} is a folder where the run's "
                                                     f"data.json belongs; move it away")


def test_links_planted_in_out_redirect_nothing(tmp_path, capsys):
    """Issue 28 item 5: a planted link made data.json itself a link to a file elsewhere."""
    out, victim = tmp_path / "shared", tmp_path / "victim.txt"
    out.mkdir()
    victim.write_text("someone else's")
    (out / LOCK_FILE).symlink_to(victim)
    assert main(["train", "sort", "--out", str(out), *TINY, "--iters", "2"]) == 1
    assert one_line(capsys.readouterr().err) == (f"error: {out / LOCK_FILE} is a symbolic link, which a lock file "
                                                 f"never is; remove it and run again")
    (out / LOCK_FILE).unlink()
    (out / "data.json").symlink_to(victim)
    assert main(["train", "sort", "--out", str(out), *TINY, "--iters", "2", "--overwrite"]) == 0
    assert victim.read_text() == "someone else's"
    assert not (out / "data.json").is_symlink() and json.loads((out / "data.json").read_text())["kind"] == "sort"


def test_eval_and_sample_refuse_a_model_that_does_not_fit_data_json(tmp_path, capsys):
    """Issue 28 item 8: a model and a data.json from different runs gave rc 0 and nonsense."""
    out = tmp_path / "run"
    _train_sort(out)
    capsys.readouterr()
    data = out / "data.json"
    for record, says in [
        ({"kind": "sort", "length": 4, "num_digits": 4},
         f"error: {out / 'model.safetensors'} does not fit {data}: the model has vocab_size 3 and block_size 7, "
         f"the data needs vocab_size 4 and block_size 7; the two files come from different runs"),
        ({"kind": "sort", "length": 6, "num_digits": 3}, "the data needs vocab_size 3 and block_size 11"),
        ({"kind": "sort", "length": 100000000, "num_digits": 3},
         f"error: {data} is damaged: length must be an integer in [1, 1000], got 100000000; train the run again"),
        ({"kind": "char", "chars": ["a", "b", "c"], "text": "corpus:tinyshakespeare", "block_size": 64,
          "val_fraction": 0.1}, "the model has vocab_size 3 and block_size 7, the data needs vocab_size 3 and "
                                "block_size 64"),
    ]:
        data.write_text(json.dumps(record))
        for command in ("eval", "sample"):
            assert main([command, "--run", str(out), "--device", "cpu"]) == 2, (record, command)
            assert says in one_line(capsys.readouterr().err)


def test_a_damaged_run_is_one_line_and_debug_shows_the_traceback(tmp_path):
    run = tmp_path / "run"
    save_model(GPT(GPTConfig(vocab_size=3, block_size=7, n_layer=1, n_head=2, n_embd=16)), run / "model.safetensors")
    (run / "data.json").write_text(json.dumps({"kind": "sort", "num_digits": 3}))
    result = cli("eval", "--run", "run", "--device", "cpu", cwd=tmp_path)
    assert result.returncode == 2
    assert one_line(result.stderr) == ("error: run/data.json lacks 'length': it is damaged or was not written by "
                                       "this command; train the run again")
    debug = cli("eval", "--run", "run", "--device", "cpu", cwd=tmp_path, MINGPT_DEBUG="1")
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "lacks 'length'" in debug.stderr


def test_a_garbage_training_state_is_one_line_pointing_to_the_previous_one(tmp_path, capsys):
    """Issue 28 item 7: it was 6 lines repeating torch's advice to load with weights_only=False."""
    out = tmp_path / "run"
    common = ["train", "sort", "--out", str(out), *TINY, "--checkpoint-interval", "1"]
    assert main([*common, "--iters", "3"]) == 0
    capsys.readouterr()
    state = out / "training_state.pt"
    for content, reason in [(b"\x00garbage" * 50, "it is damaged or not a torch.save file"),
                            (b"", "is empty (0 bytes): it was never written completely")]:
        state.write_bytes(content)
        assert main([*common, "--iters", "5", "--resume"]) == 1
        line = one_line(capsys.readouterr().err)
        assert reason in line and "weights_only" not in line
        assert line.endswith(f"the checkpoint before it, {out / 'training_state.previous.pt'}, is intact; "
                             f"move {state} aside and --resume continues from it")
    state.unlink()  # what the message says to do
    assert main([*common, "--iters", "5", "--resume"]) == 0
    assert "resuming at iteration 2 of 5" in capsys.readouterr().out


def test_eval_refuses_non_finite_weights_in_one_line(tmp_path, capsys):
    out = tmp_path / "run"
    _train_sort(out)
    model = GPT(GPTConfig(vocab_size=3, block_size=7, n_layer=1, n_head=2, n_embd=16, dropout=0.0))
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(float("nan"))
    save_model(model, out / "model.safetensors")
    capsys.readouterr()
    assert main(["eval", "--run", str(out), "--device", "cpu"]) == 1
    assert "holds NaN or infinite values" in one_line(capsys.readouterr().err)


# --- runs that fail, stop or meet: real processes -----------------------------------------------------


def test_divergence_names_a_checkpoint_from_which_a_lower_lr_recovers(tmp_path):
    # The command, shortened: lr 30 without clipping diverges at once.
    run = ["train", "sort", "--out", "nan5", "--iters", "60", "--checkpoint-interval", "20", "--grad-clip", "0", *TINY]
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
    stale = out / f".training_state.pt.mingpt-tmp-{_dead_pid()}-0123456789ab"
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


def test_a_closed_pipe_does_not_stop_the_run(tmp_path):
    # `mingpt-lite ... | head -1`: head reads one line and exits
    process = start("train", "sort", "--out", "piped", "--iters", "30", *TINY, cwd=tmp_path)
    first = process.stdout.readline()
    process.stdout.close()
    stderr = process.communicate(timeout=TIMEOUT)[1]
    assert "parameters, training on cpu" in first
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr
    assert (tmp_path / "piped" / "model.safetensors").is_file()  # it finished and saved


def test_ctrl_c_saves_and_says_where_in_one_line(tmp_path):
    out = tmp_path / "long"
    process = start("train", "sort", "--out", "long", "--iters", "1000000", "--checkpoint-interval", "100000", *TINY,
                    cwd=tmp_path)
    _wait_for(out / "training_state.pt", process)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 130, stderr
    line = one_line(stderr)
    assert line.startswith("interrupted at iteration ") and "the run is saved in long at iteration" in line
    assert line.endswith("; continue with --resume")
    at = int(line.split("interrupted at iteration ")[1].split(";")[0])
    assert load_state(out / "training_state.pt")["iter_num"] == at > 0


def test_a_second_run_into_a_busy_out_is_refused_and_sighup_stops_like_ctrl_c(tmp_path):
    """Issue 28 items 2 and 6: both runs trained into one --out; SIGHUP lost the run without a word."""
    out = tmp_path / "conc"
    first = start("train", "sort", "--out", "conc", "--iters", "1000000", "--checkpoint-interval", "100000",
                  "--seed", "1", *TINY, cwd=tmp_path)
    try:
        _wait_for(out / "training_state.pt", first)
        others = [start("train", "sort", "--out", "conc", "--iters", "5", "--seed", "2", *TINY, *extra, cwd=tmp_path)
                  for extra in ([], ["--resume"], ["--overwrite"])]
        for second in others:
            stderr = second.communicate(timeout=TIMEOUT)[1]
            assert second.returncode == 1, stderr
            assert one_line(stderr) == (f"error: --out conc is in use by another run (process {first.pid}); "
                                        f"wait for it to finish, or pick another --out")
        first.send_signal(signal.SIGHUP)
        stdout, stderr = first.communicate(timeout=TIMEOUT)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 129, stderr
    line = one_line(stderr)
    assert line.startswith("interrupted at iteration ") and "the run is saved in conc at iteration" in line
    at = int(line.split("interrupted at iteration ")[1].split(";")[0])
    state = load_state(out / "training_state.pt")
    assert state["iter_num"] == at > 0 and state["trainer_config"]["seed"] == 1  # only the first run wrote
    assert not (out / LOCK_FILE).exists()


def test_sigterm_saves_and_the_resumed_run_is_bit_identical(tmp_path):
    """Issue 28 items 6 and 10: preemption is a Ctrl-C; sha256 of the model file checks the resume."""
    run = ["train", "sort", "--checkpoint-interval", "100000", "--seed", "5", *TINY]
    preempted = start(*run, "--out", "pre", "--iters", "1000000", cwd=tmp_path)
    _wait_for(tmp_path / "pre" / "training_state.pt", preempted)
    preempted.send_signal(signal.SIGTERM)
    stderr = preempted.communicate(timeout=TIMEOUT)[1]
    assert preempted.returncode == 143, stderr
    line = one_line(stderr)
    assert "the run is saved in pre at iteration" in line and line.endswith("; continue with --resume")
    at = int(line.split("interrupted at iteration ")[1].split(";")[0])
    assert load_state(tmp_path / "pre" / "training_state.pt")["iter_num"] == at > 0

    end = at + 7
    resumed = start(*run, "--out", "pre", "--iters", end, "--resume", cwd=tmp_path)
    straight = start(*run, "--out", "straight", "--iters", end, cwd=tmp_path)  # side by side: saves a wait
    for process in (resumed, straight):
        stdout, stderr = process.communicate(timeout=TIMEOUT)
        assert process.returncode == 0, stderr
        if process is resumed:
            assert f"resuming at iteration {at} of {end}" in stdout
    assert _sha256(tmp_path / "pre" / "model.safetensors") == _sha256(tmp_path / "straight" / "model.safetensors")
    assert (load_state(tmp_path / "pre" / "training_state.pt")["losses"]
            == load_state(tmp_path / "straight" / "training_state.pt")["losses"])


_FULL_DISK = """
import errno, os, runpy, stat, sys
real_fsync, calls = os.fsync, []
def fsync(fd):  # the disk fills up after data.json and the starting checkpoint (files, not folders)
    if stat.S_ISDIR(os.fstat(fd).st_mode):
        return real_fsync(fd)
    calls.append(fd)
    if len(calls) > 2:
        raise OSError(errno.ENOSPC, "No space left on device")
    return real_fsync(fd)
os.fsync = fsync
sys.argv = ["mingpt_lab"] + sys.argv[1:]
runpy.run_module("mingpt_lab", run_name="__main__", alter_sys=True)
"""


def test_a_full_disk_is_one_line_and_the_checkpoint_before_is_intact(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", _FULL_DISK, "train", "sort", "--out", "full", "--iters", "20",
         "--checkpoint-interval", "5", *TINY],
        cwd=tmp_path, capture_output=True, text=True, env=_env(), timeout=TIMEOUT)
    assert result.returncode == 1
    assert one_line(result.stderr) == ("error: no space left on device while writing full/training_state.pt; "
                                       "the previous checkpoint is intact; free some space and continue with --resume")
    assert load_state(tmp_path / "full" / "training_state.pt")["iter_num"] == 0
    assert not list((tmp_path / "full").glob(".*tmp*"))


def test_missing_run_is_a_clear_error(tmp_path, capsys):
    assert main(["eval", "--run", str(tmp_path)]) == 2
    assert "not a finished run" in capsys.readouterr().err


# --- training on BPE tokens (issue 27 item 4) ------------------------------------------------------


def test_char_with_a_tokenizer_trains_evaluates_and_samples_on_tokens(tmp_path, capsys):
    from mingpt_lite.tokenizer import train_bpe

    words = "the cat sat on the mat. the dog sat on the log.\n"
    text = tmp_path / "text.txt"
    text.write_text(words * 30, encoding="utf-8")
    tokenizer = train_bpe(words * 30, 270)
    tokenizer.save(tmp_path / "bpe.json")
    out = tmp_path / "tokens"
    assert main(["train", "char", "--text", str(text), "--tokenizer", str(tmp_path / "bpe.json"), "--block-size", "8",
                 "--batch-size", "4", "--iters", "3", "--out", str(out), *MODEL]) == 0
    assert "held-out loss" in capsys.readouterr().out
    record = json.loads((out / "data.json").read_text())
    assert record["tokenizer"]["merges"] == [list(pair) for pair in tokenizer.merges]
    # the run keeps its own copy: eval and sample work with the tokenizer file gone
    (tmp_path / "bpe.json").unlink()
    assert main(["eval", "--run", str(out), "--batches", "2", "--device", "cpu"]) == 0
    assert "val" in capsys.readouterr().out
    assert main(["sample", "--run", str(out), "--prompt", "the cat", "--tokens", "4", "--greedy", "--device", "cpu"]) == 0
    sample = capsys.readouterr().out.rstrip("\n")
    # four new tokens of at least one byte each, after the prompt's own text
    assert sample.startswith("the cat") and len(sample) >= len("the cat") + 4
    # ... and at most four tokens' bytes (a character model would give exactly 4 characters)
    assert len(sample) <= len("the cat") + 4 * max(len(piece) for piece in tokenizer.vocab)


def test_a_missing_or_corrupt_tokenizer_file_is_one_line_and_exit_2(tmp_path, capsys):
    text = tmp_path / "text.txt"
    text.write_text("the cat sat on the mat. " * 40, encoding="utf-8")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    foreign = tmp_path / "foreign.json"
    foreign.write_text('{"format": "something else"}', encoding="utf-8")
    for path, words in ((tmp_path / "absent.json", "no tokenizer file"), (broken, "not valid JSON"),
                        (foreign, "not a tokenizer file")):
        assert main(["train", "char", "--text", str(text), "--tokenizer", str(path), "--iters", "1",
                     "--out", str(tmp_path / "run"), *MODEL]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("error: --tokenizer: ") and words in err, err


def test_a_token_run_whose_data_json_tokenizer_is_damaged_is_refused(tmp_path, capsys):
    from mingpt_lite.tokenizer import train_bpe

    text = tmp_path / "text.txt"
    text.write_text("the cat sat on the mat. " * 40, encoding="utf-8")
    train_bpe(text.read_text(), 260).save(tmp_path / "bpe.json")
    out = tmp_path / "tokens"
    assert main(["train", "char", "--text", str(text), "--tokenizer", str(tmp_path / "bpe.json"), "--block-size", "8",
                 "--batch-size", "4", "--iters", "1", "--out", str(out), *MODEL]) == 0
    capsys.readouterr()
    record = json.loads((out / "data.json").read_text())
    record["tokenizer"]["merges"][0] = [5000, 1]  # an id that does not exist yet
    (out / "data.json").write_text(json.dumps(record))
    assert main(["eval", "--run", str(out), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "data.json is damaged" in err and "merge 0" in err


def test_train_cli_defaults_to_tiny_shakespeare():
    args = build_parser().parse_args(["train", "char"])
    assert args.corpus == "tinyshakespeare" and args.text is None

