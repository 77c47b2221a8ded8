"""mingpt_lite.experiments: resumable sweeps, atomic result files, the solve detector, chapter 6's summaries."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import pytest
import torch

from mingpt_lite import experiments
from mingpt_lite.data import SortTask
from mingpt_lite.experiments import (SolveWatcher, atomic_write_json, item_key, norm_summary, read_results,
                                     run_many, solve)

pytestmark = pytest.mark.usefixtures("one_thread")


def _square(x: int) -> int:
    return x * x


def test_atomic_write_replaces_the_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "sub" / "results.json"
    atomic_write_json(path, {"a": 1})
    atomic_write_json(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 2}
    assert [p.name for p in path.parent.iterdir()] == ["results.json"]


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "results.json"
    atomic_write_json(path, {"a": 1})
    with pytest.raises(TypeError):
        atomic_write_json(path, {"a": object()})  # not JSON: fails before anything is replaced
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


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


class _Sorter(torch.nn.Module):
    """A 'model' whose teacher-forced argmax is the sorted answer, except for problems starting with `wrong_first`."""

    def __init__(self, task: SortTask, wrong_first: int | None = None):
        super().__init__()
        self.task, self.wrong_first = task, wrong_first
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        L, V = self.task.length, self.task.num_digits
        answer = x[:, :L].sort(dim=1).values                       # the right digit at each answer position
        target = torch.zeros_like(x)
        target[:, L - 1 :] = answer
        if self.wrong_first is not None:
            bad = x[:, 0] == self.wrong_first
            target[bad, L - 1] = (target[bad, L - 1] + 1) % V
        return torch.nn.functional.one_hot(target, V).float()


def _fake_trainer(model, lr):
    config = SimpleNamespace(log_interval=25, learning_rate=lr)
    trainer = SimpleNamespace(model=model, config=config, iter_num=0, stopped=False)
    trainer.stop = lambda: setattr(trainer, "stopped", True)
    return trainer


def test_solve_watcher_stops_after_patience_perfect_evaluations_and_dates_the_first():
    task = SortTask(length=4, num_digits=3)
    watcher = SolveWatcher(task, peak_lr=1e-2, patience=3)
    assert watcher.all_test is not None and len(watcher.all_test) == len(task.all_problems("test"))
    trainer = _fake_trainer(_Sorter(task, wrong_first=0), 1e-2)
    for step in (25, 50):                                          # imperfect: no streak, no cooling
        trainer.iter_num = step
        watcher(trainer)
    assert watcher.streak == 0 and watcher.cool_from is None and trainer.config.learning_rate == 1e-2
    trainer.model = _Sorter(task)
    for step in (75, 100, 125):
        trainer.iter_num = step
        watcher(trainer)
    assert trainer.stopped and watcher.solved_at == 75 and [a for _, a in watcher.history][-3:] == [1.0] * 3
    # cooling: from step 75 (first >= 99%) linearly to 2% of the peak over another 75 steps
    assert watcher.cool_from == 75
    assert math.isclose(trainer.config.learning_rate, 1e-2 * (1 - 0.98 * 50 / 75))


def test_solve_watcher_resets_the_streak_on_a_miss():
    task = SortTask(length=4, num_digits=3)
    watcher = SolveWatcher(task, peak_lr=1e-2, patience=2)
    trainer = _fake_trainer(_Sorter(task), 1e-2)
    for step, model in ((25, _Sorter(task)), (50, _Sorter(task, wrong_first=1)), (75, _Sorter(task))):
        trainer.model, trainer.iter_num = model, step
        watcher(trainer)
    assert not trainer.stopped and watcher.streak == 1 and watcher.solved_at is None


def test_solve_watcher_samples_when_the_test_split_is_too_big():
    task = SortTask(length=8, num_digits=6)
    watcher = SolveWatcher(task, peak_lr=1e-3, n_eval=64)
    assert watcher.all_test is None
    first, second = watcher.test_problems(), watcher.test_problems()
    assert first.shape == (64, 8) and not torch.equal(first, second)       # fresh problems each time
    assert task.is_test(first).all()


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
    assert experiments.main(args) == 0
    data = read_results(out)
    assert len(data["runs"]) == 1 and data["runs"][0]["item"]["length"] == 4
    assert "sort-grid" in data["about"][0]["command"] and data["about"][0]["cpu_capability"]
    experiments.main(args)
    assert len(read_results(out)["about"]) == 1                                   # nothing recomputed


def test_solved_step_is_the_first_of_the_first_perfect_streak():
    from mingpt_lite.experiments import solved_step

    history = [(25, 1.0), (50, 0.99), (75, 1.0), (100, 1.0), (125, 1.0), (150, 1.0), (175, 1.0)]
    assert solved_step(history, patience=4) == 75
    assert solved_step(history, patience=6) is None
    assert solved_step([], patience=1) is None


@pytest.mark.parametrize("length, num_digits, active", [(4, 3, True), (5, 3, True), (6, 3, False), (8, 3, False),
                                                        (8, 6, True), (12, 6, False), (32, 32, True), (7, 4, True)])
def test_repeat_boost_is_active_where_a_draw_can_have_too_many_distinct_digits(length, num_digits, active):
    from mingpt_lite.experiments import repeat_boost_active

    assert repeat_boost_active(length, num_digits) == active
    if active and num_digits ** length < 10**6:   # the sampler really rejects some draws, and only then
        task = SortTask(length=length, num_digits=num_digits)
        draws = torch.randint(num_digits, (2000, length), generator=torch.Generator().manual_seed(0))
        assert (task.count_distinct(draws) > length // 2).any()


def test_norm_seeds_items_set_their_thread_count_and_refuse_other_kernels(monkeypatch):
    seen = []
    monkeypatch.setattr(experiments, "_norm_item", lambda item: seen.append((item, torch.get_num_threads())) or {})
    before = torch.get_num_threads()
    try:
        capability = torch.backends.cpu.get_cpu_capability()
        experiments._norm_item_checked({"kind": "deep", "name": "post, 3 layers", "seed": 0, "threads": 2,
                                        "kernels": capability})
        assert seen == [({"kind": "deep", "name": "post, 3 layers", "seed": 0}, 2)]
        with pytest.raises(RuntimeError, match="kernels"):
            experiments._norm_item_checked({"kind": "deep", "name": "x", "seed": 0, "kernels": "NOT-" + capability})
    finally:
        torch.set_num_threads(before)


def test_generation_item_refuses_other_kernels():
    with pytest.raises(RuntimeError, match="kernels"):
        experiments._generation_item({"seed": 0, "kernels": "NOT-" + torch.backends.cpu.get_cpu_capability()})


def test_known_word_share_counts_words_of_three_letters_or_more():
    known = {"thou", "art", "king"}
    assert experiments.known_word_share("Thou art a king", known) == pytest.approx(2 / 3)  # "Thou" is not "thou"
    assert experiments.known_word_share("xq zz", known) == 0.0                                # no word at all
    assert experiments.known_word_share("art king", known) == 1.0


def test_char_seeds_records_chapter_9s_numbers_in_the_items_setting(tmp_path):
    out = tmp_path / "char.json"
    assert experiments.main(["char-seeds", "--out", str(out), "--seeds", "0", "--max-iters", "2",
                             "--processes", "1"]) == 0
    [run] = json.loads(out.read_text())["runs"]
    assert run["item"]["kernels"] == torch.backends.cpu.get_cpu_capability() and run["item"]["max_iters"] == 2
    result = run["result"]
    assert result["iters"] == 2 and set(result) >= {"val_loss", "train_loss", "known_share_before",
                                                    "known_share_after"}
    assert result["val_loss"] > 3.0      # two steps leave the model near uniform over 65 characters (ln 65 = 4.17)
    with pytest.raises(RuntimeError, match="kernels"):
        experiments._shakespeare_item({"seed": 0, "max_iters": 2, "kernels": "NOT-" + torch.backends.cpu.get_cpu_capability()})
