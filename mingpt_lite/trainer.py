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
* checkpoints that resume exactly (see :mod:`mingpt_lite.training_state`), and a
  loss that turns NaN or infinite stops the run with a clear error instead of
  silently training garbage (the last good checkpoint is kept).
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
from .optim import RULES, configure_adamw
from .training_state import TrainingStateError, atomic_save, load_state, restore_rng_states, rng_states

EVENTS = (
    "on_train_start",  # before the first step of train()
    "on_after_backward",  # gradients are there, not yet clipped or applied
    "on_batch_end",  # after each optimizer step; trainer.iter_num is that step's index (from 0)
    "on_log",  # every log_interval steps, once the recent losses are in trainer.losses
    "on_eval",  # after each evaluation; trainer.evaluations[-1] holds its results
    "on_checkpoint",  # after a checkpoint was written
    "on_train_end",  # when train() finishes (not when it fails)
)
LR_SCHEDULES = ("constant", "cosine")
PRECISIONS = ("auto", "fp32", "bf16")


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite; the message names the iteration."""


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
        lr_schedule: ``"constant"`` or ``"cosine"`` (decay to ``min_lr`` at ``max_iters``).
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

    def __post_init__(self) -> None:
        for name in ("max_iters", "warmup_iters", "eval_interval", "checkpoint_interval"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"TrainerConfig.{name} must be a non-negative integer, got {value!r}")
        for name in ("batch_size", "eval_iters", "log_interval"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"TrainerConfig.{name} must be a positive integer, got {value!r}")
        if self.eval_batch_size is not None and self.eval_batch_size < 1:
            raise ValueError(f"eval_batch_size must be positive, got {self.eval_batch_size!r}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate!r}")
        if not 0 <= self.min_lr <= self.learning_rate:
            raise ValueError(f"min_lr must be in [0, learning_rate], got {self.min_lr!r}")
        self.betas = tuple(self.betas)
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.decay_rule not in RULES:
            raise ValueError(f"decay_rule must be one of {RULES}, got {self.decay_rule!r}")
        if self.grad_clip is not None and self.grad_clip < 0:
            raise ValueError(f"grad_clip must be positive (or None), got {self.grad_clip!r}")


def learning_rate_at(config: TrainerConfig, it: int) -> float:
    """The learning rate for step ``it`` (0-based) under ``config``'s schedule.

    Warmup rises linearly, reaching ``learning_rate`` at step ``warmup_iters - 1``;
    the cosine schedule then falls along half a cosine to ``min_lr`` at ``max_iters``.
    """
    lr = config.learning_rate
    if it < config.warmup_iters:
        return lr * (it + 1) / config.warmup_iters
    if config.lr_schedule == "constant":
        return lr
    span = max(1, config.max_iters - config.warmup_iters)
    progress = min(1.0, (it - config.warmup_iters) / span)
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
        self.stop_requested = False
        self._timed_iters = 0
        self._pending = 0  # steps whose losses are still only on the device
        self._loss_buffer = torch.zeros(config.log_interval, device=self.device)
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
        high = int(y.max())
        if high >= mc.vocab_size:
            raise ValueError(f"targets hold token id {high}, outside the model's vocab_size {mc.vocab_size}")

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
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), config.grad_clip)
        lr = self.lr_at(self.iter_num)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.loss = loss.detach()
        self._loss_buffer[self._pending] = self.loss  # stays on the device: no sync
        self._pending += 1

    def _flush_losses(self) -> None:
        """Bring the buffered losses to Python (one device sync) and check they are finite."""
        if not self._pending:
            return
        values = self._loss_buffer[: self._pending]
        if self.world_size > 1:  # the global batch's loss is the mean of the processes' losses
            import torch.distributed as dist

            values = values.clone()
            dist.all_reduce(values)
            values /= self.world_size
        values = values.tolist()
        first = len(self.losses)
        self._pending = 0
        for offset, value in enumerate(values):
            if not math.isfinite(value):
                self.losses.extend(values[:offset])
                raise NonFiniteLossError(self._non_finite_message(first + offset, value))
        self.losses.extend(values)

    def _non_finite_message(self, it: int, value: float) -> str:
        msg = f"the training loss became {value} at iteration {it}; training stopped there"
        if self.last_checkpoint is not None:
            at, path = self.last_checkpoint
            msg += f". The last good checkpoint (iteration {at}) is kept at {path}"
        else:
            msg += " (no checkpoint had been saved)"
        return msg + "; try a lower learning_rate, warmup, or gradient clipping"

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
        bar = _progress_bar(self, end)
        previous_handler = self._catch_interrupts()
        try:
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
                    self.save_checkpoint(config.checkpoint_path)
                started = last = time.perf_counter()
            if self._interrupted:
                if config.checkpoint_path:
                    self.save_checkpoint(config.checkpoint_path)
                raise KeyboardInterrupt(
                    f"training interrupted after iteration {self.iter_num}"
                    + (f"; saved to {config.checkpoint_path}" if config.checkpoint_path else "")
                )
            if config.checkpoint_path and (not self.last_checkpoint or self.last_checkpoint[0] != self.iter_num):
                self.save_checkpoint(config.checkpoint_path)
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
            raise TrainingStateError(
                f"the checkpoint was trained with a different model config:\n  checkpoint: {stored}\n"
                f"  this model: {model_config.to_json()}"
            )
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

    def save_checkpoint(self, path: str | os.PathLike | None = None) -> Path:
        """Write the run's state to ``path`` (default ``config.checkpoint_path``) atomically.

        With several processes only rank 0 writes; the others wait for it.
        """
        path = Path(path or self.config.checkpoint_path or "")
        if not str(path):
            raise ValueError("no checkpoint path: pass one or set TrainerConfig.checkpoint_path")
        state = self.state_dict()
        if self.rank == 0:
            atomic_save(state, path)
        if self.world_size > 1:
            import torch.distributed as dist

            dist.barrier()
        self.last_checkpoint = (self.iter_num, str(path))
        self.trigger("on_checkpoint")
        return path

    def load_checkpoint(self, path: str | os.PathLike) -> "Trainer":
        """Continue from a checkpoint written by :meth:`save_checkpoint`; returns self."""
        state = load_state(path, map_location="cpu")
        self.load_state_dict(state)
        self.last_checkpoint = (self.iter_num, str(path))
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
        return trainer


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


__all__ = ["EVENTS", "NonFiniteLossError", "Trainer", "TrainerConfig", "learning_rate_at"]
