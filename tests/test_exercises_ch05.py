"""Chapter 05's checkers: the package's references pass, plausible wrong answers fail with their hint."""

from __future__ import annotations

import math

import pytest

from mingpt_lite.exercises import check
from mingpt_lite.exercises.ch05 import EVENT_RUN, event_counts
from mingpt_lite.trainer import EVENTS, learning_rate_at

pytestmark = pytest.mark.usefixtures("one_thread")


# --- 5.1: the learning-rate schedule


def _schedule(warmup_from_zero=False, decay_from_zero=False, to_zero=False, full_period=False, no_clamp=False):
    """A warmup + cosine schedule with one mistake switched on."""
    def my_lr(config, it):
        lr, warm, end, floor = config.learning_rate, config.warmup_iters, config.max_iters, config.min_lr
        if it < warm:
            return lr * (it if warmup_from_zero else it + 1) / warm
        if config.lr_schedule == "constant":
            return lr
        start = 0 if decay_from_zero else warm
        progress = (it - start) / max(1, end - start)
        if not no_clamp:
            progress = min(1.0, progress)
        low = 0.0 if to_zero else floor
        turn = 2 * math.pi if full_period else math.pi
        return low + 0.5 * (1 + math.cos(turn * progress)) * (lr - low)
    return my_lr


def test_the_reference_schedule_passes():
    assert check("5.1", learning_rate_at, quiet=True)
    assert check("5.1", _schedule(), quiet=True)


@pytest.mark.parametrize("attempt, hint", [
    (_schedule(warmup_from_zero=True), "Warmup is off by one"),
    (_schedule(decay_from_zero=True), "decays from step"),
    (_schedule(to_zero=True), "yours reaches 0"),
    (_schedule(full_period=True), "*half* a cosine"),
    (_schedule(no_clamp=True), "past max_iters"),
    (lambda config, it: config.learning_rate, "during warmup"),
    (lambda config, it: "0.001", "must return a number"),
])
def test_wrong_schedules_get_their_hint(attempt, hint):
    result = check("5.1", attempt, quiet=True)
    assert not result and hint in result.message, result.message


# --- 5.2: an early-stopping callback


def _stopper(read="loss", compare=lambda loss, thr: loss < thr, delay=0, action="stop"):
    """stop_below(threshold) with one mistake switched on."""
    def stop_below(threshold):
        pending = []

        def callback(trainer):
            loss = trainer.loss.item() if read == "loss" else trainer.losses[-1]
            if pending:
                trainer.stop()
            if compare(loss, threshold):
                if action == "raise":
                    raise RuntimeError("loss is low enough")
                if delay:
                    pending.append(True)
                else:
                    trainer.stop()
        return callback
    return stop_below


def test_the_reference_callback_passes():
    assert check("5.2", _stopper(), quiet=True)


@pytest.mark.parametrize("attempt, hint", [
    (_stopper(read="losses"), "IndexError"),
    (lambda thr: (lambda t: t.losses and t.losses[-1] < thr and t.stop()), "steps late"),
    (_stopper(delay=1), "one step late"),
    (_stopper(action="raise"), "raising aborts train()"),
    (lambda thr: (lambda t: t.loss.item() < thr), "never stopped"),
    (_stopper(compare=lambda loss, thr: loss < thr + 0.3), "is not below"),
    (lambda thr: None, "must return a function"),
])
def test_wrong_callbacks_get_their_hint(attempt, hint):
    result = check("5.2", attempt, quiet=True)
    assert not result and hint in result.message, result.message


# --- 5.3: how often each event fires


def test_the_true_counts_pass_and_follow_the_loop():
    counts = event_counts(**EVENT_RUN)
    assert check("5.3", counts, quiet=True)
    steps = EVENT_RUN["max_iters"]
    assert counts["on_batch_end"] == counts["on_after_backward"] == steps
    assert counts["on_train_start"] == counts["on_train_end"] == 1
    assert counts["on_eval"] == steps // EVENT_RUN["eval_interval"]                 # 10, 20: not at the end
    assert counts["on_log"] == steps // EVENT_RUN["log_interval"] + 1              # 10, 20 and the last step


@pytest.mark.parametrize("change, hint", [
    (dict(on_log=2), "also when train() reaches its last step"),
    (dict(on_eval=3), "the end of the run does not add one"),
    (dict(on_batch_end=24), "once per step"),
    (dict(on_checkpoint=2), "final one"),
])
def test_wrong_predictions_get_their_hint(change, hint):
    prediction = {**event_counts(**EVENT_RUN), **change}
    result = check("5.3", prediction, quiet=True)
    assert not result and hint in result.message, result.message


def test_a_prediction_must_name_every_event():
    result = check("5.3", {"on_batch_end": 25}, quiet=True)
    assert not result and "missing" in result.message
    result = check("5.3", {**dict.fromkeys(EVENTS, 1), "on_step": 1}, quiet=True)
    assert not result and "unknown event names" in result.message
