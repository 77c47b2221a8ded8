"""The command line: help text, train/resume/eval/sample for the sort task and a char model."""

import json
import os

import pytest

from mingpt_lite.train import build_parser, main


# Tiny models: one thread (the fixture is in conftest.py).
pytestmark = pytest.mark.usefixtures("one_thread")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


TINY = ["--n-layer", "1", "--n-head", "2", "--n-embd", "16", "--device", "cpu", "--no-progress"]


def test_help_explains_every_option(capsys):
    parser = build_parser()
    for command in ("sort", "char", "eval", "sample"):
        with pytest.raises(SystemExit) as done:
            parser.parse_args([command, "--help"])
        assert done.value.code == 0
        text = capsys.readouterr().out
        sub = next(a for a in parser._subparsers._group_actions[0].choices.values() if a.prog.endswith(command))
        for action in sub._actions:
            if action.option_strings and action.dest != "help":
                assert action.help, f"{command} {action.option_strings} has no help"
                assert action.option_strings[0] in text


def test_sort_train_resume_eval_sample(tmp_path, capsys):
    out = tmp_path / "sort"
    common = ["sort", "--length", "4", "--batch-size", "16", "--lr", "1e-2", "--dropout", "0",
              "--out", str(out), "--checkpoint-interval", "10", *TINY]
    assert main([*common, "--iters", "20"]) == 0
    first = capsys.readouterr().out
    assert "trained 20 iterations" in first and "test" in first
    assert {p.name for p in out.iterdir()} == {
        "model.safetensors", "training_state.pt", "training_state.previous.pt", "data.json"}
    assert {oct(p.stat().st_mode & 0o777) for p in out.iterdir()} == {oct(0o666 & ~_umask())}  # all alike
    assert json.loads((out / "data.json").read_text()) == {"kind": "sort", "length": 4, "num_digits": 3}

    assert main([*common, "--iters", "30", "--resume"]) == 0
    resumed = capsys.readouterr().out
    assert "resuming at iteration 20 of 30" in resumed and "trained 30 iterations" in resumed

    main(["eval", "--run", str(out), "--problems", "50", "--device", "cpu"])
    assert "accuracy on 50 problems per split" in capsys.readouterr().out

    main(["sample", "--run", str(out), "--prompt", "2 0 1 1", "--greedy", "--device", "cpu"])
    line = capsys.readouterr().out
    assert line.startswith("input [2, 0, 1, 1] -> model [")
    assert main(["sample", "--run", str(out), "--prompt", "2 0 1", "--device", "cpu"]) == 2
    assert "needs 4 digits" in capsys.readouterr().err


def test_char_train_eval_sample(tmp_path, capsys):
    text = tmp_path / "text.txt"
    text.write_text("the cat sat on the mat. " * 40, encoding="utf-8")
    out = tmp_path / "char"
    main(["char", "--text", str(text), "--block-size", "16", "--batch-size", "8", "--iters", "5",
          "--out", str(out), *TINY])
    trained = capsys.readouterr().out
    assert "held-out loss" in trained and "sample:" in trained
    record = json.loads((out / "data.json").read_text())
    assert record["chars"] == sorted(set(text.read_text()))
    main(["eval", "--run", str(out), "--batches", "2", "--device", "cpu"])
    assert "val" in capsys.readouterr().out
    main(["sample", "--run", str(out), "--prompt", "the ", "--tokens", "10", "--device", "cpu"])
    sample = capsys.readouterr().out
    assert sample.startswith("the ") and len(sample.rstrip("\n")) == 14
    assert main(["sample", "--run", str(out), "--prompt", "XYZ", "--device", "cpu"]) == 2
    assert "vocabulary" in capsys.readouterr().err


def test_missing_run_is_a_clear_error(tmp_path, capsys):
    assert main(["eval", "--run", str(tmp_path)]) == 2
    assert "not a finished run" in capsys.readouterr().err


def test_bench_stable_point_needs_every_later_evaluation():
    from mingpt_lite.bench.sort import stable_point

    evals = [(100, 1.0, 0.99), (200, 2.0, 1.0), (300, 3.0, 0.999), (400, 4.0, 1.0), (500, 5.0, 1.0)]
    assert stable_point(evals) == (400, 4.0)  # touching 100% at 200 and falling back does not count
    assert stable_point(evals + [(600, 6.0, 0.998)]) is None  # a run that ends below 100% never solved it
    assert stable_point([(100, 1.0, 1.0), (200, 2.0, 1.0)]) == (100, 1.0)
