"""The training loop, as a class that holds everything a run is made of.

The notes: "Training process has to put everything together. Make sense to build
a trainer class to bundle all relevant states and functions together." So a
:class:`Trainer` owns the model, the optimizer, the data generator, the iteration
counter, the learning-rate schedule, the loss history and the checkpoints; and
"the callback system is intuitive and interesting": code outside the loop hooks
into named events (:data:`EVENTS`) instead of editing the loop.

One step is minGPT's: a batch, forward, loss, backward, clip, optimizer step.
What is added around it, and why:

* batches come from the dataset's ``get_batch`` on the training device, drawn
  from the trainer's own seeded ``torch.Generator`` (reproducible, no DataLoader);
* on a GPU nothing in the step waits for the device: the loss of every step is
  written into a small buffer *on* the device and read back once per
  ``log_interval`` (reading a number back to Python waits for all queued work,
  which would stall the GPU every step);
* bf16 autocast and the fused AdamW kernel on CUDA, optional ``torch.compile``;
* warmup + cosine learning rate, gradient clipping, held-out evaluation;
* checkpoints that resume exactly (see :mod:`mingpt_lite.training_state`); the
  last two are kept, and ``checkpoint_start`` saves the starting point too;
* a run that diverges stops with a clear error instead of silently training
  garbage: a loss or gradient that turns NaN or infinite, or a loss far above
  anything a healthy run shows (``divergence_factor``). The check reads the losses
  the loop already reads back for logging, so it adds no device sync. The error
  names the newest checkpoint written *before* the run went bad, and if the newest
  one was written after, it is set aside so that resuming picks up the good one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import numbers
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from .device import pick_device
from .loss import lm_loss
from .model import check_token_ids
from .config import BOOL, CHOICE, INT, REAL, validate_fields
from .optim import RULES, configure_adamw
from .training_state import (
    TrainingStateError,
    atomic_save,
    load_state,
    previous_path,
    remove_stale_temporaries,
    restore_rng_states,
    rng_states,
)

EVENTS = (
    "on_train_start",  # before the first step of train()
    "on_after_backward",  # gradients are there, not yet clipped or applied
    "on_batch_end",  # after each optimizer step; trainer.iter_num is that step's index (from 0)
    "on_log",  # every log_interval steps, once the recent losses are in trainer.losses
    "on_eval",  # after each evaluation; trainer.evaluations[-1] holds its results
    "on_checkpoint",  # after a checkpoint was written
    "on_train_end",  # when train() finishes (not when it fails)
)
LR_SCHEDULES = ("constant", "cosine", "linear")
PRECISIONS = ("auto", "fp32", "bf16")


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


@dataclass
class TrainerConfig:
    """Everything that decides how a model is trained (not what the model is).

    The defaults are minGPT's demo settings (batch 64, lr 5e-4, betas 0.9/0.95,
    weight decay 0.1 on Linear weights, gradient clipping at norm 1.0, constant lr).

    Attributes:
        max_iters: optimizer steps in the run (also the length of the cosine schedule).
        batch_size: sequences per step, in total over all processes when distributed.
        learning_rate: peak learning rate.
        betas: AdamW's moment decay rates.
        weight_decay: AdamW weight decay of the decayed group.
        decay_rule: which parameters decay: ``"mingpt"`` (Linear weights) or ``"dim"`` (all matrices).
        grad_clip: clip the gradient's global norm to this; None or 0 to not clip.
        lr_schedule: ``"constant"``, ``"cosine"`` (half a cosine down to ``min_lr`` at ``max_iters``)
            or ``"linear"`` (a straight line down to ``min_lr`` at ``max_iters``).
        warmup_iters: linear warmup from ~0 to ``learning_rate`` over this many steps (either schedule).
        min_lr: floor of the cosine schedule.
        eval_interval: evaluate every this many steps (0: only when you call :meth:`Trainer.evaluate`).
        eval_iters: batches per split in an evaluation (the same batches every time).
        eval_batch_size: batch size for evaluation (default: ``batch_size``).
        log_interval: read the losses back from the device and update the progress bar every
            this many steps; on a GPU this is the only place the loop waits for the device.
        seed: seeds the batch generator and dropout.
        device: where to train; None picks one (see :func:`mingpt_lite.device.pick_device`).
        precision: ``"auto"`` (bf16 autocast on CUDA, fp32 elsewhere), ``"fp32"`` or ``"bf16"``.
        compile: run the training step's model through ``torch.compile``.
        fused_adamw: use the fused AdamW kernel (one C++/CUDA loop over all parameters instead
            of several tensor operations per parameter); None: yes on CPU and CUDA.
        progress: show a tqdm progress bar.
        checkpoint_path: where :meth:`Trainer.train` saves the run (None: never).
        checkpoint_interval: save every this many steps (0: only at the end and on interruption).
            Each save of the loop keeps the file it replaces as ``<name>.previous.pt``
            (see :func:`~mingpt_lite.training_state.previous_path`).
        checkpoint_start: also save the starting point (iteration 0), so that even a run that
            diverges at once leaves a checkpoint from before it (the command line does this).
        divergence_factor: stop when a training loss exceeds this many times the larger of the
            run's first loss and ``log(vocab_size)`` (the loss of a uniform guess): a model that
            much worse than knowing nothing has diverged. None: stop only on NaN or infinity.
    """

    max_iters: int = 2000
    batch_size: int = 64
    learning_rate: float = 5e-4
    betas: tuple[float, float] = (0.9, 0.95)
    weight_decay: float = 0.1
    decay_rule: str = "mingpt"
    grad_clip: float | None = 1.0
    lr_schedule: str = "constant"
    warmup_iters: int = 0
    min_lr: float = 0.0
    eval_interval: int = 0
    eval_iters: int = 10
    eval_batch_size: int | None = None
    log_interval: int = 100
    seed: int = 3407
    device: str | None = None
    precision: str = "auto"
    compile: bool = False
    fused_adamw: bool | None = None
    progress: bool = True
    checkpoint_path: str | None = None
    checkpoint_interval: int = 0
    checkpoint_start: bool = False
    divergence_factor: float | None = 4.0

    def __post_init__(self) -> None:
        validate_fields(self, _TRAINER_RULES)
        if not self.min_lr <= self.learning_rate:
            raise ValueError(
                f"TrainerConfig.min_lr must be in [0, learning_rate={self.learning_rate}], got {self.min_lr!r}"
            )
        if isinstance(self.betas, (str, bytes)) or not hasattr(self.betas, "__len__") or len(self.betas) != 2:
            raise ValueError(f"TrainerConfig.betas must be two numbers in [0, 1), got {self.betas!r}")
        self.betas = tuple(self.betas)
        for k, beta in enumerate(self.betas):
            REAL(0, 1, high_open=True).check(f"TrainerConfig.betas[{k}]", beta)
        if self.device is not None and not isinstance(self.device, (str, torch.device)):
            raise TypeError(f"TrainerConfig.device must be a string such as 'cpu' or 'cuda', got {self.device!r}")
        if self.checkpoint_path is not None and not isinstance(self.checkpoint_path, (str, os.PathLike)):
            raise TypeError(f"TrainerConfig.checkpoint_path must be a path or None, got {self.checkpoint_path!r}")


# Seeds: torch takes 64-bit seeds; the Trainer adds small offsets (per split, per process).
_MAX_SEED = 2**63 - 1
_TRAINER_RULES = {
    "max_iters": INT(0),
    "batch_size": INT(1),
    "learning_rate": REAL(0, low_open=True),
    "weight_decay": REAL(0),
    "decay_rule": CHOICE(*RULES),
    "grad_clip": REAL(0, optional=True),
    "lr_schedule": CHOICE(*LR_SCHEDULES),
    "warmup_iters": INT(0),
    "min_lr": REAL(0),
    "eval_interval": INT(0),
    "eval_iters": INT(1),
    "eval_batch_size": INT(1, optional=True),
    "log_interval": INT(1),
    "seed": INT(0, _MAX_SEED),
    "precision": CHOICE(*PRECISIONS),
    "compile": BOOL(),
    "fused_adamw": BOOL(optional=True),
    "progress": BOOL(),
    "checkpoint_interval": INT(0),
    "checkpoint_start": BOOL(),
    "divergence_factor": REAL(1, low_open=True, optional=True),
}


def learning_rate_at(config: TrainerConfig, it: int) -> float:
    """The learning rate for step ``it`` (0-based) under ``config``'s schedule.

    Warmup rises linearly, reaching ``learning_rate`` at step ``warmup_iters - 1``;
    the cosine schedule then falls along half a cosine to ``min_lr`` at ``max_iters``, the
    linear one along a straight line (for short runs, decaying linearly, to zero or near it,
    does at least as well as the cosine: Bergsma et al. 2025, https://arxiv.org/abs/2502.15938).
    """
    lr = config.learning_rate
    if it < config.warmup_iters:
        return lr * (it + 1) / config.warmup_iters
    if config.lr_schedule == "constant":
        return lr
    span = max(1, config.max_iters - config.warmup_iters)
    progress = min(1.0, (it - config.warmup_iters) / span)
    if config.lr_schedule == "linear":
        return lr + progress * (config.min_lr - lr)
    return config.min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (lr - config.min_lr)


class Trainer:
    """Trains ``model`` on ``data`` under ``config`` and keeps the whole state of the run.

    ``data`` is any object with ``get_batch(split, batch_size, generator) -> (x, y)``
    and ``splits`` (the first is the training split, e.g. ``("train", "test")``);
    with ``vocab_size`` and ``block_size`` it is checked against the model up front.
    :class:`~mingpt_lite.data.SortTask` and :class:`~mingpt_lite.data.CharDataset` are such objects.

    State, all readable by callbacks and chapters:
        ``model`` (the plain module), ``optimizer``, ``iter_num`` (steps done),
        ``loss`` (last step's loss, a tensor), ``losses`` (every step's loss as floats,
        filled in every ``log_interval`` steps), ``evaluations`` (one dict per evaluation,
        e.g. ``{"iter": 500, "train_loss": ..., "test_loss": ...}``), ``train_time``
        (seconds spent in training steps, evaluation and checkpoints excluded).

    When ``torch.distributed`` is initialised (see :mod:`mingpt_lite.distributed`),
    the model is wrapped in DistributedDataParallel and each process takes its own
    slice of the same global batch.
    """

    def __init__(self, model: torch.nn.Module, data, config: TrainerConfig | None = None):
        self.config = config = config if config is not None else TrainerConfig()
        if not isinstance(config, TrainerConfig):
            raise TypeError(f"config must be a TrainerConfig, got {type(config).__name__}")
        if not hasattr(data, "get_batch"):
            raise TypeError(f"data must have a get_batch(split, batch_size, generator) method, got {type(data).__name__}")
        self.data = data
        self.splits = tuple(getattr(data, "splits", ("train",)))
        self.device = pick_device(config.device)
        if self.device.type == "cuda" and self.device.index is None:
            # the GPU this process was given (torchrun: torch.cuda.set_device(local_rank))
            self.device = torch.device("cuda", torch.cuda.current_device())
        self.rank, self.world_size = _process_group()
        if config.batch_size % self.world_size:
            raise ValueError(
                f"batch_size {config.batch_size} must divide evenly over {self.world_size} processes"
            )
        self.model = model.to(self.device)
        self._check_data_fits_model()

        fused = config.fused_adamw
        if fused is None:  # PyTorch has fused AdamW kernels for these two
            fused = self.device.type in ("cpu", "cuda")
        self.optimizer = configure_adamw(
            self.model, config.learning_rate, config.weight_decay, config.betas,
            config.decay_rule, fused=fused,
        )
        # Batches: one generator on the training device, seeded the same in every process
        # (each process then draws the same global batch and keeps its own slice).
        # Dropout: torch's global generators, seeded differently per process.
        self.data_generator = torch.Generator(device=self.device).manual_seed(config.seed)
        torch.manual_seed(config.seed + self.rank)

        # The module the training step calls: compiled and/or wrapped for DDP (compile
        # first, then wrap, as nanoGPT does). Evaluation and checkpoints use self.model.
        self.train_model = torch.compile(self.model) if config.compile else self.model
        if self.world_size > 1:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.train_model = DistributedDataParallel(self.train_model, device_ids=ids)

        self.callbacks: dict[str, list[Callable]] = {event: [] for event in EVENTS}
        self.iter_num = 0
        self.loss: torch.Tensor | None = None
        self.iter_dt = 0.0  # host seconds between the last two steps (minGPT's iter_dt)
        self.losses: list[float] = []
        self.evaluations: list[dict] = []
        self.train_time = 0.0
        self.last_checkpoint: tuple[int, str] | None = None  # (iteration, path) of the last save
        self._saved: list[tuple[int, str]] = []  # the last two saves to checkpoint_path, newest last
        self.stop_requested = False
        self.saved_config: dict | None = None  # the config a resumed run was saved with
        self._timed_iters = 0
        self._pending = 0  # steps whose losses are still only on the device
        self._loss_buffer = torch.zeros(config.log_interval, device=self.device)
        # the clipped gradient's norm per step (clipping computes it anyway), read with the losses
        self._grad_norm_buffer = torch.zeros(config.log_interval, device=self.device)
        self._interrupted = False

    # -- set-up checks ----------------------------------------------------------------
    def _check_data_fits_model(self) -> None:
        """Check the data's vocabulary and length against the model, once, before training.

        On CUDA the model skips its per-call token range check while training (it would
        wait for the GPU every step), so a bad token id must be caught here instead.
        """
        mc = getattr(self.model, "config", None)
        if mc is None:
            return
        vocab = getattr(self.data, "vocab_size", None)
        if vocab is not None and vocab > mc.vocab_size:
            raise ValueError(
                f"the data has {vocab} token ids but the model's vocab_size is {mc.vocab_size}; "
                f"build the model with vocab_size >= {vocab}"
            )
        block = getattr(self.data, "block_size", None)
        if block is not None and block > mc.block_size:
            raise ValueError(
                f"the data's sequences are {block} tokens but the model's block_size is {mc.block_size}"
            )
        probe = torch.Generator(device=self.device).manual_seed(self.config.seed + 7919)
        x, y = self.data.get_batch(self.splits[0], min(self.config.batch_size, 64), probe)
        check_token_ids(x, mc)  # full range check, once
        high, low = int(y.max()), int(y.min())
        if high >= mc.vocab_size or low < -1:
            raise ValueError(
                f"targets hold token ids from {low} to {high}; they must lie in [0, {mc.vocab_size}) "
                f"(the model's vocab_size), or be -1 for positions without a loss"
            )

    # -- callbacks ----------------------------------------------------------------------
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
        try:
            self.callbacks[event].remove(callback)
        except ValueError:
            raise ValueError(f"{callback!r} is not registered for {event!r}") from None

    def set_callback(self, event: str, callback: Callable) -> Callable:
        """Make ``callback`` the only one for ``event`` (minGPT's ``set_callback``)."""
        self._check_event(event)
        self.callbacks[event] = []
        return self.add_callback(event, callback)

    def trigger(self, event: str) -> None:
        """Call every callback registered for ``event``, in the order they were added."""
        for callback in list(self.callbacks[event]):
            callback(self)

    @staticmethod
    def _check_event(event: str) -> None:
        if event not in EVENTS:
            raise ValueError(f"unknown event {event!r}; events are {EVENTS}")

    def stop(self) -> None:
        """Ask :meth:`train` to stop after the current step (e.g. from a callback)."""
        self.stop_requested = True

    # -- one step ---------------------------------------------------------------------------
    def lr_at(self, it: int) -> float:
        """Learning rate of step ``it`` (see :func:`learning_rate_at`)."""
        return learning_rate_at(self.config, it)

    def autocast(self):
        """The autocast context for forward passes: bf16 on CUDA by default, else none."""
        precision = self.config.precision
        if precision == "auto":
            precision = "bf16" if self.device.type == "cuda" else "fp32"
        if precision == "bf16":
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def get_batch(self, split: str, batch_size: int | None = None, generator=None):
        """This process's share of a global batch of ``split``: (x, y) on the training device."""
        batch_size = self.config.batch_size if batch_size is None else batch_size
        generator = self.data_generator if generator is None else generator
        x, y = self.data.get_batch(split, batch_size, generator)
        if self.world_size > 1:  # every process drew the same global batch; keep our slice
            share = batch_size // self.world_size
            x = x[self.rank * share : (self.rank + 1) * share]
            y = y[self.rank * share : (self.rank + 1) * share]
        return x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)

    def _step(self) -> None:
        config = self.config
        x, y = self.get_batch(self.splits[0])
        with self.autocast():
            logits = self.train_model(x)
        loss = lm_loss(logits, y)
        loss.backward()
        self.trigger("on_after_backward")
        if config.grad_clip:
            norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), config.grad_clip)
            self._grad_norm_buffer[self._pending] = norm  # stays on the device: no sync
        lr = self.lr_at(self.iter_num)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.loss = loss.detach()
        self._loss_buffer[self._pending] = self.loss  # stays on the device: no sync
        self._pending += 1

    def _flush_losses(self) -> None:
        """Bring the buffered losses to Python (one device sync) and check the run has not diverged."""
        if not self._pending:
            return
        n = self._pending
        values = self._loss_buffer[:n]
        if self.world_size > 1:  # the global batch's loss is the mean of the processes' losses
            import torch.distributed as dist

            values = values.clone()
            dist.all_reduce(values)
            values /= self.world_size
        clipping = bool(self.config.grad_clip)
        read = torch.cat([values, self._grad_norm_buffer[:n]]) if clipping else values
        read = read.tolist()  # the one read-back
        values, norms = read[:n], (read[n:] if clipping else [0.0] * n)
        first = len(self.losses)
        self._pending = 0
        first_loss = self.losses[0] if self.losses else values[0]
        for offset, (value, norm) in enumerate(zip(values, norms)):
            problem = self._divergence(first + offset, value, norm, first_loss)
            if problem is not None:
                bad_from, message, error = problem
                self.losses.extend(values[: offset + (bad_from > first + offset)])
                raise self._divergence_error(bad_from, message, error)
        self.losses.extend(values)

    def _divergence(self, it: int, loss: float, grad_norm: float, first_loss: float):
        """None if step ``it`` looks healthy, else (first bad iteration, description, error class).

        The first bad iteration is the first whose *weights* are bad: a loss is computed
        from the weights after ``it`` steps, so a bad loss condemns those weights; a bad
        gradient at step ``it`` condemns the weights after its update, ``it + 1``.
        """
        if not math.isfinite(loss):
            return it, f"the training loss became {loss} at iteration {it}", NonFiniteLossError
        if not math.isfinite(grad_norm):
            return it + 1, f"the gradient's norm became {grad_norm} at iteration {it}", NonFiniteLossError
        factor = self.config.divergence_factor
        if factor is None:
            return None
        reference = first_loss if math.isfinite(first_loss) else loss
        vocab = getattr(getattr(self.model, "config", None), "vocab_size", None)
        if vocab:
            reference = max(reference, math.log(vocab))
        if loss > factor * reference:
            return it, (
                f"the training loss jumped to {loss:.4g} at iteration {it}, more than {factor:g} times "
                f"{reference:.4g} (the larger of the run's first loss and log(vocab_size), a uniform "
                f"guess's loss): the run diverged"
            ), DivergenceError
        return None

    def _divergence_error(self, bad_from: int, what: str, error=DivergenceError) -> DivergenceError:
        msg = f"{what}; training stopped there"
        had_any = self.last_checkpoint is not None or bool(self._saved)
        good, set_aside = self._checkpoint_before(bad_from)
        if set_aside is not None:
            msg += (
                f". The newest checkpoint (iteration {set_aside[0]}) was written after the run went bad; "
                f"it is set aside as {set_aside[1]}"
            )
        if good is not None:
            self.last_checkpoint = good
            msg += f". The last good checkpoint (iteration {good[0]}) is kept at {good[1]}"
        elif had_any:
            msg += f"; no checkpoint from before iteration {bad_from} is left, so start again"
        else:
            msg += " (no checkpoint had been saved)"
        msg += "; try a lower learning_rate, warmup, or gradient clipping"
        return error(msg, iteration=bad_from, checkpoint=good)

    def _checkpoint_before(self, bad_from: int):
        """(good, set_aside): the newest checkpoint written before iteration ``bad_from``.

        If the newest one was written at or after ``bad_from`` (its weights produced the
        bad loss), it is renamed ``<name>.diverged.pt`` and the previous one takes its
        place, so resuming from ``checkpoint_path`` starts from good weights.
        """
        if not self._saved:  # only a save_checkpoint() of the caller's, if any: not ours to move
            kept = self.last_checkpoint
            return (kept if kept is not None and kept[0] < bad_from else None), None
        at, path = self._saved[-1]
        if at < bad_from:
            return (at, path), None
        newest = Path(path)
        previous = previous_path(newest)
        previous_at = None
        if len(self._saved) > 1 and self._saved[-2][1] == path:
            previous_at = self._saved[-2][0]
        elif previous.is_file():
            try:
                previous_at = int(load_state(previous)["iter_num"])
            except (OSError, TrainingStateError, KeyError):
                previous_at = None
        aside = newest.with_name(f"{newest.stem}.diverged{newest.suffix}")
        if self.rank == 0 and newest.is_file():
            os.replace(newest, aside)
        if previous_at is not None and previous_at < bad_from and previous.is_file():
            if self.rank == 0:
                os.replace(previous, newest)
            self._saved = [(previous_at, path)]
            return (previous_at, path), (at, str(aside))
        self._saved = []
        self.last_checkpoint = None
        return None, (at, str(aside))

    # -- the loop -----------------------------------------------------------------------------
    def train(self, max_iters: int | None = None) -> "Trainer":
        """Run optimizer steps until ``iter_num`` reaches ``max_iters`` (default ``config.max_iters``).

        Can be called again to continue. Ctrl-C (or a notebook interrupt) stops at the
        end of the current step and saves a checkpoint if ``checkpoint_path`` is set.
        Raises :class:`NonFiniteLossError` if the loss becomes NaN or infinite.
        """
        config = self.config
        end = config.max_iters if max_iters is None else max_iters
        if end < self.iter_num:
            raise ValueError(f"max_iters={end} is before the current iteration {self.iter_num}")
        self.stop_requested = False
        self.train_model.train()
        self.trigger("on_train_start")
        if config.checkpoint_path and self.rank == 0:
            remove_stale_temporaries(Path(config.checkpoint_path).parent)  # left by a killed run
        bar = _progress_bar(self, end)
        previous_handler = self._catch_interrupts()
        try:
            if config.checkpoint_path and config.checkpoint_start and self.iter_num == 0 and not self._saved:
                self._save_run_checkpoint()  # the starting point: there is always one from before a divergence
            started = last = time.perf_counter()
            while self.iter_num < end and not self.stop_requested and not self._interrupted:
                self._step()
                now = time.perf_counter()
                self.iter_dt, last = now - last, now
                self.trigger("on_batch_end")  # iter_num is still the index of this step
                self.iter_num += 1
                bar.update(1)
                n = self.iter_num
                logging = n % config.log_interval == 0 or self._pending == config.log_interval
                evaluating = config.eval_interval and n % config.eval_interval == 0
                saving = (
                    config.checkpoint_path and config.checkpoint_interval
                    and n % config.checkpoint_interval == 0
                )
                finishing = n == end or self.stop_requested or self._interrupted
                if not (logging or evaluating or saving or finishing):
                    continue
                self._flush_losses()  # the sync point; raises on NaN before anything is saved
                self._stop_clock(started)
                if logging or finishing:
                    bar.set_postfix(loss=f"{self.losses[-1]:.4f}", lr=f"{self.lr_at(n - 1):.2e}")
                    self.trigger("on_log")
                if evaluating:
                    self.evaluate()
                if saving:
                    self._save_run_checkpoint()
                started = last = time.perf_counter()
            if self._interrupted:
                if config.checkpoint_path:
                    self._save_run_checkpoint()
                raise KeyboardInterrupt(
                    f"training interrupted after iteration {self.iter_num}"
                    + (f"; saved to {config.checkpoint_path}" if config.checkpoint_path else "")
                )
            if config.checkpoint_path and (not self.last_checkpoint or self.last_checkpoint[0] != self.iter_num):
                self._save_run_checkpoint()
        finally:
            bar.close()
            self._release_interrupts(previous_handler)
        self.trigger("on_train_end")
        return self

    def _stop_clock(self, started: float) -> None:
        # the losses were just read back, so on a GPU every queued step has finished
        self.train_time += time.perf_counter() - started
        self._timed_iters = self.iter_num

    @property
    def ms_per_iter(self) -> float:
        """Average milliseconds per training step so far (evaluation and checkpoints excluded)."""
        return 1000.0 * self.train_time / max(1, self._timed_iters)

    def _catch_interrupts(self):
        """Turn the first Ctrl-C into 'stop after this step' (a second one interrupts at once)."""
        self._interrupted = False
        if threading.current_thread() is not threading.main_thread():
            return None

        def handler(signum, frame):
            if self._interrupted:
                raise KeyboardInterrupt
            self._interrupted = True

        return signal.signal(signal.SIGINT, handler)

    @staticmethod
    def _release_interrupts(previous) -> None:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)

    # -- evaluation ------------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, splits=None, iters: int | None = None) -> dict:
        """Mean loss on ``iters`` batches of each split (default: all of the data's splits).

        The batches are the same at every evaluation (a generator seeded from
        ``config.seed`` per split), so successive evaluations differ only through the
        model. Appends ``{"iter": ..., "<split>_loss": ...}`` to ``evaluations`` and fires ``on_eval``.
        """
        config = self.config
        splits = self.splits if splits is None else tuple(splits)
        iters = config.eval_iters if iters is None else iters
        batch_size = config.eval_batch_size or config.batch_size
        was_training = self.model.training
        self.model.eval()
        result: dict = {"iter": self.iter_num}
        try:
            for k, split in enumerate(splits):
                generator = torch.Generator(device=self.device).manual_seed(config.seed + 1000 + k)
                total = torch.zeros((), device=self.device)
                for _ in range(iters):
                    x, y = self.data.get_batch(split, batch_size, generator)
                    with self.autocast():
                        logits = self.model(x.to(self.device))
                    total += lm_loss(logits, y.to(self.device))
                result[f"{split}_loss"] = total.item() / iters
        finally:
            self.model.train(was_training)
        self.evaluations.append(result)
        self.trigger("on_eval")
        return result

    # -- checkpoints --------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Everything needed to continue this run exactly: model, optimizer, counters, history, RNGs."""
        self._flush_losses()
        model_config = getattr(self.model, "config", None)
        return {
            "model": self.model.state_dict(),
            "model_config": model_config.to_json() if hasattr(model_config, "to_json") else None,
            "optimizer": self.optimizer.state_dict(),
            "trainer_config": _plain(dataclasses.asdict(self.config)),
            "iter_num": self.iter_num,
            "losses": list(self.losses),
            "evaluations": _plain(self.evaluations),
            "train_time": self.train_time,
            "timed_iters": self._timed_iters,
            "rng": rng_states({"data": self.data_generator}),
            "world_size": self.world_size,
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore a :meth:`state_dict` into this trainer (model, optimizer, counters, RNGs)."""
        stored = state.get("model_config")
        model_config = getattr(self.model, "config", None)
        if stored is not None and hasattr(model_config, "to_json") and stored != model_config.to_json():
            import json

            old, new = json.loads(stored), json.loads(model_config.to_json())
            diff = ", ".join(
                f"{k} {old.get(k, '(absent)')!r} in the checkpoint vs {new.get(k, '(absent)')!r} here"
                for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)
            )
            raise TrainingStateError(f"the checkpoint was trained with a different model config: {diff}")
        try:
            self.model.load_state_dict(state["model"])
        except RuntimeError as err:
            raise TrainingStateError(f"checkpoint weights do not fit the model: {err}") from None
        self.optimizer.load_state_dict(state["optimizer"])
        self.iter_num = int(state["iter_num"])
        self.losses = list(state["losses"])
        self.evaluations = list(state["evaluations"])
        self.train_time = float(state["train_time"])
        self._timed_iters = int(state["timed_iters"])
        self._pending = 0
        restore_rng_states(state["rng"], {"data": self.data_generator})

    def save_checkpoint(self, path: str | os.PathLike | None = None, keep_previous: bool = False) -> Path:
        """Write the run's state to ``path`` (default ``config.checkpoint_path``) atomically.

        ``keep_previous`` keeps the file it replaces as ``<name>.previous.pt`` (the loop in
        :meth:`train` does, so a divergence can fall back to it). A full disk raises
        :class:`~mingpt_lite.training_state.DiskFullError` and leaves the earlier file intact.
        With several processes only rank 0 writes; the others wait for it.
        """
        path = Path(path or self.config.checkpoint_path or "")
        if not str(path):
            raise ValueError("no checkpoint path: pass one or set TrainerConfig.checkpoint_path")
        state = self.state_dict()
        if self.rank == 0:
            atomic_save(state, path, keep_previous=keep_previous)
        if self.world_size > 1:
            import torch.distributed as dist

            dist.barrier()
        self.last_checkpoint = (self.iter_num, str(path))
        self.trigger("on_checkpoint")
        return path

    def _save_run_checkpoint(self) -> None:
        """A save of the loop: to ``config.checkpoint_path``, keeping the previous one."""
        path = str(self.config.checkpoint_path)
        self.save_checkpoint(path, keep_previous=True)
        self._saved = [entry for entry in self._saved if entry[1] == path][-1:] + [(self.iter_num, path)]

    def load_checkpoint(self, path: str | os.PathLike) -> "Trainer":
        """Continue from a checkpoint written by :meth:`save_checkpoint`; returns self."""
        state = load_state(path, map_location="cpu")
        self.load_state_dict(state)
        self.last_checkpoint = (self.iter_num, str(path))
        self._saved = [self.last_checkpoint]
        return self

    @classmethod
    def resume(cls, path: str | os.PathLike, model: torch.nn.Module, data, config: TrainerConfig | None = None) -> "Trainer":
        """A trainer continuing the run saved at ``path``: ``config`` defaults to the saved one."""
        state = load_state(path, map_location="cpu")
        if config is None:
            saved = dict(state["trainer_config"])
            saved["betas"] = tuple(saved["betas"])
            config = TrainerConfig(**saved)
        trainer = cls(model, data, config)
        trainer.load_state_dict(state)
        trainer.last_checkpoint = (trainer.iter_num, str(path))
        trainer._saved = [trainer.last_checkpoint]
        trainer.saved_config = dict(state["trainer_config"])
        return trainer

    def config_changes(self) -> list[tuple[str, object, object]]:
        """After :meth:`resume`: ``(field, saved value, value now)`` for each setting that changed.

        Settings that only say where or how fast to run (device, compile, progress, paths)
        and ``max_iters`` (continuing further is what resuming is for) are left out.
        """
        saved = getattr(self, "saved_config", None)
        if saved is None:
            return []
        quiet = {"max_iters", "device", "compile", "fused_adamw", "progress", "checkpoint_path"}
        now = _plain(dataclasses.asdict(self.config))
        return [
            (name, saved[name], now[name]) for name in now
            if name not in quiet and name in saved and saved[name] != now[name]
        ]


# -- helpers ---------------------------------------------------------------------------------------


def _process_group() -> tuple[int, int]:
    """(rank, world_size) of this process; (0, 1) when torch.distributed is not in use."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _plain(value):
    """``value`` with numbers as plain Python numbers, so ``torch.load(weights_only=True)`` reads it back."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    raise TypeError(
        f"cannot store {type(value).__name__} in a checkpoint; keep numbers, strings, "
        f"lists and dicts in trainer.evaluations"
    )


class _NoBar:
    def update(self, n=1):
        pass

    def set_postfix(self, **kwargs):
        pass

    def close(self):
        pass


def _progress_bar(trainer: Trainer, end: int):
    if not trainer.config.progress or trainer.rank != 0:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=end, initial=trainer.iter_num, desc="training", unit="it", mininterval=0.5)


__all__ = ["EVENTS", "DivergenceError", "NonFiniteLossError", "Trainer", "TrainerConfig", "learning_rate_at"]
