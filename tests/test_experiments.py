"""mingpt_lab.experiments: resumable result files that two sweeps can share, the command line's one-line
errors, chapter 6's summaries, and each chapter's items refusing other kernels."""

from __future__ import annotations

import json
import math
import os

import pytest
import torch

from mingpt_lite.data import SortTask

from mingpt_lab.experiments import char, cli, generation, norms
from mingpt_lab.experiments.norms import norm_summary
from mingpt_lab.experiments.results import item_key, read_results, run_many
from mingpt_lab.experiments.sorting import solve

pytestmark = pytest.mark.usefixtures("one_thread")


def _square(x: int) -> int:
    return x * x






def test_item_key_is_canonical_and_refuses_non_json():
    assert item_key({"b": 1, "a": 2}) == item_key({"a": 2, "b": 1})
    with pytest.raises(TypeError, match="JSON data"):
        item_key({"f": object()})


@pytest.mark.parametrize("processes", [1, 2])
def test_run_many_equals_a_plain_loop(processes):
    assert run_many(_square, [3, 1, 2], processes=processes, progress=False) == [9, 1, 4]


def test_run_many_resumes_and_computes_only_the_missing_items(tmp_path):
    path = tmp_path / "r.json"
    calls = []

    def square(x):
        calls.append(x)
        return x * x

    assert run_many(square, [1, 2], path, about={"who": "first"}, processes=1, progress=False) == [1, 4]
    assert run_many(square, [3, 1, 2], path, about={"who": "second"}, processes=1, progress=False) == [9, 1, 4]
    assert calls == [1, 2, 3]
    data = read_results(path)
    assert [run["item"] for run in data["runs"]] == [1, 2, 3]
    assert [a["who"] for a in data["about"]] == ["first", "second"]
    run_many(square, [1, 2, 3], path, about={"who": "third"}, processes=1, progress=False)
    assert calls == [1, 2, 3] and len(read_results(path)["about"]) == 2  # nothing computed, nothing added


def test_an_interrupted_run_keeps_what_finished(tmp_path):
    path = tmp_path / "r.json"

    def fragile(x):
        if x == 3:
            raise KeyboardInterrupt
        return x

    with pytest.raises(KeyboardInterrupt):
        run_many(fragile, [1, 2, 3, 4], path, processes=1, progress=False)
    assert [run["item"] for run in read_results(path)["runs"]] == [1, 2]


def test_read_results_names_a_file_it_cannot_read(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="bad.json is not valid JSON"):
        read_results(bad)
    bad.write_text('{"cells": []}')
    with pytest.raises(ValueError, match="no 'runs' list"):
        read_results(bad)












def test_solve_returns_a_plain_record():
    record = solve("gpt-nano", length=4, num_digits=3, seed=0, max_iters=25)
    json.dumps(record)
    assert record["steps_run"] == 25 and [step for step, _ in record["history"]] == [25]
    assert record["checked_all"] and 0.0 <= record["greedy_accuracy"] <= 1.0
    with pytest.raises(ValueError, match="no default learning rate"):
        solve("gpt-huge", max_iters=1)


def test_norm_summary_reads_ratios_and_late_losses():
    losses = [1.0] * 1500 + [0.5] * 500
    grads = [[1.0, 2.0, 4.0]] + [[1e-3, 1.0, 10.0]] * 1999
    summary = norm_summary({"losses": losses, "block_gradients": grads})
    assert summary["late_loss"] == 0.5 and summary["final_loss"] == 0.5 and len(summary["curve"]) == 40
    assert summary["ratio_0"] == 4.0 and math.isclose(summary["ratio_40"], 1e4)


def test_command_line_grid_is_resumable(tmp_path, capsys):
    out = tmp_path / "grid.json"
    args = ["sort-grid", "--out", str(out), "--lengths", "4", "--vocabs", "3", "--seeds", "0", "--max-iters", "25",
            "--processes", "1"]
    assert cli.main(args) == 0
    data = read_results(out)
    assert len(data["runs"]) == 1 and data["runs"][0]["item"]["length"] == 4
    assert "sort-grid" in data["about"][0]["command"] and data["about"][0]["cpu_capability"]
    cli.main(args)
    assert len(read_results(out)["about"]) == 1                                   # nothing recomputed






def test_norm_seeds_items_set_their_thread_count_and_refuse_other_kernels(monkeypatch):
    seen = []
    monkeypatch.setattr(norms, "_norm_item", lambda item: seen.append((item, torch.get_num_threads())) or {})
    before = torch.get_num_threads()
    try:
        capability = torch.backends.cpu.get_cpu_capability()
        norms.norm_item_checked({"kind": "deep", "name": "post, 3 layers", "seed": 0, "threads": 2,
                                        "kernels": capability})
        assert seen == [({"kind": "deep", "name": "post, 3 layers", "seed": 0}, 2)]
        with pytest.raises(RuntimeError, match="kernels"):
            norms.norm_item_checked({"kind": "deep", "name": "x", "seed": 0, "kernels": "NOT-" + capability})
    finally:
        torch.set_num_threads(before)


def test_generation_item_refuses_other_kernels():
    with pytest.raises(RuntimeError, match="kernels"):
        generation.generation_item({"seed": 0, "kernels": "NOT-" + torch.backends.cpu.get_cpu_capability()})


def test_known_word_share_counts_words_of_three_letters_or_more():
    known = {"thou", "art", "king"}
    assert char.known_word_share("Thou art a king", known) == pytest.approx(2 / 3)  # "Thou" is not "thou"
    assert char.known_word_share("xq zz", known) == 0.0                                # no word at all
    assert char.known_word_share("art king", known) == 1.0


def test_char_seeds_records_chapter_9s_numbers_in_the_items_setting(tmp_path):
    out = tmp_path / "char.json"
    assert cli.main(["char-seeds", "--out", str(out), "--seeds", "0", "--max-iters", "2",
                             "--processes", "1"]) == 0
    [run] = json.loads(out.read_text())["runs"]
    assert run["item"]["kernels"] == torch.backends.cpu.get_cpu_capability() and run["item"]["max_iters"] == 2
    result = run["result"]
    assert result["iters"] == 2 and set(result) >= {"val_loss", "train_loss", "known_share_before",
                                                    "known_share_after"}
    assert result["val_loss"] > 3.0      # two steps leave the model near uniform over 65 characters (ln 65 = 4.17)
    with pytest.raises(RuntimeError, match="kernels"):
        char.shakespeare_item({"seed": 0, "max_iters": 2, "kernels": "NOT-" + torch.backends.cpu.get_cpu_capability()})


# --- issue 28: two sweeps into one file, damaged files, numbers that cannot work ------------------------

def test_two_sweeps_into_one_file_lose_nothing(tmp_path):
    path = tmp_path / "r.json"

    def square_while_another_sweep_finishes(x):
        if x == 3:  # another sweep writes into the same file while this one is running
            run_many(_square, [1, 2], path, about={"who": "other"}, processes=1, progress=False)
        return x * x

    run_many(square_while_another_sweep_finishes, [3, 4], path, about={"who": "this"}, processes=1, progress=False)
    data = read_results(path)
    assert sorted((run["item"], run["result"]) for run in data["runs"]) == [(1, 1), (2, 4), (3, 9), (4, 16)]
    assert [about["who"] for about in data["about"]] == ["other", "this"]


def test_result_files_get_the_usual_mode(tmp_path):
    before = os.umask(0o022)
    try:
        run_many(_square, [1], tmp_path / "r.json", processes=1, progress=False)
    finally:
        os.umask(before)
    assert (tmp_path / "r.json").stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("content, says", [
    (b"\xff\xfe\x00garbage", "is not text"),
    (b'{"version": 1, "runs": [{"item": 1}]}', "run 0 is not an"),
    (b'{"version": 1, "runs": [], "about": 3}', "'about' is not a list"),
    (b"{not json", "is not valid JSON"),
])
def test_a_damaged_result_file_is_one_line_before_anything_runs(tmp_path, capsys, content, says):
    out = tmp_path / "r.json"
    out.write_bytes(content)
    assert cli.main(["char-seeds", "--out", str(out), "--seeds", "0", "--max-iters", "1"]) == 1
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and says in error and str(out) in error


def test_a_folder_in_place_of_the_result_file_is_one_line(tmp_path, capsys):
    assert cli.main(["char-seeds", "--out", str(tmp_path), "--seeds", "0"]) == 1
    assert "is a folder" in capsys.readouterr().err


@pytest.mark.parametrize("args, says", [
    (["sort-grid", "--max-iters", "-5"], "--max-iters: must be an integer >= 1, got -5"),
    (["sort-grid", "--processes", "0"], "--processes: must be an integer >= 1, got 0"),
    (["sort-grid", "--lengths", "0"], "length 0 x vocabulary 3"),
    (["char-seeds", "--seeds", "-1"], "must be an integer >= 0, got -1"),
])
def test_numbers_that_cannot_work_are_usage_errors(tmp_path, capsys, args, says):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([args[0], "--out", str(tmp_path / "r.json"), *args[1:]])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert says in error



# --- chapter 14: characters against BPE tokens at equal FLOPs --------------------------------------------


def test_tokens_flop_budget_gives_each_model_its_whole_steps():
    from mingpt_lab.experiments import tokens

    # 6 N (blocks' 12 d^2 per layer + the head's V d) + attention's 12 L d T, per token
    assert tokens.flops_per_token(65) == 6 * (12 * 4 * 128**2 + 65 * 128) + 12 * 4 * 128 * 64
    budget = tokens.budget_flops(65)
    step = tokens.BATCH_SIZE * tokens.BLOCK_SIZE
    assert tokens.steps_for(65, budget) == tokens.CHAR_STEPS
    for vocab in (512, 1024):
        steps = tokens.steps_for(vocab, budget)
        assert steps * step * tokens.flops_per_token(vocab) <= budget < (steps + 1) * step * tokens.flops_per_token(vocab)
        assert steps < tokens.CHAR_STEPS  # a bigger head costs more per token


def test_bits_per_character_of_a_uniform_model_is_log2_v_per_token():
    from mingpt_lab.experiments import tokens
    from mingpt_lite import GPT, GPTConfig
    from mingpt_lite.data import TokenDataset
    from mingpt_lite.tokenizer import train_bpe

    text = "to be or not to be, that is the question. " * 40
    data = TokenDataset(text, train_bpe(text, 270), block_size=8)
    model = GPT(GPTConfig(vocab_size=270, block_size=8, n_layer=1, n_head=2, n_embd=16))
    with torch.no_grad():  # equal logits everywhere: every token costs ln 270 nats
        model.lm_head.weight.zero_()
        if model.lm_head.bias is not None:
            model.lm_head.bias.zero_()
    score = tokens.bits_per_character(model, data, batch_size=3)
    windows = (data.data["val"].numel() - 1) // 8
    assert score["val_tokens_scored"] == windows * 8
    assert score["val_chars_scored"] == len(data.decode(data.data["val"][1 : 1 + windows * 8]))
    expected = math.log2(270) * score["val_tokens_scored"] / score["val_chars_scored"]
    assert score["bits_per_char"] == pytest.approx(expected, rel=1e-5)


def test_tokens_seeds_records_three_models_in_the_items_setting(tmp_path, monkeypatch):
    from mingpt_lab.experiments import tokens

    monkeypatch.setattr(tokens, "CHAR_STEPS", 2)  # the budget of two character steps; in this process
    out = tmp_path / "tokens.json"
    assert cli.main(["tokens-seeds", "--out", str(out), "--seeds", "0", "--processes", "1"]) == 0
    runs = {run["item"]["tokenizer"]: run for run in json.loads(out.read_text())["runs"]}
    assert set(runs) == {"char", 512, 1024}
    for name, run in runs.items():
        assert run["item"]["kernels"] == torch.backends.cpu.get_cpu_capability()
        result = run["result"]
        assert result["vocab_size"] == (65 if name == "char" else name)
        assert result["steps"] == tokens.steps_for(result["vocab_size"], result["budget_flops"])
        assert len(result["sample"]) == tokens.SAMPLE_CHARS
        # near-uniform after a step or two: about log2(V) bits per token, spread over its characters
        chars_per_token = result["val_chars_scored"] / result["val_tokens_scored"]
        assert result["bits_per_char"] > 0.8 * math.log2(result["vocab_size"]) / chars_per_token
    assert runs["char"]["result"]["val_chars_scored"] == runs["char"]["result"]["val_tokens_scored"]
    assert runs[1024]["result"]["val_chars_scored"] > 2 * runs[1024]["result"]["val_tokens_scored"]
    with pytest.raises(RuntimeError, match="kernels"):
        tokens.tokens_item({"tokenizer": "char", "seed": 0, "kernels": "NOT-" + torch.backends.cpu.get_cpu_capability()})
