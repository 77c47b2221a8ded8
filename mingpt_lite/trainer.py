"""The training loop of chapter 05, as a class that holds everything a run is made of.

The notes: "Training process has to put everything together. Make sense to build a trainer
class to bundle all relevant states and functions together." One step is minGPT's: a batch,
forward, loss, backward, clip, optimizer step. Batches come from the data's ``get_batch`` with
the trainer's own seeded generator; the learning rate from a :class:`~mingpt_lite.schedule.Schedule`.
On a GPU nothing in the step waits for the device: each step's loss is written into a small
buffer *on* the device, read back once per ``log_interval`` (a read-back waits for all queued work).

Everything else is a named :class:`~mingpt_lite.callbacks.Callback`, installed from the config:
:class:`~mingpt_lite.callbacks.DivergenceGuard`, :class:`~mingpt_lite.callbacks.Checkpointing`
(when ``checkpoint_path`` is set), :class:`~mingpt_lite.callbacks.GracefulInterrupt` and
:class:`~mingpt_lite.callbacks.ProgressBar` (when ``progress``). Code outside hooks into the
named :data:`EVENTS` with ``add_callback`` (minGPT's way), or installs a Callback object.

The order of events in :meth:`Trainer.train` (built-in callbacks first, then the user's):

1. ``on_train_start``: stale temporary files are removed, the starting point saved
   (``checkpoint_start``), the signal handlers installed, the bar opened.
2. every step: batch, forward, loss, backward, ``on_after_backward``, clip, learning rate,
   optimizer step, ``on_batch_end`` (``iter_num`` is still the step's index), ``iter_num += 1``.
3. at a read-back point (every ``log_interval`` steps, an evaluation or checkpoint due, the last
   step, or a stop): the losses come back from the device and go to ``on_losses``, where the
   divergence guard raises, *before* anything below runs, so a NaN is never saved; then ``on_log``;
   :meth:`~Trainer.evaluate` and ``on_eval``; ``on_sync`` (the periodic save, ``on_checkpoint``).
4. after the last step: ``on_train_end``: the final save, then, if a signal stopped the run,
   :class:`~mingpt_lite.callbacks.TrainingInterrupted` is raised (the user's ``on_train_end`` does
   not fire when ``train()`` raises).
5. always, also when ``train()`` raises: ``close`` (bar closed, signal handlers restored).
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ClassVar

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from .callbacks import (EVENTS, Callback, Checkpointing, DivergenceError, DivergenceGuard, EventHooks,
                        GracefulInterrupt, LossBuffer, NonFiniteLossError, ProgressBar, TrainingInterrupted,
                        changed_settings, restore_run_state, run_state)
from .checks import check_token_ids
from .config import TrainerConfig
from .device import pick_device
from .loss import lm_loss
from .optim import configure_adamw
from .runstate import atomic_save, load_state
from .schedule import Schedule, learning_rate_at


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device``: bf16, or None for plain fp32.

    ``"auto"`` is bf16 only on a CUDA GPU that has bf16 (not a T4 or V100), else fp32.
    """
    if precision == "auto":
        precision = "bf16" if device.type == "cuda" and torch.cuda.is_bf16_supported() else "fp32"
    return torch.bfloat16 if precision == "bf16" else None


class Trainer(EventHooks):
    """Trains ``model`` on ``data`` under ``config`` and keeps the whole state of the run.

    ``data`` has ``get_batch(split, batch_size, generator) -> (x, y)`` and ``splits`` (the first
    is the training split); its ``vocab_size`` and ``block_size``, if any, are checked against the
    model. ``schedule`` replaces the config's :class:`~mingpt_lite.schedule.Schedule`, ``optimizer``
    the config's AdamW (e.g. Muon, chapter 13); ``callbacks`` are
    :class:`~mingpt_lite.callbacks.Callback` objects installed after the built-in ones.

    State, all readable by callbacks and chapters: ``model``, ``optimizer``, ``schedule``,
    ``iter_num`` (steps done), ``loss`` (last step's loss, a tensor), ``losses`` (every step's
    loss, filled in at each read-back), ``evaluations`` (e.g. ``{"iter": 500, "test_loss": ...}``),
    ``train_time`` (seconds in training steps), ``last_checkpoint`` ((iteration, path) of the last
    save), ``interrupted_by`` (the signal that stopped the last ``train()``, or None).

    When ``torch.distributed`` is initialised (see :mod:`mingpt_lite.distributed`), the model is
    wrapped in DistributedDataParallel and each process takes its own slice of the global batch.
    """

    def __init__(self, model: torch.nn.Module, data, config: TrainerConfig | None = None, *,
                 schedule: Schedule | None = None, optimizer: torch.optim.Optimizer | None = None,
                 callbacks: tuple[Callback, ...] = ()):
        self.config = config = config if config is not None else TrainerConfig()
        if not isinstance(config, TrainerConfig):
            raise TypeError(f"config must be a TrainerConfig, got {type(config).__name__}")
        if not hasattr(data, "get_batch"):
            raise TypeError(f"data must have a get_batch(split, batch_size, generator) method, "
                            f"got {type(data).__name__}")
        self.data, self.splits = data, tuple(getattr(data, "splits", ("train",)))
        self.device = pick_device(config.device)
        if self.device.type == "cuda" and self.device.index is None:  # the GPU torchrun gave this process
            self.device = torch.device("cuda", torch.cuda.current_device())
        self.rank, self.world_size = (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)
        if config.batch_size % self.world_size:
            raise ValueError(f"batch_size {config.batch_size} must divide evenly over {self.world_size} processes")
        self.model = model.to(self.device)
        self._check_data_fits_model()
        fused = config.fused_adamw if config.fused_adamw is not None else self.device.type in ("cpu", "cuda")
        self.optimizer = optimizer if optimizer is not None else configure_adamw(
            self.model, config.learning_rate, config.weight_decay, config.betas, config.decay_rule, fused=fused)
        self.schedule = schedule if schedule is not None else Schedule.from_config(config)
        self.dtype = autocast_dtype(config.precision, self.device)
        # Batches: one generator on the device, seeded alike in every process (each keeps its slice
        # of the same global batch). Dropout: torch's global generators, seeded per process.
        self.data_generator = torch.Generator(device=self.device).manual_seed(config.seed)
        torch.manual_seed(config.seed + self.rank)
        # The module the step calls: compiled, then wrapped for DDP. Evaluation and saves use self.model.
        self.train_model = torch.compile(self.model) if config.compile else self.model
        if self.world_size > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.train_model = DistributedDataParallel(self.train_model, device_ids=ids)

        self.iter_num, self.end_iter, self.loss, self.iter_dt = 0, config.max_iters, None, 0.0
        self.losses: list[float] = []
        self.evaluations: list[dict] = []
        self.train_time, self._timed_iters = 0.0, 0
        self.last_checkpoint: tuple[int, str] | None = None
        self.saved_config: dict | None = None  # the config a resumed run was saved with
        self.saved_device: str | None = None
        self.stop_requested, self.interrupted_by = False, None
        self.buffer = LossBuffer(config.log_interval, self.device, self.world_size, bool(config.grad_clip))
        self.callbacks: dict[str, list[Callable]] = {event: [] for event in EVENTS}
        self.features: list[Callback] = []
        self.checkpoints = (Checkpointing(config.checkpoint_path, config.checkpoint_interval, config.checkpoint_start)
                            if config.checkpoint_path else None)
        progress = ProgressBar() if config.progress and self.rank == 0 else None
        for feature in (DivergenceGuard(config.divergence_factor, self.checkpoints), self.checkpoints,
                        GracefulInterrupt(), progress, *callbacks):
            if feature is not None:
                self.install(feature)

    def _check_data_fits_model(self) -> None:
        """Check the data's vocabulary, length and token ids against the model, once, before training.

        On CUDA the model skips its per-call token range check while training (it would wait for
        the GPU every step), so a bad token id must be caught here instead.
        """
        mc = getattr(self.model, "config", None)
        if mc is None:
            return
        vocab, block = getattr(self.data, "vocab_size", None), getattr(self.data, "block_size", None)
        if vocab is not None and vocab > mc.vocab_size:
            raise ValueError(f"the data has {vocab} token ids but the model's vocab_size is {mc.vocab_size}; "
                             f"build the model with vocab_size >= {vocab}")
        if block is not None and block > mc.block_size:
            raise ValueError(f"the data's sequences are {block} tokens but the model's block_size is {mc.block_size}")
        probe = torch.Generator(device=self.device).manual_seed(self.config.seed + 7919)
        x, y = self.data.get_batch(self.splits[0], min(self.config.batch_size, 64), probe)
        check_token_ids(x, mc)
        high, low = int(y.max()), int(y.min())
        if high >= mc.vocab_size or low < -1:
            raise ValueError(f"targets hold token ids from {low} to {high}; they must lie in [0, {mc.vocab_size}) "
                             f"(the model's vocab_size), or be -1 for positions without a loss")

    def stop(self) -> None:
        """Ask :meth:`train` to stop after the current step (e.g. from a callback)."""
        self.stop_requested = True

    # -- the loop ----------------------------------------------------------------------------------
    def train(self, max_iters: int | None = None) -> "Trainer":
        """Run optimizer steps until ``iter_num`` reaches ``max_iters`` (default ``config.max_iters``).

        Can be called again to continue. SIGINT (Ctrl-C), SIGTERM or SIGHUP stop at the end of
        the current step, save if ``checkpoint_path`` is set, and raise
        :class:`~mingpt_lite.callbacks.TrainingInterrupted` (a KeyboardInterrupt). A diverged run
        raises :class:`~mingpt_lite.callbacks.DivergenceError`.
        """
        self.end_iter = end = self.config.max_iters if max_iters is None else max_iters
        if end < self.iter_num:
            raise ValueError(f"max_iters={end} is before the current iteration {self.iter_num}")
        self.stop_requested = False
        self.train_model.train()
        try:
            self.trigger("on_train_start")
            started = last = time.perf_counter()
            while self.iter_num < end and not self.stop_requested:
                self._step()  # batch, forward, loss, backward, clip, learning rate, optimizer step
                now = time.perf_counter()
                self.iter_dt, last = now - last, now
                self.trigger("on_batch_end")  # iter_num is still the index of this step
                self.iter_num += 1
                n, log_every, eval_every = self.iter_num, self.config.log_interval, self.config.eval_interval
                logging = n % log_every == 0 or self.buffer.pending == log_every or n == end or self.stop_requested
                evaluating = eval_every and n % eval_every == 0
                if not (logging or evaluating or any(feature.wants_sync(self) for feature in self.features)):
                    continue
                self.read_losses()  # the one device sync; the divergence guard raises here
                self.train_time += time.perf_counter() - started  # the read-back waited for the device
                self._timed_iters = self.iter_num
                if logging:
                    self.trigger("on_log")
                if evaluating:
                    self.evaluate()
                self.trigger("on_sync")  # the periodic checkpoint
                started = last = time.perf_counter()
            self.trigger("on_train_end")  # the final checkpoint; a signal's stop raises here
        finally:
            for feature in self.features:
                feature.close(self)
        return self

    def _step(self) -> None:
        x, y = self.get_batch(self.splits[0])
        with self.autocast():
            logits = self.train_model(x)
        loss = lm_loss(logits, y)
        loss.backward()
        self.trigger("on_after_backward")
        norm = None
        if self.config.grad_clip:  # clipping computes the norm anyway; it stays on the device
            norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        lr = self.schedule(self.iter_num)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.loss = loss.detach()
        self.buffer.add(self.loss, norm)

    def read_losses(self) -> None:
        """Bring the buffered losses to ``losses`` (one device sync), through the ``on_losses`` checks."""
        if self.buffer.pending:
            losses, norms = self.buffer.read()
            self.trigger("on_losses", losses, norms)
            self.losses.extend(losses)

    def lr_at(self, it: int) -> float:
        """Learning rate of step ``it``: ``self.schedule(it)``."""
        return self.schedule(it)

    def autocast(self):
        """The autocast context for forward passes (see :func:`autocast_dtype`)."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)

    def get_batch(self, split: str, batch_size: int | None = None, generator=None):
        """This process's share of a global batch of ``split``: (x, y) on the training device."""
        batch_size = self.config.batch_size if batch_size is None else batch_size
        x, y = self.data.get_batch(split, batch_size, self.data_generator if generator is None else generator)
        if self.world_size > 1:  # every process drew the same global batch; keep our slice
            share = batch_size // self.world_size
            x, y = x[self.rank * share : (self.rank + 1) * share], y[self.rank * share : (self.rank + 1) * share]
        return x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)

    @property
    def ms_per_iter(self) -> float:
        """Average milliseconds per training step so far (evaluation and checkpoints excluded)."""
        return 1000.0 * self.train_time / max(1, self._timed_iters)

    @torch.no_grad()
    def evaluate(self, splits=None, iters: int | None = None) -> dict:
        """Mean loss on ``iters`` batches of each split (default: all of the data's splits).

        The batches are the same at every evaluation (a generator seeded from ``config.seed``
        per split). Appends ``{"iter": ..., "<split>_loss": ...}`` to ``evaluations``, fires ``on_eval``.
        """
        config, iters = self.config, self.config.eval_iters if iters is None else iters
        was_training = self.model.training
        self.model.eval()
        result: dict = {"iter": self.iter_num}
        try:
            for k, split in enumerate(self.splits if splits is None else tuple(splits)):
                generator = torch.Generator(device=self.device).manual_seed(config.seed + 1000 + k)
                total = torch.zeros((), device=self.device)
                for _ in range(iters):
                    x, y = self.data.get_batch(split, config.eval_batch_size or config.batch_size, generator)
                    with self.autocast():
                        total += lm_loss(self.model(x.to(self.device)), y.to(self.device))
                result[f"{split}_loss"] = total.item() / iters
        finally:
            self.model.train(was_training)
        self.evaluations.append(result)
        self.trigger("on_eval")
        return result

    # -- the run's state (what is saved is listed in mingpt_lite.callbacks.run_state) -----------------
    def state_dict(self) -> dict:
        """Everything needed to continue this run exactly: model, optimizer, counters, history, RNGs."""
        self.read_losses()
        return run_state(self)

    def load_state_dict(self, state: dict) -> None:
        """Restore a :meth:`state_dict` into this trainer (model, optimizer, counters, RNGs)."""
        restore_run_state(self, state)
        self.buffer.pending = 0

    def save_checkpoint(self, path: str | os.PathLike | None = None, keep_previous: bool = False) -> Path:
        """Write the run's state to ``path`` (default ``config.checkpoint_path``) atomically.

        ``keep_previous`` keeps the file it replaces as ``<name>.previous.pt``. A full disk raises
        :class:`~mingpt_lite.runstate.DiskFullError` and leaves the earlier file intact. With
        several processes only rank 0 writes; the others wait for it.
        """
        path = Path(path or self.config.checkpoint_path or "")
        if not str(path):
            raise ValueError("no checkpoint path: pass one or set TrainerConfig.checkpoint_path")
        state = self.state_dict()
        if self.rank == 0:
            atomic_save(state, path, keep_previous=keep_previous)
        if self.world_size > 1:
            dist.barrier()
        self.last_checkpoint = (self.iter_num, str(path))
        self.trigger("on_checkpoint")
        return path

    def load_checkpoint(self, path: str | os.PathLike) -> "Trainer":
        """Continue from a checkpoint written by :meth:`save_checkpoint`; returns self."""
        self.load_state_dict(load_state(path, map_location="cpu"))
        self._loaded_from(path)
        return self

    @classmethod
    def resume(cls, path: str | os.PathLike, model: torch.nn.Module, data, config: TrainerConfig | None = None,
               **options) -> "Trainer":
        """A trainer continuing the run saved at ``path``: ``config`` defaults to the saved one."""
        state = load_state(path, map_location="cpu")
        if config is None:
            config = TrainerConfig(**dict(state["trainer_config"], betas=tuple(state["trainer_config"]["betas"])))
        trainer = cls(model, data, config, **options)
        trainer.load_state_dict(state)
        trainer._loaded_from(path)
        trainer.saved_config = dict(state["trainer_config"])
        return trainer

    def _loaded_from(self, path) -> None:
        # the file this run continues from is the checkpoint a divergence may fall back to
        self.last_checkpoint = (self.iter_num, str(path))
        if self.checkpoints is not None:
            self.checkpoints.saves = [self.last_checkpoint]

    def config_changes(self) -> list[tuple[str, object, object]]:
        """After :meth:`resume`: ``(field, saved value, value now)`` for each setting that changed
        (see :func:`~mingpt_lite.callbacks.changed_settings`)."""
        return changed_settings(self)


__all__ = [
    "EVENTS", "DivergenceError", "LossBuffer", "NonFiniteLossError", "Trainer", "TrainerConfig",
    "TrainingInterrupted", "autocast_dtype", "learning_rate_at",
]
