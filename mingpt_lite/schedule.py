"""The learning-rate schedule: an object the Trainer asks for the rate of each step.

:class:`Schedule` is chapter 05's schedule: a linear warmup, then a constant rate, half a
cosine or a straight line down to ``min_lr`` at ``max_iters``. Two things may change it
during a run, and both do so through the schedule, never by editing the Trainer's config:

* :meth:`Schedule.measure_progress_by` measures the way down by something other than steps,
  e.g. the share of a time budget spent (:class:`~mingpt_lite.callbacks.TimeBudget`);
* :meth:`Schedule.cool_down` lowers the peak rate linearly from a step on, e.g. once a sort
  model is nearly solved (:class:`~mingpt_lite.callbacks.SolveWatcher`).
"""

from __future__ import annotations

import math
from typing import Callable

from .config import LR_SCHEDULES


class Schedule:
    """The learning rate of step ``it`` (0-based): ``schedule(it)``.

    Warmup rises linearly, reaching ``learning_rate`` at step ``warmup_iters - 1``; the
    cosine schedule then falls along half a cosine to ``min_lr`` at ``max_iters``, the linear
    one along a straight line (for short runs, decaying linearly, to zero or near it, does at
    least as well as the cosine: Bergsma et al. 2025, https://arxiv.org/abs/2502.15938).
    """

    def __init__(self, learning_rate: float, kind: str = "constant", warmup_iters: int = 0,
                 max_iters: int = 0, min_lr: float = 0.0):
        if kind not in LR_SCHEDULES:
            raise ValueError(f"schedule kind must be one of {LR_SCHEDULES}, got {kind!r}")
        self.learning_rate, self.kind, self.min_lr = learning_rate, kind, min_lr
        self.warmup_iters, self.max_iters = warmup_iters, max_iters
        self.progress: Callable[[int], float] | None = None  # None: measured in steps
        self._cool: tuple[int, int, float, int] | None = None  # (start, length, floor, every)

    @classmethod
    def from_config(cls, config) -> "Schedule":
        """The schedule a :class:`~mingpt_lite.trainer.TrainerConfig` describes."""
        return cls(config.learning_rate, config.lr_schedule, config.warmup_iters, config.max_iters, config.min_lr)

    def measure_progress_by(self, progress: Callable[[int], float]) -> None:
        """Measure the way from the peak to ``min_lr`` by ``progress(it)`` in [0, 1] instead of steps."""
        if not callable(progress):
            raise TypeError(f"progress must be a function of the step, got {type(progress).__name__}")
        self.progress = progress

    def cool_down(self, start: int, length: int, floor: float, every: int = 1) -> None:
        """From step ``start`` on, lower the peak rate linearly to ``floor`` times itself over ``length`` steps.

        The peak changes in stairs of ``every`` steps counted from ``start`` (a callback that
        decides every ``every`` steps sets one rate for the steps up to its next call).
        """
        if start < 0 or length < 1 or every < 1 or not 0 <= floor <= 1:
            raise ValueError(f"cool_down needs start >= 0, length >= 1, every >= 1 and 0 <= floor <= 1, "
                             f"got start={start}, length={length}, every={every}, floor={floor}")
        self._cool = (start, length, floor, every)

    def peak_at(self, it: int) -> float:
        """The peak rate in force at step ``it``: ``learning_rate``, lowered by a :meth:`cool_down`."""
        if self._cool is None or it < self._cool[0]:
            return self.learning_rate
        start, length, floor, every = self._cool
        stair = it - (it - start) % every
        return self.learning_rate * (1 - (1 - floor) * min(1.0, (stair - start) / length))

    def __call__(self, it: int) -> float:
        lr = self.peak_at(it)
        if it < self.warmup_iters:
            return lr * (it + 1) / self.warmup_iters
        if self.kind == "constant":
            return lr
        if self.progress is not None:
            progress = min(1.0, self.progress(it))
        else:
            span = max(1, self.max_iters - self.warmup_iters)
            progress = min(1.0, (it - self.warmup_iters) / span)
        if self.kind == "linear":
            return lr + progress * (self.min_lr - lr)
        return self.min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (lr - self.min_lr)


def learning_rate_at(config, it: int) -> float:
    """The learning rate of step ``it`` under a :class:`~mingpt_lite.trainer.TrainerConfig`'s schedule."""
    return Schedule.from_config(config)(it)


__all__ = ["Schedule", "learning_rate_at"]
