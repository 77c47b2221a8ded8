"""Chapter 6's experiment: LayerNorm placement, losses and each block's gradients, over seeds."""

from __future__ import annotations

from typing import Iterable, Sequence

import torch

from mingpt_lite.config import GPTConfig
from mingpt_lite.data import SortTask, sort_accuracy
from mingpt_lite.model import GPT
from mingpt_lite.trainer import Trainer, TrainerConfig

from mingpt_lab.experiments.results import in_item_setting



def record_block_gradients(trainer) -> list[list[float]]:
    """Attach a callback that appends, at every step, each block's gradient norm (before clipping).

    Returns the list the callback fills: one list of ``n_layer`` norms per step.
    """
    norms: list[list[float]] = []

    def record(trainer) -> None:
        norms.append([torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in block.parameters()])).item()
                      for block in trainer.model.blocks])

    trainer.add_callback("on_after_backward", record)
    return norms


def norm_model(norm: str, n_layer: int = 3, seed: int = 3407, dropout: float = 0.1, task=None):
    """gpt-nano wide, ``n_layer`` deep, LayerNorm placement ``norm``, for the demo sort task; weights from ``seed``."""
    task = SortTask(length=6, num_digits=3) if task is None else task
    torch.manual_seed(seed)
    return GPT(GPTConfig.from_preset("gpt-nano", vocab_size=task.vocab_size, block_size=task.block_size,
                                     n_layer=n_layer, dropout=dropout, norm=norm))


def norm_run(norm: str, n_layer: int = 3, max_iters: int = 2000, seed: int = 3407, learning_rate: float = 5e-4,
             warmup_iters: int = 0, gradients: bool = False, weights: bool = False, device: str = "cpu") -> dict:
    """Train :func:`norm_model` on the demo sort task with minGPT's demo settings (unless overridden).

    ``seed`` seeds both the weights and the batches. Returns ``{"losses": [...]}`` plus
    ``"block_gradients"`` (each block's gradient norm at every step) with ``gradients`` and
    ``"weights"`` (the trained ``state_dict`` on the CPU) with ``weights``.
    """
    model = norm_model(norm, n_layer, seed)
    config = TrainerConfig(max_iters=max_iters, seed=seed, learning_rate=learning_rate,
                           warmup_iters=warmup_iters, device=device, progress=False, divergence_factor=None)
    trainer = Trainer(model, SortTask(length=6, num_digits=3), config)
    block_gradients = record_block_gradients(trainer) if gradients else None
    trainer.train()
    out: dict = {"losses": list(trainer.losses)}
    if gradients:
        out["block_gradients"] = block_gradients
    if weights:
        out["weights"] = {name: tensor.detach().cpu() for name, tensor in trainer.model.state_dict().items()}
    return out


# The runs of chapter 6: name -> norm_run arguments.
NORM_DEMO = {norm: dict(norm=norm) for norm in ("notes-bug", "post", "pre")}
HIGH_LR = 1e-2
NORM_DEEP = {
    "post, 3 layers": dict(norm="post", n_layer=3),
    "post, 6 layers": dict(norm="post", n_layer=6),
    "post, 12 layers": dict(norm="post", n_layer=12),
    "post, 12 layers, warmup": dict(norm="post", n_layer=12, warmup_iters=100),
    "pre, 12 layers": dict(norm="pre", n_layer=12),
}


def norm_deep_run(name: str, seed: int = 3407, max_iters: int = 200) -> dict:
    """One of :data:`NORM_DEEP`'s runs at the high learning rate, with block gradients recorded."""
    return norm_run(**NORM_DEEP[name], max_iters=max_iters, seed=seed, learning_rate=HIGH_LR, gradients=True)


def mean_profile(block_gradients: Sequence[Sequence[float]], steps: Iterable[int]) -> list[float]:
    """Each block's gradient norm averaged over ``steps``."""
    rows = [block_gradients[s] for s in steps]
    return [sum(column) / len(rows) for column in zip(*rows)]


def norm_summary(run: dict) -> dict:
    """The numbers chapter 6's claims are about, from one :func:`norm_run` result.

    ``late_loss``: mean loss over steps 1500-1999 (or the last quarter); ``final_loss``: the mean
    of the last 50 steps; with gradients, ``profile_0`` / ``profile_40`` (each block's gradient
    norm at step 0 / averaged over steps 40-49) and ``ratio_0`` / ``ratio_40`` (top block over
    bottom block). ``curve``: the loss averaged over each 50 steps.
    """
    losses = run["losses"]
    n = len(losses)
    late = losses[1500:2000] if n >= 2000 else losses[3 * n // 4 :]
    summary = {
        "steps": n,
        "late_loss": sum(late) / len(late),
        "final_loss": sum(losses[-50:]) / len(losses[-50:]),
        "curve": [sum(losses[i : i + 50]) / len(losses[i : i + 50]) for i in range(0, n, 50)],
    }
    if "block_gradients" in run:
        grads = run["block_gradients"]
        summary["profile_0"] = mean_profile(grads, [0])
        summary["ratio_0"] = summary["profile_0"][-1] / summary["profile_0"][0]
        if n >= 50:
            summary["profile_40"] = mean_profile(grads, range(40, 50))
            summary["ratio_40"] = summary["profile_40"][-1] / summary["profile_40"][0]
    return summary


def _norm_item(item: dict) -> dict:
    """One run of the ``norm-seeds`` command, summarised (see :func:`norm_summary`)."""
    if item["kind"] == "demo":
        run = norm_run(**NORM_DEMO[item["name"]], seed=item["seed"], weights=True)
        summary = norm_summary(run)
        model = norm_model(NORM_DEMO[item["name"]]["norm"], seed=item["seed"])
        model.load_state_dict(run["weights"])
        task = SortTask(length=6, num_digits=3)
        summary["test_accuracy"] = sort_accuracy(model, task, task.all_problems("test"))
        # What chapter 5 asserts about its demo run (the "pre" variant is that run): the loss
        # at step 0, 100-step means around steps 1000 and 1900, the 50-step running mean at
        # step 100 and at the end, and the accuracy on each split, all problems and 5000 drawn.
        losses = run["losses"]
        summary["loss_0"] = losses[0]
        summary["mean_around"] = {str(i): sum(losses[i - 50 : i + 50]) / 100 for i in (1000, 1900)}
        summary["running_mean"] = {"100": sum(losses[100:150]) / 50, "last": sum(losses[-50:]) / 50}
        summary["accuracy"] = {}
        for split in task.splits:
            summary["accuracy"][f"{split}, all"] = sort_accuracy(model, task, task.all_problems(split))
            summary["accuracy"][f"{split}, 5000 drawn"] = sort_accuracy(model, task, task.fixed_problems(split, 5000))
        return summary
    return norm_summary(norm_deep_run(item["name"], seed=item["seed"], max_iters=item["max_iters"]))



def norm_item_checked(item: dict) -> dict:
    return _norm_item(in_item_setting(item))

