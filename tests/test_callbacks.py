"""Tests for mingpt_lite.callbacks: the divergence guard and the checkpoint it names, checkpoint
rotation, signals (SIGINT, SIGTERM, SIGHUP), the progress bar, the time budget and the solve watcher."""

import math
import os
import signal
import subprocess
import sys

import pytest
import torch

from mingpt_lite import GPT, GPTConfig
from mingpt_lite.callbacks import (SIGNALS, Callback, ProgressBar, SolveWatcher, TimeBudget, TrainingInterrupted,
                                   solved_step)
from mingpt_lite.data import SortTask
from mingpt_lite.runstate import load_state, previous_path
from mingpt_lite.trainer import DivergenceError, NonFiniteLossError, Trainer, TrainerConfig

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


# --- DivergenceGuard ----------------------------------------------------------------------------


def test_non_finite_loss_stops_with_iteration_and_keeps_last_checkpoint(tmp_path):
    path = tmp_path / "run.pt"
    trainer = Trainer(tiny_model(), TASK, config(checkpoint_path=str(path), checkpoint_interval=4))

    def poison(t):
        if t.iter_num == 6:  # after step 6's backward: the update makes every later loss NaN
            with torch.no_grad():
                t.model.lm_head.weight.fill_(float("nan"))

    trainer.add_callback("on_after_backward", poison)
    with pytest.raises(NonFiniteLossError, match=r"nan at iteration 7.*iteration 4.*run\.pt"):
        trainer.train()
    saved = load_state(path)
    assert saved["iter_num"] == 4
    assert all(torch.isfinite(t).all() for t in saved["model"].values())
    assert trainer.losses == saved["losses"] + trainer.losses[4:7] and len(trainer.losses) == 7


def test_a_finite_blow_up_stops_the_run_and_names_a_checkpoint_that_recovers(tmp_path):
    # lr 30 without clipping: the loss stays finite for a while (1e4, 1e6, ...), so "not NaN"
    # would have let it save blown-up weights as "the last good checkpoint".
    path = tmp_path / "state.pt"
    doomed = Trainer(tiny_model(), TASK, config(learning_rate=30.0, grad_clip=None, checkpoint_path=str(path),
                                                checkpoint_interval=5, checkpoint_start=True, max_iters=40))
    with pytest.raises(DivergenceError, match=r"jumped to .* at iteration 1, more than 4 times") as info:
        doomed.train()
    assert not isinstance(info.value, NonFiniteLossError)  # caught while still finite
    assert info.value.iteration == 1 and info.value.checkpoint == (0, str(path))
    assert "last good checkpoint (iteration 0)" in str(info.value)
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
    assert "at iteration 10" in message
    assert "newest checkpoint (iteration 10) was written after the run went bad" in message
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


# --- Checkpointing ------------------------------------------------------------------------------


def test_the_safety_checks_do_not_change_a_healthy_run_and_the_last_two_saves_are_kept(tmp_path):
    plain = Trainer(tiny_model(), TASK, config(divergence_factor=None)).train()
    checked = Trainer(tiny_model(), TASK, config(checkpoint_path=str(tmp_path / "s.pt"), checkpoint_interval=3)).train()
    assert plain.losses == checked.losses
    assert all(torch.equal(p, q) for p, q in zip(plain.model.parameters(), checked.model.parameters()))
    assert load_state(tmp_path / "s.pt")["iter_num"] == 20
    assert load_state(previous_path(tmp_path / "s.pt"))["iter_num"] == 18
    assert checked.checkpoints.saves == [(18, str(tmp_path / "s.pt")), (20, str(tmp_path / "s.pt"))]


# --- GracefulInterrupt --------------------------------------------------------------------------


def _send_at(trainer, step, signum):
    trainer.add_callback("on_batch_end", lambda t: os.kill(os.getpid(), signum) if t.iter_num == step else None)


@pytest.mark.parametrize("name, code", [("SIGINT", 130), ("SIGTERM", 143), ("SIGHUP", 129)])
def test_a_signal_finishes_the_step_saves_and_resumes_bit_identically(tmp_path, name, code):
    signum = getattr(signal, name)
    path = tmp_path / "run.pt"
    whole = Trainer(tiny_model(), TASK, config()).train()
    trainer = Trainer(tiny_model(), TASK, config(checkpoint_path=str(path)))
    _send_at(trainer, 6, signum)
    # What the handler was before: Python's default_int_handler for SIGINT, or SIG_IGN when pytest
    # runs as a background job of a non-interactive shell (which starts it with SIGINT ignored).
    before = {s: signal.getsignal(s) for s in SIGNALS}
    with pytest.raises(TrainingInterrupted, match=f"by {name} after iteration 7; saved to") as info:
        trainer.train()
    assert isinstance(info.value, KeyboardInterrupt)  # code that catches Ctrl-C catches it too
    assert info.value.signum == signum == trainer.interrupted_by and info.value.exit_code == code
    assert {s: signal.getsignal(s) for s in SIGNALS} == before  # handlers restored
    assert load_state(path)["iter_num"] == 7
    resumed = Trainer.resume(path, tiny_model(seed=3), TASK).train()
    assert resumed.losses == whole.losses and resumed.interrupted_by is None
    assert all(torch.equal(p, q) for p, q in zip(whole.model.parameters(), resumed.model.parameters()))


def test_an_interrupt_without_a_checkpoint_path_says_nothing_was_saved():
    trainer = Trainer(tiny_model(), TASK, config())
    _send_at(trainer, 2, signal.SIGTERM)
    with pytest.raises(TrainingInterrupted) as info:
        trainer.train()
    assert str(info.value) == "training interrupted by SIGTERM after iteration 3"
    assert trainer.iter_num == 3 and len(trainer.losses) == 3


# --- ProgressBar --------------------------------------------------------------------------------


def test_the_progress_bar_shows_the_steps_and_closes(capsys):
    trainer = Trainer(tiny_model(), TASK, config(max_iters=8, progress=True))
    trainer.train()
    shown = capsys.readouterr().err
    assert "8/8" in shown and "loss=" in shown and "lr=" in shown
    assert isinstance(trainer.features[-1], ProgressBar) and trainer.features[-1].bar.n == 8


# --- TimeBudget ---------------------------------------------------------------------------------


def test_a_time_budget_stops_the_run_and_spreads_the_schedule_over_the_time():
    now = {"t": 100.0}

    def clock():
        return now["t"]

    trainer = Trainer(tiny_model(), TASK, config(max_iters=10**6, lr_schedule="cosine", warmup_iters=2, min_lr=0.0),
                      callbacks=(TimeBudget(10.0, clock=clock),))
    rates = []

    def tick(t):  # each step's forward and backward "take" one second of the clock
        now["t"] += 1.0

    trainer.add_callback("on_after_backward", tick)
    trainer.add_callback("on_batch_end", lambda t: rates.append(t.optimizer.param_groups[0]["lr"]))
    trainer.train()
    assert trainer.iter_num == 10  # stopped when 10 s were spent, not at max_iters
    assert rates[0] == pytest.approx(5e-3) and rates[1] == pytest.approx(1e-2)  # warmup stays in steps
    assert rates[2] == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.3)) * 1e-2)  # 3 of 10 s spent
    assert rates[8] == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.9)) * 1e-2) and rates[9] == pytest.approx(0.0)
    assert trainer.config.learning_rate == 1e-2  # the config is not touched
    with pytest.raises(ValueError, match="positive number of seconds"):
        TimeBudget(0)


# --- SolveWatcher and the solve rule ------------------------------------------------------------


def test_solved_step_is_the_first_of_the_first_perfect_streak():
    history = [(25, 0.9), (50, 1.0), (75, 1.0), (100, 1.0), (125, 1.0), (150, 1.0)]
    assert solved_step(history, patience=4) == 50
    assert solved_step(history, patience=6) is None
    assert solved_step([(25, 1.0), (50, 0.5), (75, 1.0)], patience=2) is None
    assert solved_step([], patience=1) is None


def test_without_patience_the_run_must_stay_solved_to_its_end():
    history = [(100, 0.99), (200, 1.0), (300, 0.999), (400, 1.0), (500, 1.0)]
    assert solved_step(history, patience=None) == 400     # touching 100% at 200 and falling back does not count
    assert solved_step(history + [(600, 0.998)], patience=None) is None   # ends below 100%: never solved
    assert solved_step(history, patience=2) == 400 and solved_step(history, patience=1) == 200
    assert solved_step([], patience=None) is None


class _Sorter(torch.nn.Module):
    """A stand-in model that sorts perfectly, or gets the first answer digit wrong where a problem
    starts with ``wrong_first``."""

    def __init__(self, task, wrong_first=None):
        super().__init__()
        self.task, self.wrong_first = task, wrong_first
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        L, V = self.task.length, self.task.num_digits
        target = torch.zeros_like(x)
        target[:, L - 1:] = x[:, :L].sort(dim=1).values
        if self.wrong_first is not None:
            bad = x[:, 0] == self.wrong_first
            target[bad, L - 1] = (target[bad, L - 1] + 1) % V
        return torch.nn.functional.one_hot(target, V).float()


def test_the_solve_watcher_stops_the_run_and_cools_down_through_the_schedule():
    task = SortTask(length=4, num_digits=3)
    trainer = Trainer(tiny_model(), task, config(learning_rate=1e-2, log_interval=25))
    watcher = SolveWatcher(task, peak_lr=1e-2, patience=3)
    assert watcher.all_test is not None and len(watcher.all_test) == len(task.all_problems("test"))
    trainer.model = _Sorter(task, wrong_first=0)
    for step in (25, 50):  # imperfect: no streak, no cooling
        trainer.iter_num = step
        watcher(trainer)
    assert watcher.streak == 0 and watcher.cool_from is None and trainer.schedule(60) == 1e-2
    trainer.model = _Sorter(task)
    for step in (75, 100, 125):
        trainer.iter_num = step
        watcher(trainer)
    assert trainer.stop_requested and watcher.solved_at == 75 and [a for _, a in watcher.history][-3:] == [1.0] * 3
    # cooling from step 75 (the first >= 99%) linearly to 2% of the peak over another 75 steps,
    # one rate per 25 steps (between two calls of the watcher)
    assert watcher.cool_from == 75 and trainer.schedule(74) == 1e-2 and trainer.schedule(99) == 1e-2
    assert trainer.schedule(125) == trainer.schedule(149) == pytest.approx(1e-2 * (1 - 0.98 * 50 / 75))
    assert trainer.schedule(500) == pytest.approx(2e-4)
    assert trainer.config.learning_rate == 1e-2  # the watcher acts through the schedule only


def test_the_solve_watcher_resets_the_streak_on_a_miss_and_refuses_a_peak_that_is_not_the_schedules():
    task = SortTask(length=4, num_digits=3)
    trainer = Trainer(tiny_model(), task, config(learning_rate=1e-2, log_interval=25))
    watcher = trainer.install(SolveWatcher(task, patience=2))
    for step, model in ((25, _Sorter(task)), (50, _Sorter(task, wrong_first=1)), (75, _Sorter(task))):
        trainer.model, trainer.iter_num = model, step
        watcher.on_log(trainer)
    assert not trainer.stop_requested and watcher.streak == 1 and watcher.solved_at is None
    trainer.model = _Sorter(task)
    with pytest.raises(ValueError, match="not the schedule's peak"):
        SolveWatcher(task, peak_lr=5e-3)(trainer)


def test_the_solve_watcher_samples_when_the_test_split_is_too_big():
    task = SortTask(length=8, num_digits=6)
    watcher = SolveWatcher(task, n_eval=64)
    assert watcher.all_test is None
    first, second = watcher.test_problems(), watcher.test_problems()
    assert first.shape == (64, 8) and not torch.equal(first, second)  # fresh problems each time
    assert task.is_test(first).all()


def test_install_takes_only_callback_objects():
    trainer = Trainer(tiny_model(), TASK, config())
    with pytest.raises(TypeError, match="Callback"):
        trainer.install(print)
    assert isinstance(trainer.install(Callback()), Callback)


def test_checkpointing_removes_only_its_own_files_stale_temporaries(tmp_path):
    # a finished process gives a pid that no longer runs

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    ours = tmp_path / f".run.pt.mingpt-tmp-{pid}-0123456789ab"
    ours_previous = tmp_path / f".run.previous.pt.mingpt-tmp-{pid}-0123456789ab"
    others = [tmp_path / ".thesis.tex.tmp-999999", tmp_path / f".notes.txt.mingpt-tmp-{pid}-0123456789ab"]
    for file in (ours, ours_previous, *others):
        file.write_bytes(b"partial")
    Trainer(tiny_model(), TASK, config(max_iters=2, checkpoint_path=str(tmp_path / "run.pt"))).train()
    assert not ours.exists() and not ours_previous.exists()
    assert all(file.exists() for file in others)
