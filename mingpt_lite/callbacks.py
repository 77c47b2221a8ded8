"""What the Trainer does besides minGPT's six lines, one named object per feature.

Each feature is a :class:`Callback`: an object with a method per event it cares about. The
:class:`~mingpt_lite.trainer.Trainer` installs the first four from its config; the rest are
installed by whoever needs them (``trainer.install(TimeBudget(60))``):

* :class:`DivergenceGuard`: stop on a NaN/infinite loss or gradient, or a loss far above a
  uniform guess; set aside a checkpoint written after the run went bad, and name the good one;
* :class:`Checkpointing`: save every ``checkpoint_interval`` steps and at the end, keeping the
  last two files (:mod:`mingpt_lite.runstate`'s writer and file names);
* :class:`GracefulInterrupt`: Ctrl-C (SIGINT), SIGTERM or SIGHUP (what schedulers send on
  preemption) finish the step, save, and raise :class:`TrainingInterrupted`;
* :class:`ProgressBar`: a tqdm bar showing the loss and learning rate;
* :class:`TimeBudget`: stop after a number of seconds, and spread the schedule over that time;
* :class:`SolveWatcher`: chapter 08's rule for when a sort task is solved, with a cool-down
  of the learning rate near the end.

The hooks, in the order the Trainer calls them, are listed in :mod:`mingpt_lite.trainer`.
Besides the public events (``on_train_start`` ... ``on_train_end``), a Callback may have
``setup(trainer)`` (when installed), ``on_losses(trainer, losses, grad_norms)`` (each newly
read-back loss, before it joins ``trainer.losses``), ``wants_sync(trainer)`` /
``on_sync(trainer)`` (ask for, and act at, a read-back point) and ``close(trainer)``
(always, when ``train()`` returns or raises). No callback edits ``trainer.config``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import os
import signal
import threading
import time
from pathlib import Path
from typing import Callable, Sequence

import torch
import torch.distributed as dist
from tqdm import tqdm

from .data import sort_accuracy
from .runstate import (TrainingStateError, check_optimizer_state, diverged_path, load_state, previous_path,
                       remove_stale_temporaries, restore_rng_states, rng_states)


class Callback:
    """A feature of the training loop; override the hooks it needs (all do nothing here)."""

    def setup(self, trainer) -> None: ...
    def on_train_start(self, trainer) -> None: ...
    def on_after_backward(self, trainer) -> None: ...
    def on_batch_end(self, trainer) -> None: ...
    def on_losses(self, trainer, losses: list[float], grad_norms: list[float]) -> None: ...
    def on_log(self, trainer) -> None: ...
    def on_eval(self, trainer) -> None: ...
    def on_sync(self, trainer) -> None: ...
    def on_checkpoint(self, trainer) -> None: ...
    def on_train_end(self, trainer) -> None: ...
    def close(self, trainer) -> None: ...

    def wants_sync(self, trainer) -> bool:
        """Whether this callback needs a read-back point after the step just done."""
        return False


# -- the events ------------------------------------------------------------------------------------

# The events code outside the loop hooks into with add_callback (minGPT's), in the order they fire.
EVENTS = (
    "on_train_start",  # before the first step of train()
    "on_after_backward",  # gradients are there, not yet clipped or applied
    "on_batch_end",  # after each optimizer step; trainer.iter_num is that step's index (from 0)
    "on_log",  # every log_interval steps, once the recent losses are in trainer.losses
    "on_eval",  # after each evaluation; trainer.evaluations[-1] holds its results
    "on_checkpoint",  # after a checkpoint was written
    "on_train_end",  # when train() finishes (not when it fails)
)


class EventHooks:
    """The Trainer's event system: functions added for the :data:`EVENTS` (minGPT's
    ``add_callback``), and installed :class:`Callback` objects, whose hooks run first.

    A class using it sets ``self.callbacks`` (a list per event) and ``self.features`` (the
    installed Callbacks, in order).
    """

    def install(self, feature: Callback) -> Callback:
        """Add a :class:`~mingpt_lite.callbacks.Callback` object; its hooks run before ``add_callback``'s."""
        if not isinstance(feature, Callback):
            raise TypeError(f"install() takes a mingpt_lite.callbacks.Callback, got {type(feature).__name__}")
        self.features.append(feature)
        feature.setup(self)
        return feature

    def add_callback(self, event: str, callback: Callable) -> Callable:
        """Call ``callback(trainer)`` on ``event`` (one of :data:`EVENTS`); returns ``callback``."""
        self._check_event(event)
        if not callable(callback):
            raise TypeError(f"callback must be callable, got {type(callback).__name__}")
        self.callbacks[event].append(callback)
        return callback

    def remove_callback(self, event: str, callback: Callable) -> None:
        """Stop calling ``callback`` on ``event``."""
        self._check_event(event)
        if callback not in self.callbacks[event]:
            raise ValueError(f"{callback!r} is not registered for {event!r}")
        self.callbacks[event].remove(callback)

    def set_callback(self, event: str, callback: Callable) -> Callable:
        """Make ``callback`` the only one added for ``event`` (minGPT's ``set_callback``)."""
        self._check_event(event)
        self.callbacks[event] = []
        return self.add_callback(event, callback)

    def trigger(self, event: str, *args) -> None:
        """Run ``event``'s hook of every installed Callback, then every function added for it."""
        for feature in list(self.features):
            getattr(feature, event)(self, *args)
        for callback in list(self.callbacks.get(event, ())):
            callback(self)

    @staticmethod
    def _check_event(event: str) -> None:
        if event not in EVENTS:
            raise ValueError(f"unknown event {event!r}; events are {EVENTS}")


# -- the losses, kept on the device ---------------------------------------------------------------


class LossBuffer:
    """Each step's loss and clipped gradient norm, kept on the device and read back in one go.

    Reading a number back to Python waits for all queued device work, so the loop does it once
    per ``log_interval`` steps, for all of them (averaged over processes when distributed).
    """

    def __init__(self, size: int, device: torch.device, world_size: int = 1, with_norms: bool = True):
        self.losses, self.norms = torch.zeros(size, device=device), torch.zeros(size, device=device)
        self.world_size, self.with_norms, self.pending = world_size, with_norms, 0

    def add(self, loss: torch.Tensor, norm: torch.Tensor | None) -> None:
        self.losses[self.pending] = loss  # a copy on the device: no sync
        if norm is not None:
            self.norms[self.pending] = norm
        self.pending += 1

    def read(self) -> tuple[list[float], list[float]]:
        """The pending losses (averaged over processes) and norms as floats: the one device sync."""
        n, self.pending = self.pending, 0
        values = self.losses[:n]
        if self.world_size > 1:  # the global batch's loss is the mean of the processes' losses
            values = values.clone()
            dist.all_reduce(values)
            values /= self.world_size
        if not self.with_norms:
            return values.tolist(), [0.0] * n
        both = torch.cat([values, self.norms[:n]]).tolist()
        return both[:n], both[n:]


# -- divergence ------------------------------------------------------------------------------------


class DivergenceError(RuntimeError):
    """The run diverged: the message names the iteration and the checkpoint to continue from.

    Attributes:
        iteration: the first iteration whose weights are known to be bad.
        checkpoint: ``(iteration, path)`` of the newest checkpoint written before that, or None.
    """

    def __init__(self, message: str, iteration: int = -1, checkpoint: tuple[int, str] | None = None):
        super().__init__(message)
        self.iteration = iteration
        self.checkpoint = checkpoint


class NonFiniteLossError(DivergenceError):
    """The training loss (or the gradient's norm) became NaN or infinite."""


class DivergenceGuard(Callback):
    """Stops a run that diverged, at the read-back of its losses, before anything is saved.

    A loss or gradient norm that is NaN or infinite raises :class:`NonFiniteLossError`; a loss
    above ``factor`` times the larger of the run's first loss and ``log(vocab_size)`` (a uniform
    guess) raises :class:`DivergenceError` (``factor=None``: only non-finite values). It reads
    only the values the loop reads back anyway, so it adds no device sync. With ``checkpoints``
    (the run's :class:`Checkpointing`), a checkpoint written after the weights went bad is
    renamed ``<name>.diverged.pt`` and the one before it takes its place.
    """

    def __init__(self, factor: float | None = 4.0, checkpoints: "Checkpointing | None" = None):
        self.factor, self.checkpoints = factor, checkpoints

    def on_losses(self, trainer, losses, grad_norms) -> None:
        first = len(trainer.losses)
        first_loss = trainer.losses[0] if trainer.losses else losses[0]
        vocab = getattr(getattr(trainer.model, "config", None), "vocab_size", None)
        for offset, (loss, norm) in enumerate(zip(losses, grad_norms)):
            problem = self.check(first + offset, loss, norm, first_loss, vocab)
            if problem is not None:
                bad_from, what, error = problem
                trainer.losses.extend(losses[: offset + (bad_from > first + offset)])  # the healthy ones
                raise self.error(trainer, bad_from, what, error)

    def check(self, it: int, loss: float, grad_norm: float, first_loss: float, vocab: int | None = None):
        """None if step ``it`` looks healthy, else (first bad iteration, description, error class).

        The first bad iteration is the first whose *weights* are bad: a loss is computed
        from the weights after ``it`` steps, so a bad loss condemns those weights; a bad
        gradient at step ``it`` condemns the weights after its update, ``it + 1``.
        """
        if not math.isfinite(loss):
            return it, f"the training loss became {loss} at iteration {it}", NonFiniteLossError
        if not math.isfinite(grad_norm):
            return it + 1, f"the gradient's norm became {grad_norm} at iteration {it}", NonFiniteLossError
        if self.factor is None:
            return None
        reference = first_loss if math.isfinite(first_loss) else loss
        if vocab:
            reference = max(reference, math.log(vocab))
        if loss > self.factor * reference:
            return it, (
                f"the training loss jumped to {loss:.4g} at iteration {it}, more than {self.factor:g} times "
                f"{reference:.4g} (the larger of the run's first loss and log(vocab_size), a uniform "
                f"guess's loss): the run diverged"
            ), DivergenceError
        return None

    def error(self, trainer, bad_from: int, what: str, error=DivergenceError) -> DivergenceError:
        """The error to raise, after setting aside a checkpoint written from bad weights."""
        msg = f"{what}; training stopped there"
        saves = self.checkpoints.saves if self.checkpoints is not None else []
        had_any = trainer.last_checkpoint is not None or bool(saves)
        good, set_aside = self._checkpoint_before(trainer, bad_from, saves)
        if set_aside is not None:
            msg += (f". The newest checkpoint (iteration {set_aside[0]}) was written after the run went bad; "
                    f"it is set aside as {set_aside[1]}")
        if good is not None:
            trainer.last_checkpoint = good
            msg += f". The last good checkpoint (iteration {good[0]}) is kept at {good[1]}"
        elif had_any:
            msg += f"; no checkpoint from before iteration {bad_from} is left, so start again"
        else:
            msg += " (no checkpoint had been saved)"
        msg += "; try a lower learning_rate, warmup, or gradient clipping"
        return error(msg, iteration=bad_from, checkpoint=good)

    def _checkpoint_before(self, trainer, bad_from: int, saves: list):
        """(good, set_aside): the newest checkpoint written before iteration ``bad_from``."""
        if not saves:  # only a save_checkpoint() of the caller's, if any: not ours to move
            kept = trainer.last_checkpoint
            return (kept if kept is not None and kept[0] < bad_from else None), None
        at, path = saves[-1]
        if at < bad_from:
            return (at, path), None
        newest = Path(path)
        previous = previous_path(newest)
        previous_at = None
        if len(saves) > 1 and saves[-2][1] == path:
            previous_at = saves[-2][0]
        elif previous.is_file():
            try:
                previous_at = int(load_state(previous)["iter_num"])
            except (OSError, TrainingStateError, KeyError):
                previous_at = None
        aside = diverged_path(newest)
        if trainer.rank == 0 and newest.is_file():
            os.replace(newest, aside)
        if previous_at is not None and previous_at < bad_from and previous.is_file():
            if trainer.rank == 0:
                os.replace(previous, newest)
            self.checkpoints.saves = [(previous_at, path)]
            return (previous_at, path), (at, str(aside))
        self.checkpoints.saves = []
        trainer.last_checkpoint = None
        return None, (at, str(aside))


# -- checkpoints -----------------------------------------------------------------------------------


class Checkpointing(Callback):
    """Saves the run to ``path`` every ``interval`` steps (0: never mid-run) and when it ends.

    Each save keeps the file it replaces as ``<name>.previous.pt``, so the last two survive.
    ``start`` also saves the starting point (iteration 0), so that even a run that diverges at
    once leaves a checkpoint from before it. At the start it removes the temporary files a
    killed writer of this folder left (see :func:`~mingpt_lite.runstate.remove_stale_temporaries`).
    """

    def __init__(self, path: str | os.PathLike, interval: int = 0, start: bool = False):
        self.path, self.interval, self.start = str(path), interval, start
        self.saves: list[tuple[int, str]] = []  # the loop's last two saves, (iteration, path), newest last

    def on_train_start(self, trainer) -> None:
        if trainer.rank == 0:  # only the temporaries of this run's own files
            path = Path(self.path)
            remove_stale_temporaries(path.parent, targets=(path.name, previous_path(path).name))
        if self.start and trainer.iter_num == 0 and not self.saves:
            self.save(trainer)

    def wants_sync(self, trainer) -> bool:
        return bool(self.interval) and trainer.iter_num % self.interval == 0

    def on_sync(self, trainer) -> None:
        if self.wants_sync(trainer):
            self.save(trainer)

    def on_train_end(self, trainer) -> None:
        if trainer.last_checkpoint is None or trainer.last_checkpoint[0] != trainer.iter_num:
            self.save(trainer)

    def save(self, trainer) -> None:
        trainer.save_checkpoint(self.path, keep_previous=True)
        self.saves = [s for s in self.saves if s[1] == self.path][-1:] + [(trainer.iter_num, self.path)]


def run_state(trainer) -> dict:
    """A trainer's whole run as plain data for :func:`~mingpt_lite.runstate.atomic_save`: model,
    optimizer, both configs, counters, loss history, every RNG's state and the device type."""
    model_config = getattr(trainer.model, "config", None)
    return {
        "model": trainer.model.state_dict(), "optimizer": trainer.optimizer.state_dict(),
        "model_config": model_config.to_json() if hasattr(model_config, "to_json") else None,
        "trainer_config": plain(dataclasses.asdict(trainer.config)), "iter_num": trainer.iter_num,
        "losses": list(trainer.losses), "evaluations": plain(trainer.evaluations), "train_time": trainer.train_time,
        "timed_iters": trainer._timed_iters, "rng": rng_states({"data": trainer.data_generator}),
        "world_size": trainer.world_size, "device": trainer.device.type,
    }


def restore_run_state(trainer, state: dict) -> None:
    """Put a :func:`run_state` back into ``trainer``; a checkpoint that does not fit says why in one line."""
    stored, model_config = state.get("model_config"), getattr(trainer.model, "config", None)
    if stored is not None and hasattr(model_config, "to_json") and stored != model_config.to_json():
        old, new = json.loads(stored), json.loads(model_config.to_json())
        diff = ", ".join(f"{k} {old.get(k, '(absent)')!r} in the checkpoint vs {new.get(k, '(absent)')!r} here"
                         for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k))
        raise TrainingStateError(f"the checkpoint was trained with a different model config: {diff}")
    saved_rng = state["rng"].get("data")
    if saved_rng is not None and saved_rng.numel() != trainer.data_generator.get_state().numel():
        # a CPU generator's state (Mersenne Twister) and a GPU's (seed, offset) do not convert
        raise TrainingStateError(f"the checkpoint's batch generator ran on {state.get('device', 'another device')}, "
                                 f"this trainer's on {trainer.device.type}: resume on the device type it was saved on")
    try:
        trainer.model.load_state_dict(state["model"])
    except RuntimeError as err:
        raise TrainingStateError(f"checkpoint weights do not fit the model: {err}") from None
    check_optimizer_state(state["optimizer"], trainer.optimizer)  # a Muon checkpoint into AdamW: one line
    trainer.optimizer.load_state_dict(state["optimizer"])
    trainer.iter_num, trainer.losses = int(state["iter_num"]), list(state["losses"])
    trainer.evaluations, trainer.train_time = list(state["evaluations"]), float(state["train_time"])
    trainer._timed_iters, trainer.saved_device = int(state["timed_iters"]), state.get("device")
    restore_rng_states(state["rng"], {"data": trainer.data_generator})


def changed_settings(trainer) -> list[tuple[str, object, object]]:
    """``(field, saved value, value now)`` for each setting a resumed ``trainer`` changed.

    Settings that only say how fast or where to write (compile, fused_adamw, progress, paths) and
    ``max_iters`` (continuing further is what resuming is for) are left out. The device is compared
    by type, the checkpoint's against the trainer's (``"cpu"`` vs ``"cuda"``): a different device
    gives different bits even where the state loads.
    """
    if trainer.saved_config is None:
        return []
    quiet = {"max_iters", "device", "compile", "fused_adamw", "progress", "checkpoint_path"}
    now, saved = plain(dataclasses.asdict(trainer.config)), trainer.saved_config
    changes = [(name, saved[name], now[name]) for name in now
               if name not in quiet and name in saved and saved[name] != now[name]]
    if trainer.saved_device is not None and trainer.saved_device != trainer.device.type:
        changes.append(("device", trainer.saved_device, trainer.device.type))
    return changes


def plain(value):
    """``value`` with numbers as plain Python numbers, so ``torch.load(weights_only=True)`` reads it back."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} in a checkpoint; keep numbers, strings, "
                    f"lists and dicts in trainer.evaluations")


# -- interrupts ------------------------------------------------------------------------------------

# Ctrl-C, and what Slurm, Kubernetes, Docker and systemd send to stop or preempt a job.
SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped on a signal after finishing a step (and saving, with a checkpoint path).

    ``signum`` is the signal; ``exit_code`` is the shell's convention for it, 128 + signum
    (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP).
    """

    def __init__(self, message: str, signum: int = signal.SIGINT):
        super().__init__(message)
        self.signum = int(signum)

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class GracefulInterrupt(Callback):
    """The first SIGINT, SIGTERM or SIGHUP during ``train()`` means "stop after this step".

    The signal is kept in ``trainer.interrupted_by``; the run saves (when it has a checkpoint
    path: :class:`Checkpointing` acts first at ``on_train_end``) and then raises
    :class:`TrainingInterrupted`. A second signal interrupts at once. Outside the main thread
    Python cannot catch signals, and nothing is installed.
    """

    def __init__(self):
        self.previous: dict[int, object] = {}

    def on_train_start(self, trainer) -> None:
        trainer.interrupted_by = None
        if threading.current_thread() is not threading.main_thread():
            return

        def handler(signum, frame):
            if trainer.interrupted_by is not None:
                raise TrainingInterrupted(f"interrupted again by {signal.Signals(signum).name}", signum)
            trainer.interrupted_by = signum
            trainer.stop()

        for signum in SIGNALS:
            self.previous[signum] = signal.signal(signum, handler)

    def on_train_end(self, trainer) -> None:
        if trainer.interrupted_by is not None:
            saved = trainer.last_checkpoint
            where = f"; saved to {saved[1]}" if saved is not None and saved[0] == trainer.iter_num else ""
            raise TrainingInterrupted(f"training interrupted by {signal.Signals(trainer.interrupted_by).name} "
                                      f"after iteration {trainer.iter_num}{where}", trainer.interrupted_by)

    def close(self, trainer) -> None:
        while self.previous:
            signum, handler = self.previous.popitem()
            signal.signal(signum, handler)


# -- progress and time -----------------------------------------------------------------------------


class ProgressBar(Callback):
    """A tqdm bar over the run's steps, showing the last read-back loss and the learning rate."""

    def on_train_start(self, trainer) -> None:
        self.bar = tqdm(total=trainer.end_iter, initial=trainer.iter_num, desc="training", unit="it",
                        mininterval=0.5)

    def on_batch_end(self, trainer) -> None:
        self.bar.update(1)

    def on_log(self, trainer) -> None:
        self.bar.set_postfix(loss=f"{trainer.losses[-1]:.4f}", lr=f"{trainer.schedule(trainer.iter_num - 1):.2e}")

    def close(self, trainer) -> None:
        self.bar.close()


class TimeBudget(Callback):
    """Train for ``seconds`` of ``clock`` from ``train()`` on, with the schedule spread over that time.

    Installed, it makes the trainer's schedule measure its way down (after warmup, which stays
    in steps) by the share of the budget spent, and stops the run once it is spent. The
    default clock is the process's CPU time: for a one-thread process, the wall time it would
    take on an idle core, and much less stretched than wall time on a busy machine.
    """

    def __init__(self, seconds: float, clock=time.process_time):
        if not seconds > 0:
            raise ValueError(f"a time budget must be a positive number of seconds, got {seconds!r}")
        self.seconds, self.clock, self.started = seconds, clock, None

    def setup(self, trainer) -> None:
        trainer.schedule.measure_progress_by(self.fraction)

    def fraction(self, it: int = 0) -> float:
        """The share of the budget spent so far (0 before training starts)."""
        return 0.0 if self.started is None else (self.clock() - self.started) / self.seconds

    def on_train_start(self, trainer) -> None:
        if self.started is None:
            self.started = self.clock()

    def on_batch_end(self, trainer) -> None:
        if self.fraction() >= 1.0:
            trainer.stop()


# -- chapter 08: when is a sort task solved? --------------------------------------------------------


def solved_step(history: Sequence[Sequence[float]], patience: int | None = 4) -> int | None:
    """The solve rule on a finished history of ``(step, accuracy)`` evaluations: the step of the first
    evaluation of the first run of ``patience`` evaluations in a row at 100%, or None.

    ``patience=None`` asks for the strictest form, the one the sort benchmark reports: the run must
    stay at 100% to its end, so the answer is the first evaluation from which every later one is
    at 100% (None when the last one is not: a run that touches 100% and falls back is not solved).
    """
    if patience is None:
        start = None
        for step, accuracy in history:
            start = (step if start is None else start) if accuracy == 1.0 else None
        return start
    streak = 0
    for i, (_, accuracy) in enumerate(history):
        streak = streak + 1 if accuracy == 1.0 else 0
        if streak == patience:
            return history[i - patience + 1][0]
    return None


def enumerable_test_split(task, limit: int = 1000, device=None) -> torch.Tensor | None:
    """Every problem of ``task``'s test split if it has at most ``limit`` of them, else None."""
    if task.num_problems > 8 * limit:
        return None
    problems = task.all_problems("test", device=device)
    return problems if len(problems) <= limit else None


class SolveWatcher(Callback):
    """At every ``on_log``, decides whether a sort task is *solved*, and cools the learning rate.

    It scores the model on held-out test problems (teacher-forced, see
    :func:`~mingpt_lite.data.sort_accuracy`): the whole test split when it has at most
    ``enumerate_limit`` problems, else ``n_eval`` problems drawn afresh each time from a seeded
    generator. The task counts as solved after ``patience`` evaluations in a row at 100%
    (:func:`solved_step`); ``solved_at`` is the step of the first of them, and the watcher stops
    the Trainer. When the accuracy first reaches ``trigger`` at step ``s``, it asks the trainer's
    schedule for a :meth:`~mingpt_lite.schedule.Schedule.cool_down`: the peak rate falls linearly
    to ``floor`` times itself over another ``s`` steps (so the last few hard problems stop
    flipping between right and wrong). Use it as ``trainer.add_callback("on_log", watcher)`` or
    ``trainer.install(watcher)``. ``peak_lr``, if given, must be the schedule's peak.
    """

    def __init__(self, task, peak_lr: float | None = None, patience: int = 4, trigger: float = 0.99,
                 floor: float = 0.02, n_eval: int = 500, enumerate_limit: int = 1000, seed: int = 0, device=None):
        if patience < 1:
            raise ValueError(f"patience must be at least 1, got {patience}")
        self.task, self.peak_lr, self.patience, self.trigger, self.floor = task, peak_lr, patience, trigger, floor
        self.n_eval = n_eval
        self.device = torch.device("cpu") if device is None else torch.device(device)
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        self.all_test = enumerable_test_split(task, enumerate_limit, self.device)
        self.history: list[tuple[int, float]] = []
        self.streak = 0
        self.cool_from: int | None = None
        self.solved_at: int | None = None

    def test_problems(self) -> torch.Tensor:
        """The problems of this evaluation: the whole (small) test split, or a fresh sample."""
        if self.all_test is not None:
            return self.all_test
        return self.task.sample_problems("test", self.n_eval, self.generator)

    def on_log(self, trainer) -> None:
        step = trainer.iter_num
        accuracy = sort_accuracy(trainer.model, self.task, self.test_problems(), method="teacher_forced")
        self.history.append((step, accuracy))
        self.streak = self.streak + 1 if accuracy == 1.0 else 0
        if self.streak == self.patience:
            self.solved_at = step - (self.patience - 1) * trainer.config.log_interval
            trainer.stop()
        if self.cool_from is None and accuracy >= self.trigger:
            self.cool_from = max(step, 1)
            if self.peak_lr is not None and self.peak_lr != trainer.schedule.learning_rate:
                raise ValueError(f"SolveWatcher's peak_lr {self.peak_lr} is not the schedule's peak "
                                 f"{trainer.schedule.learning_rate}; leave peak_lr out")
            trainer.schedule.cool_down(self.cool_from, self.cool_from, self.floor, every=trainer.config.log_interval)

    __call__ = on_log  # so that add_callback("on_log", watcher) works too


__all__ = [
    "EVENTS", "Callback", "Checkpointing", "DivergenceError", "DivergenceGuard", "EventHooks", "GracefulInterrupt",
    "LossBuffer", "NonFiniteLossError", "ProgressBar", "SIGNALS", "SolveWatcher", "TimeBudget", "TrainingInterrupted",
    "changed_settings", "enumerable_test_split", "plain", "restore_run_state", "run_state", "solved_step",
]
