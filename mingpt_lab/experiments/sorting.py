"""Chapter 8's experiment: steps until a sort task is stably solved, over tasks and seeds."""

from __future__ import annotations

import torch

from mingpt_lite.callbacks import SolveWatcher
from mingpt_lite.config import GPTConfig
from mingpt_lite.data import SortTask, sort_accuracy
from mingpt_lite.model import GPT
from mingpt_lite.trainer import Trainer, TrainerConfig

# Peak learning rate per model size (wider networks need a lower one).
PEAK_LR = {"gpt-nano": 5e-3, "gpt-micro": 2e-3, "gpt-mini": 1e-3}


def solve(model: str = "gpt-nano", length: int = 6, num_digits: int = 3, seed: int = 0, max_iters: int = 2000,
          boost: bool = True, peak_lr: float | None = None, eval_interval: int = 25, device: str = "cpu",
          return_model: bool = False) -> dict:
    """Train a fresh ``model`` on ``SortTask(length, num_digits)`` until it is stably solved, or ``max_iters``.

    Batch 64, no dropout, 50 warmup steps to ``peak_lr`` (default :data:`PEAK_LR`), a
    :class:`SolveWatcher` every ``eval_interval`` steps; ``seed`` seeds the weights and the
    batches; ``boost=False`` trains on plain uniform problems (no repeat-boosting rejection).
    Returns a JSON-ready record: ``solved_at`` (None if not solved), ``steps_run``,
    ``best_accuracy``, ``greedy_accuracy`` (real greedy generation after the run, on the whole
    test split when small, else on 2,000 fixed test problems), the accuracy history, seconds.
    With ``return_model``, returns ``(record, model)``.
    """
    if model not in PEAK_LR and peak_lr is None:
        raise ValueError(f"no default learning rate for {model!r}; pass peak_lr (known: {sorted(PEAK_LR)})")
    lr = PEAK_LR[model] if peak_lr is None else peak_lr
    task = SortTask(length=length, num_digits=num_digits, boost_probability=0.5 if boost else 0.0)
    torch.manual_seed(seed)
    net = GPT(GPTConfig.from_preset(model, vocab_size=num_digits, block_size=task.block_size, dropout=0.0))
    config = TrainerConfig(max_iters=max_iters, batch_size=64, learning_rate=lr, warmup_iters=50,
                           log_interval=eval_interval, seed=seed, progress=False, device=device,
                           divergence_factor=None)
    watcher = SolveWatcher(task, lr, device=device, seed=seed)
    trainer = Trainer(net, task, config, callbacks=(watcher,))
    trainer.train()
    check = watcher.all_test
    if check is None:
        check = task.fixed_problems("test", 2000, seed=1, device=device)
    record = {
        "model": model, "length": length, "num_digits": num_digits, "seed": seed, "boost": boost,
        "max_iters": max_iters, "peak_lr": lr,
        "solved_at": watcher.solved_at, "cool_from": watcher.cool_from, "steps_run": trainer.iter_num,
        "best_accuracy": max((a for _, a in watcher.history), default=0.0),
        "greedy_accuracy": sort_accuracy(net, task, check, method="generate"),
        "checked": len(check), "checked_all": watcher.all_test is not None,
        "train_seconds": round(trainer.train_time, 2), "ms_per_iter": round(trainer.ms_per_iter, 2),
        "history": [[step, accuracy] for step, accuracy in watcher.history],
    }
    return (record, net) if return_model else record


def solve_item(item: dict) -> dict:
    """One grid cell of the ``sort-grid`` command: :func:`solve` on the item's settings."""
    return {**solve(**item), "cpu_capability": torch.backends.cpu.get_cpu_capability()}

