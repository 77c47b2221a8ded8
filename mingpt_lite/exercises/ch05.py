"""Checkers for chapter 05 (the Trainer and its callbacks).

- 5.1: ``my_lr(config, it)``, the learning rate of step ``it`` under a ``TrainerConfig``'s
  warmup + cosine (or constant) schedule.
- 5.2: ``stop_below(threshold)``, which returns a callback that, added on ``on_batch_end``,
  stops training right after the first step whose loss is below ``threshold``.
- 5.3: a prediction, as a dict, of how many times each event of :data:`~mingpt_lite.trainer.EVENTS`
  fires in one short run.

References: :func:`mingpt_lite.trainer.learning_rate_at` for 5.1, and the
:class:`~mingpt_lite.trainer.Trainer` itself, run on a tiny model, for 5.2 and 5.3; no copy of
a solution lives here.
"""

from __future__ import annotations

import functools
import math
import tempfile
from pathlib import Path

import torch

from ..config import GPTConfig
from ..data import SortTask
from ..model import GPT
from ..trainer import EVENTS, Trainer, TrainerConfig, learning_rate_at
from . import Hint, checker

# --- 5.1: the learning-rate schedule ---------------------------------------------------------

# The schedules the attempt is compared on: warmup + cosine with and without a floor, the
# constant schedule with warmup, and cosine without warmup.
_SCHEDULES = (
    TrainerConfig(max_iters=800, learning_rate=2e-3, lr_schedule="cosine", warmup_iters=50),
    TrainerConfig(max_iters=100, learning_rate=1e-3, lr_schedule="cosine", warmup_iters=10, min_lr=1e-4),
    TrainerConfig(max_iters=300, learning_rate=5e-4, lr_schedule="constant", warmup_iters=20),
    TrainerConfig(max_iters=50, learning_rate=1e-2, lr_schedule="cosine", warmup_iters=0, min_lr=1e-3),
)


def _describe(config: TrainerConfig) -> str:
    return (f"lr_schedule={config.lr_schedule!r}, learning_rate={config.learning_rate:g}, "
            f"warmup_iters={config.warmup_iters}, max_iters={config.max_iters}, min_lr={config.min_lr:g}")


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-12)


def _check_schedule(attempt, config: TrainerConfig) -> None:
    lr, warm, end, floor = config.learning_rate, config.warmup_iters, config.max_iters, config.min_lr
    its = range(0, end + 20)  # 20 steps past max_iters too
    got = {}
    for it in its:
        value = attempt(config, it)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            if isinstance(value, torch.Tensor) and value.numel() == 1:
                value = value.item()
            else:
                raise Hint(f"my_lr must return a number (a float), got {type(value).__name__} at step {it}")
        got[it] = float(value)
    want = {it: learning_rate_at(config, it) for it in its}
    where = f"(with {_describe(config)})"
    if all(_close(got[it], want[it]) for it in its):
        return
    if warm:
        if _close(got[0], 0.0):
            raise Hint(f"step 0 gets learning rate 0 {where}: a wasted step. Warmup is off by one: step it gets "
                       "learning_rate * (it + 1) / warmup_iters, so the last warmup step, warmup_iters - 1, "
                       "reaches the full rate")
        if not all(_close(got[it], want[it]) for it in range(warm)):
            bad = next(it for it in range(warm) if not _close(got[it], want[it]))
            raise Hint(f"during warmup {where}, step {bad} should get {want[bad]:.6g}, yours {got[bad]:.6g}: the rate "
                       "rises linearly, learning_rate * (it + 1) / warmup_iters")
    if config.lr_schedule == "constant":
        bad = next(it for it in its if not _close(got[it], want[it]))
        raise Hint(f"with lr_schedule='constant' the rate stays at learning_rate after warmup {where}; "
                   f"at step {bad} yours is {got[bad]:.6g}")
    if not _close(got[warm], lr):
        raise Hint(f"at step {warm}, the first step after warmup, the rate should still be the full learning_rate "
                   f"{lr:g}, yours is {got[warm]:.6g} {where}: the cosine decays from step {warm}, not from step 0; "
                   "measure its progress as (it - warmup_iters) / (max_iters - warmup_iters)")
    if not _close(got[end], floor):
        if floor > 0 and _close(got[end], 0.0):
            raise Hint(f"at max_iters the cosine should reach min_lr = {floor:g}, yours reaches 0 {where}: "
                       "decay between learning_rate and min_lr, min_lr + 0.5 * (1 + cos(pi * progress)) * (lr - min_lr)")
        if _close(got[end], lr):
            raise Hint(f"at max_iters your rate is back at learning_rate {where}: the schedule is *half* a cosine "
                       "period, cos(pi * progress) with progress from 0 to 1, not a full one")
        raise Hint(f"at step max_iters = {end} the rate should have reached min_lr = {floor:g}, yours is "
                   f"{got[end]:.6g} {where}")
    late = [it for it in its if it > end and not _close(got[it], want[it])]
    if late:
        raise Hint(f"past max_iters (step {late[0]}) the rate must stay at min_lr = {floor:g}, yours is "
                   f"{got[late[0]]:.6g} {where}: clamp the progress at 1, or a run that continues turns back up")
    bad = next(it for it in its if not _close(got[it], want[it]))
    raise Hint(f"at step {bad} {where} the rate should be {want[bad]:.6g}, yours is {got[bad]:.6g}")


@checker("5.1")
def check_lr_schedule(attempt) -> str:
    """``attempt(config, it) -> float`` must equal :func:`learning_rate_at` on several schedules."""
    if not callable(attempt):
        raise Hint("pass your function itself, my_lr, which takes (config, it) and returns a float")
    for config in _SCHEDULES:
        _check_schedule(attempt, config)
    return (f"your schedule equals learning_rate_at on {len(_SCHEDULES)} configurations "
            "(warmup + cosine with and without min_lr, constant with warmup, cosine without warmup), "
            "including 20 steps past max_iters")


# --- a tiny run, shared by 5.2 and 5.3 ------------------------------------------------------

_TASK = SortTask(length=6, num_digits=3)
_LOG_INTERVAL = 8  # 5.2: losses reach trainer.losses every 8 steps


def _tiny_trainer(**overrides) -> Trainer:
    """A 1-layer, 16-wide GPT on the sort task, on the CPU: a few milliseconds a step.
    (The Trainer seeds torch's global RNG; the checkers run it inside ``torch.random.fork_rng``.)"""
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=_TASK.vocab_size, block_size=_TASK.block_size, n_layer=1, n_head=2,
                          n_embd=16, dropout=0.0))
    settings = dict(max_iters=40, batch_size=16, learning_rate=1e-2, seed=0, device="cpu", progress=False,
                    log_interval=_LOG_INTERVAL)
    settings.update(overrides)
    return Trainer(model, _TASK, TrainerConfig(**settings))


# --- 5.2: an early-stopping callback ---------------------------------------------------------


def _pick_threshold(losses: list[float], log_interval: int) -> tuple[float, int]:
    """A threshold whose first crossing is a new running minimum at a step that is not the last
    of a logging block (so a callback that reads the stale ``trainer.losses`` stops late)."""
    for k in range(10, len(losses) - 2 * log_interval):
        if losses[k] < min(losses[:k]) and k % log_interval != log_interval - 1:
            return (losses[k] + min(losses[:k])) / 2, k
    raise RuntimeError("the reference run found no usable threshold")  # the checker's own set-up failed


@functools.lru_cache(maxsize=4)
def _reference_losses(threads: int) -> list[float]:
    """The tiny run's losses without any callback (cached: float rounding depends on the thread count)."""
    reference = _tiny_trainer()
    reference.train()
    return list(reference.losses)


@checker("5.2")
def check_stop_below(attempt) -> str:
    """``attempt(threshold)`` returns a callback; on ``on_batch_end`` it must stop the run right
    after the first step whose loss is below ``threshold``."""
    if not callable(attempt):
        raise Hint("pass your function stop_below itself: stop_below(threshold) returns a callback")
    with torch.random.fork_rng(devices=[]):  # the Trainer seeds the global RNG; leave the reader's alone
        return _check_stop_below(attempt)


def _check_stop_below(attempt) -> str:
    reference_losses = _reference_losses(torch.get_num_threads())
    threshold, first = _pick_threshold(reference_losses, _LOG_INTERVAL)

    callback = attempt(threshold)
    if not callable(callback):
        raise Hint(f"stop_below(threshold) must return a function of the trainer, got {type(callback).__name__}")
    trainer = _tiny_trainer()
    trainer.add_callback("on_batch_end", callback)
    ended = []
    trainer.add_callback("on_train_end", lambda t: ended.append(t.iter_num))
    try:
        trainer.train()
    except IndexError as err:
        raise Hint(f"your callback raised IndexError ({err}): trainer.losses is empty at first, and it is filled "
                   "only every log_interval steps; in on_batch_end read trainer.loss, this step's loss") from None
    except Exception as err:  # noqa: BLE001 - the reader's callback; any exception is the mistake
        raise Hint(f"your callback raised {type(err).__name__}: raising aborts train() (no on_train_end, no final "
                   "checkpoint); call trainer.stop() instead, and train() returns after the current step") from None
    if trainer.losses != reference_losses[: len(trainer.losses)]:
        raise Hint("your callback changed the training itself (the losses differ from the same run without it); "
                   "a stopping callback should only read the trainer and call trainer.stop()")
    steps = trainer.iter_num
    expected = first + 1  # steps 0 .. first
    if steps == trainer.config.max_iters and expected < steps:
        raise Hint(f"the run never stopped: the loss first fell below {threshold:.4f} at step {first}, yet all "
                   f"{steps} steps ran. Call trainer.stop() (returning True or False from a callback does nothing)")
    if steps < expected:
        raise Hint(f"you stopped after step {steps - 1}, whose loss {reference_losses[steps - 1]:.4f} is not below "
                   f"{threshold:.4f}; the first such step is {first}. Compare this step's loss, trainer.loss, "
                   "strictly below the threshold")
    if steps > expected:
        late = steps - expected
        if late == 1:
            raise Hint(f"one step late: you stopped after step {steps - 1}, but step {first} was the first below "
                       f"{threshold:.4f}. In on_batch_end, trainer.iter_num is the index of the step just done and "
                       "trainer.loss its loss; call trainer.stop() then, and train() returns after this step")
        raise Hint(f"{late} steps late: step {first} was the first below {threshold:.4f}, you stopped after step "
                   f"{steps - 1}. trainer.losses is filled only every log_interval "
                   f"({trainer.config.log_interval}) steps, so on_batch_end sees old losses there; read trainer.loss")
    if ended != [steps]:
        raise Hint("train() stopped without firing on_train_end; use trainer.stop(), not an exception")
    return (f"stopped right after step {first}, the first whose loss fell below {threshold:.4f} "
            f"({expected} of {trainer.config.max_iters} steps run), and train() ended normally")


# --- 5.3: how often each event fires -------------------------------------------------------

# The run the prediction is about (the exercise's text states the same settings).
EVENT_RUN = dict(max_iters=25, log_interval=10, eval_interval=10, checkpoint_interval=10)

_RULES = {
    "on_train_start": "it fires once per call of train(), before the first step",
    "on_train_end": "it fires once per call of train() that finishes (here: the one call)",
    "on_after_backward": "it fires once per step, between backward() and the optimizer step",
    "on_batch_end": "it fires once per step, after the optimizer step",
    "on_log": "it fires at every multiple of log_interval, and also when train() reaches its last step "
              "(the losses are read back then too)",
    "on_eval": "it fires after each evaluation, and evaluations happen only at multiples of eval_interval: "
               "the end of the run does not add one",
    "on_checkpoint": "it fires after every checkpoint the run writes: one at each multiple of checkpoint_interval, "
                     "and a final one when the run ends on a step that was not saved yet",
}


def event_counts(**run) -> dict[str, int]:
    """How many times each event fires in one ``train()`` of the tiny model under ``run`` settings."""
    return dict(_event_counts(tuple(sorted(run.items()))))


@functools.lru_cache(maxsize=8)
def _event_counts(run: tuple) -> tuple:
    run = dict(run)
    with tempfile.TemporaryDirectory(prefix="exercise-5.3-") as folder, torch.random.fork_rng(devices=[]):
        trainer = _tiny_trainer(checkpoint_path=str(Path(folder) / "run.pt"), **run)
        counts = dict.fromkeys(EVENTS, 0)
        for event in EVENTS:
            trainer.add_callback(event, lambda t, e=event: counts.__setitem__(e, counts[e] + 1))
        trainer.train()
    return tuple(counts.items())


@checker("5.3")
def check_event_counts(prediction) -> str:
    """``prediction`` maps each event name to the number of times it fires in the run
    ``TrainerConfig(max_iters=25, log_interval=10, eval_interval=10, checkpoint_interval=10,
    checkpoint_path=...)``, trained with one ``train()`` call."""
    if not isinstance(prediction, dict):
        raise Hint("give your prediction as a dict {event name: count}, e.g. {'on_batch_end': ..., ...}")
    missing = [event for event in EVENTS if event not in prediction]
    unknown = [key for key in prediction if key not in EVENTS]
    if unknown:
        raise Hint(f"unknown event names {unknown}; the events are {list(EVENTS)}")
    if missing:
        raise Hint(f"give a count for every event; missing: {missing}")
    actual = event_counts(**EVENT_RUN)
    wrong = [event for event in EVENTS if prediction[event] != actual[event]]
    if wrong:
        event = wrong[0]
        more = f" ({len(wrong) - 1} other count(s) wrong too)" if len(wrong) > 1 else ""
        raise Hint(f"{event}: you predicted {prediction[event]}; {_RULES[event]}{more}")
    return "every count is right: " + ", ".join(f"{event} {actual[event]}" for event in EVENTS)
