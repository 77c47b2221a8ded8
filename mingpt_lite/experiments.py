"""Many runs of one experiment: seed sweeps and grids, side by side, resumable, written atomically.

A claim about training ("post-LN's bottom block gets far less gradient", "length 8 takes more
steps than length 4") is a claim about a *distribution* of runs: change the seed, the thread count
or the CPU's kernels and a single run moves. This module runs the many runs such claims need:

- :func:`run_many` is ``[function(item) for item in items]``, computed side by side in worker
  processes (:func:`mingpt_lite.parallel.map_in_processes`), optionally *resumable*: each finished
  result is added to a JSON file at once (written to a temporary file, then renamed over the old
  one, so an interrupted run never leaves a half-written file), and a rerun skips the items
  already there. A progress bar counts the finished items.
- :class:`SolveWatcher` is a Trainer callback that decides when a sort model has *solved* its
  task (100% on held-out problems at several evaluations in a row) and cools the learning rate
  once it is close; :func:`solve` trains one model with it and returns a plain record
  (chapter 8).
- :func:`norm_run` trains one gpt-nano-wide model with a given LayerNorm placement and can record
  each block's gradient norm at every step (chapter 6); :func:`norm_summary` reduces a run to the
  numbers chapter 6's claims are about.

The command line runs the sweeps whose results the chapters show as data::

    python -m mingpt_lite.experiments sort-grid --out chapters/data/sorting_grid.json \\
        --lengths 4,6,8 --vocabs 3,6 --seeds 0,1,2,3,4 --max-iters 4000
    python -m mingpt_lite.experiments norm-seeds --out chapters/data/post_ln_seeds.json --seeds 3407,0,1,2,3
    python -m mingpt_lite.experiments char-seeds --out chapters/data/09_char_seeds.json --seeds 0,1,2,3,4

All are resumable: run the same command again after an interruption (or with more seeds or
cells) and only the missing runs are computed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import re
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import torch

from .parallel import default_processes, map_in_processes

__all__ = [
    "SolveWatcher",
    "atomic_write_json",
    "environment",
    "item_key",
    "known_word_share",
    "norm_run",
    "norm_summary",
    "read_results",
    "record_block_gradients",
    "repeat_boost_active",
    "run_many",
    "shakespeare_outcomes",
    "solve",
    "solved_step",
    "PEAK_LR",
]

RESULTS_VERSION = 1


# ---------------------------------------------------------------------------
# Result files
# ---------------------------------------------------------------------------


def atomic_write_json(path: str | os.PathLike, data: Any) -> Path:
    """Write ``data`` as JSON to ``path`` so that readers see the old file or the new one, never half.

    The text goes to a temporary file in the same folder, is flushed to disk, and then replaces
    ``path`` with one ``os.replace`` (atomic on POSIX and Windows). Returns the path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=1, sort_keys=False) + "\n"
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    return path


def item_key(item: Any) -> str:
    """The key a result file stores an item's result under: its canonical JSON text."""
    try:
        return json.dumps(item, sort_keys=True, separators=(",", ":"))
    except TypeError as error:
        raise TypeError(f"items of a resumable run must be JSON data (dicts, lists, numbers, strings), "
                        f"got {item!r}") from error


def read_results(path: str | os.PathLike) -> dict:
    """A result file written by :func:`run_many`: ``{"version", "about", "runs": [{"item", "result"}]}``.

    ``about`` is a list with one entry per call of :func:`run_many` that added results (the
    command, machine, kernels and date of each session).

    Raises ``ValueError`` naming the file when it is not one.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error}); it was not written by run_many") from error
    if not isinstance(data, dict) or not isinstance(data.get("runs"), list):
        raise ValueError(f"{path} is not a result file of mingpt_lite.experiments (no 'runs' list)")
    if data.get("version") != RESULTS_VERSION:
        raise ValueError(f"{path} has result format {data.get('version')!r}; this version reads {RESULTS_VERSION}")
    return data


def environment() -> dict:
    """Where a run happens: torch version, CPU kernels (``ATEN_CPU_CAPABILITY``), threads, machine, date."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "torch": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "date": datetime.date.today().isoformat(),
    }


def run_many(function: Callable[[Any], Any], items: Iterable[Any], results_file: str | os.PathLike | None = None,
             about: dict | None = None, processes: int | None = None, progress: bool = True,
             description: str = "runs") -> list:
    """``[function(item) for item in items]``, side by side in single-threaded worker processes.

    With ``results_file``, the run is resumable: results already in the file (matched by
    :func:`item_key`) are not recomputed, and every batch of finished results is added to the
    file at once (atomically, see :func:`atomic_write_json`) together with ``about`` (what
    produced it: command, machine...). Items and results must then be JSON data. Results come
    back in the order of ``items``. ``processes`` is as in
    :func:`~mingpt_lite.parallel.map_in_processes`; ``progress`` shows a bar over the items.
    """
    items = list(items)
    keys = [item_key(item) for item in items] if results_file is not None else None
    done: dict[str, Any] = {}
    runs: list[dict] = []
    sessions: list[dict] = []  # one `about` per call that computed something
    if results_file is not None and Path(results_file).exists():
        existing = read_results(results_file)
        runs, sessions = existing["runs"], list(existing.get("about", []))
        done = {item_key(run["item"]): run["result"] for run in runs}
    todo = [i for i, item in enumerate(items) if keys is None or keys[i] not in done]
    if processes is None:
        processes = default_processes(len(todo))
    # Batches of `processes` items: each batch is one map_in_processes call, after which its
    # results are saved, so an interruption loses at most the batch in progress.
    batch = max(1, processes) if results_file is not None else max(1, len(todo))
    computed: dict[int, Any] = {}
    bar = _progress(len(items), len(items) - len(todo), description, progress)
    try:
        for start in range(0, len(todo), batch):
            chunk = todo[start : start + batch]
            results = map_in_processes(function, [items[i] for i in chunk], processes=min(processes, len(chunk)))
            for i, result in zip(chunk, results):
                computed[i] = result
                if results_file is not None:
                    done[keys[i]] = result
                    runs.append({"item": items[i], "result": result})
            if results_file is not None:
                if start == 0 and about is not None:
                    sessions.append(dict(about))
                atomic_write_json(results_file, {"version": RESULTS_VERSION, "about": sessions, "runs": runs})
            bar.update(len(chunk))
    finally:
        bar.close()
    if keys is None:
        return [computed[i] for i in range(len(items))]
    return [done[key] for key in keys]


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, initial: int, description: str, show: bool):
    if not show or total == 0:
        return _NoBar()
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return _NoBar()
    return tqdm(total=total, initial=initial, desc=description, unit="run", file=sys.stderr)


# ---------------------------------------------------------------------------
# Chapter 8: steps until a sort task is solved
# ---------------------------------------------------------------------------

# Peak learning rate per model size (wider networks need a lower one).
PEAK_LR = {"gpt-nano": 5e-3, "gpt-micro": 2e-3, "gpt-mini": 1e-3}


def enumerable_test_split(task, limit: int = 1000, device=None) -> torch.Tensor | None:
    """Every problem of ``task``'s test split if it has at most ``limit`` of them, else None."""
    if task.num_problems > 8 * limit:
        return None
    problems = task.all_problems("test", device=device)
    return problems if len(problems) <= limit else None


def solved_step(history: Sequence[Sequence[float]], patience: int = 4) -> int | None:
    """The solve rule on a finished history of ``(step, accuracy)`` evaluations: the step of the first
    evaluation of the first run of ``patience`` evaluations in a row at 100%, or None."""
    streak = 0
    for i, (_, accuracy) in enumerate(history):
        streak = streak + 1 if accuracy == 1.0 else 0
        if streak == patience:
            return history[i - patience + 1][0]
    return None


def repeat_boost_active(length: int, num_digits: int) -> bool:
    """Whether :class:`~mingpt_lite.data.SortTask`'s repeat boost can reject any draw of this task.

    The rule rejects (half of the) draws with more than ``length // 2`` distinct digits; the most
    distinct digits a problem can have is ``min(length, num_digits)``. Computed with the task's own
    ``count_distinct`` on the problem with the most distinct digits.
    """
    from .data import SortTask

    task = SortTask.__new__(SortTask)          # no split check: only count_distinct is needed
    object.__setattr__(task, "length", length)
    object.__setattr__(task, "num_digits", num_digits)
    most = (torch.arange(length) % num_digits).unsqueeze(0)
    return bool(SortTask.count_distinct(task, most).item() > length // 2)


class SolveWatcher:
    """A Trainer callback (``on_log``) that decides when a sort task is *solved*, and cools the learning rate.

    At every call it scores the model on held-out test problems (teacher-forced, see
    :func:`~mingpt_lite.data.sort_accuracy`): the whole test split when it has at most
    ``enumerate_limit`` problems, else ``n_eval`` problems drawn afresh each time from a seeded
    generator. The task counts as solved after ``patience`` evaluations in a row at 100%;
    ``solved_at`` is the step of the first of them, and the watcher stops the Trainer.

    The learning rate: held at ``peak_lr`` until the accuracy first reaches ``trigger`` at step
    ``s``, then lowered linearly to ``floor * peak_lr`` over another ``s`` steps (so the last few
    hard problems stop flipping between right and wrong), then held there.
    """

    def __init__(self, task, peak_lr: float, patience: int = 4, trigger: float = 0.99, floor: float = 0.02,
                 n_eval: int = 500, enumerate_limit: int = 1000, seed: int = 0, device=None):
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

    def __call__(self, trainer) -> None:
        from .data import sort_accuracy

        step = trainer.iter_num
        accuracy = sort_accuracy(trainer.model, self.task, self.test_problems(), method="teacher_forced")
        self.history.append((step, accuracy))
        self.streak = self.streak + 1 if accuracy == 1.0 else 0
        if self.streak == self.patience:
            self.solved_at = step - (self.patience - 1) * trainer.config.log_interval
            trainer.stop()
        if self.cool_from is None and accuracy >= self.trigger:
            self.cool_from = max(step, 1)
        if self.cool_from is not None:
            progress = min(1.0, (step - self.cool_from) / self.cool_from)
            trainer.config.learning_rate = self.peak_lr * (1 - (1 - self.floor) * progress)


def _trainer_options(**options) -> dict:
    """``options`` minus those this version's TrainerConfig does not have (e.g. divergence_factor)."""
    from .trainer import TrainerConfig

    fields = TrainerConfig.__dataclass_fields__
    return {name: value for name, value in options.items() if name in fields}


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
    from .config import GPTConfig
    from .data import SortTask, sort_accuracy
    from .model import GPT
    from .trainer import Trainer, TrainerConfig

    if model not in PEAK_LR and peak_lr is None:
        raise ValueError(f"no default learning rate for {model!r}; pass peak_lr (known: {sorted(PEAK_LR)})")
    lr = PEAK_LR[model] if peak_lr is None else peak_lr
    task = SortTask(length=length, num_digits=num_digits, boost_probability=0.5 if boost else 0.0)
    torch.manual_seed(seed)
    net = GPT(GPTConfig.from_preset(model, vocab_size=num_digits, block_size=task.block_size, dropout=0.0))
    config = TrainerConfig(**_trainer_options(max_iters=max_iters, batch_size=64, learning_rate=lr, warmup_iters=50,
                                              log_interval=eval_interval, seed=seed, progress=False, device=device,
                                              divergence_factor=None))
    trainer = Trainer(net, task, config)
    watcher = trainer.add_callback("on_log", SolveWatcher(task, lr, device=device, seed=seed))
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


def _solve_item(item: dict) -> dict:
    """One grid cell of the ``sort-grid`` command: :func:`solve` on the item's settings."""
    return {**solve(**item), "cpu_capability": torch.backends.cpu.get_cpu_capability()}


# ---------------------------------------------------------------------------
# Chapter 6: LayerNorm placement, losses and gradients
# ---------------------------------------------------------------------------


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
    from .config import GPTConfig
    from .data import SortTask
    from .model import GPT

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
    from .trainer import Trainer, TrainerConfig

    model = norm_model(norm, n_layer, seed)
    config = TrainerConfig(**_trainer_options(max_iters=max_iters, seed=seed, learning_rate=learning_rate,
                                              warmup_iters=warmup_iters, device=device, progress=False,
                                              divergence_factor=None))
    from .data import SortTask

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
    from .data import SortTask, sort_accuracy

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


# Chapter 7's claims, over seeds: its two small models retrained with another seed.
SAMPLING_TEMPERATURES = (1.0, 2.0, 4.0)


def generation_outcomes(seed: int) -> dict:
    """Chapter 7's sort and character models trained with ``seed``; the numbers its claims are about.

    Sort model: gpt-nano on the demo task, 500 steps at 5e-3 with cosine decay; greedy
    accuracy on every test problem, sampled accuracy at each of :data:`SAMPLING_TEMPERATURES`
    (draws seeded 0) and whether top-k 1 at T=4 gives greedy's tokens. Character model: 2
    layers, width 96, 300 steps on the default corpus; validation loss over ln(vocabulary),
    and :func:`~mingpt_lite.generation.repeated_share` of 300 characters from "The " for
    greedy, T=0.8, top-k 10 and top-p 0.9 (draws seeded 1).
    """
    import math

    from .config import GPTConfig
    from .data import CharDataset, SortTask
    from .generation import repeated_share
    from .model import GPT
    from .trainer import Trainer, TrainerConfig

    task = SortTask(length=6, num_digits=3)
    torch.manual_seed(seed)
    model = GPT(GPTConfig.from_preset("gpt-nano", vocab_size=task.vocab_size, block_size=task.block_size,
                                      dropout=0.0))
    Trainer(model, task, TrainerConfig(max_iters=500, batch_size=64, learning_rate=5e-3, lr_schedule="cosine",
                                       warmup_iters=50, seed=seed, progress=False, device="cpu")).train()
    problems, L = task.all_problems("test"), task.length

    def score(**options):
        out = model.generate(problems, L, generator=torch.Generator().manual_seed(0), **options)
        return task.solves(problems, out[:, L:]).float().mean().item(), out

    greedy, greedy_out = score()
    sampled = {str(t): score(do_sample=True, temperature=t)[0] for t in SAMPLING_TEMPERATURES}
    _, top1_out = score(do_sample=True, temperature=4.0, top_k=1)

    text = CharDataset.default(block_size=32)
    torch.manual_seed(seed)
    char_model = GPT(GPTConfig(vocab_size=text.vocab_size, block_size=32, n_layer=2, n_head=4, n_embd=96,
                               dropout=0.0))
    trainer = Trainer(char_model, text, TrainerConfig(max_iters=300, batch_size=32, learning_rate=3e-3,
                                                      lr_schedule="cosine", warmup_iters=40, seed=seed,
                                                      progress=False, eval_iters=8, device="cpu"))
    trainer.train()
    val_loss = trainer.evaluate(["val"])["val_loss"]
    prompt = text.encode("The ")[None]
    decodings = {"greedy": {}, "T=0.8": dict(do_sample=True, temperature=0.8),
                 "top-k 10": dict(do_sample=True, top_k=10), "top-p 0.9": dict(do_sample=True, top_p=0.9)}
    repeats = {name: repeated_share(text.decode(char_model.generate(
        prompt, 300, generator=torch.Generator().manual_seed(1), **options)[0])) for name, options in decodings.items()}
    return {"greedy_accuracy": greedy, "sampled_accuracy": sampled, "top1_is_greedy": bool(torch.equal(top1_out, greedy_out)),
            "char_val_over_ln_vocab": val_loss / math.log(text.vocab_size), "repeated_share": repeats}


def _generation_item(item: dict) -> dict:
    return generation_outcomes(_in_item_setting(item)["seed"])


# Chapter 9's claims, over seeds: its character model on Tiny Shakespeare retrained with another seed.
def _words(text: str) -> list[str]:
    """Chapter 9's words: runs of three or more ASCII letters."""
    return re.findall(r"[A-Za-z]{3,}", text)


def known_word_share(text: str, known_words: set[str]) -> float:
    """The share of ``text``'s words (runs of three or more ASCII letters) found in ``known_words``
    (0 when it has none): chapter 9's measure of "made of words"."""
    words = _words(text)
    return sum(word in known_words for word in words) / max(1, len(words))


def shakespeare_outcomes(seed: int, max_iters: int = 450) -> dict:
    """Chapter 9's character model trained with ``seed``; the numbers its claims are about.

    gpt-micro (width 128, 4 layers), block 64, no dropout, ``max_iters`` steps of 32 windows at
    2e-3 with 50 warmup steps and a cosine decay to 1e-4, on the packaged Tiny Shakespeare; the
    final evaluation's train and validation loss (8 batches each), and the known-word share of 300
    characters sampled at temperature 0.8 from a newline (draws seeded 0) after training and of
    200 drawn at temperature 1 before it. With seed 0 this is the chapter's own run.
    """
    from .config import GPTConfig
    from .data import CharDataset
    from .model import GPT
    from .trainer import Trainer, TrainerConfig

    data = CharDataset.from_corpus("tinyshakespeare", block_size=64)
    V = data.vocab_size
    torch.manual_seed(seed)
    model = GPT(GPTConfig.from_preset("gpt-micro", vocab_size=V, block_size=64, dropout=0.0))
    prompt = data.encode("\n")[None]

    def sample(n, **options):
        out = model.generate(prompt, n, do_sample=True, generator=torch.Generator().manual_seed(0), **options)
        return data.decode(out[0, 1:])

    before = sample(200)
    trainer = Trainer(model, data, TrainerConfig(
        max_iters=max_iters, batch_size=32, learning_rate=2e-3, lr_schedule="cosine", warmup_iters=50,
        min_lr=1e-4, eval_interval=50, eval_iters=8, seed=seed, progress=False, device="cpu"))
    trainer.train()
    known = set(_words(data.decode(data.data["train"])))
    # the last scheduled evaluation is the final one when the run ends on the interval
    last = trainer.evaluations[-1] if trainer.iter_num % trainer.config.eval_interval == 0 else trainer.evaluate()
    return {"val_loss": last["val_loss"], "train_loss": last["train_loss"], "iters": trainer.iter_num,
            "known_share_before": known_word_share(before, known),
            "known_share_after": known_word_share(sample(300, temperature=0.8), known)}


def _shakespeare_item(item: dict) -> dict:
    item = _in_item_setting(item)
    return shakespeare_outcomes(item["seed"], item["max_iters"])


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def _ints(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from error


def _cells(text: str) -> list[tuple[int, int]]:
    cells = []
    for part in text.split(","):
        try:
            length, vocab = part.lower().split("x")
            cells.append((int(length), int(vocab)))
        except ValueError as error:
            raise argparse.ArgumentTypeError(f"cells look like 8x8,16x16 (length x vocabulary), got {part!r}") from error
    return cells


def _about(argv: Sequence[str], threads: int = 1) -> dict:
    command = "python -m mingpt_lite.experiments " + " ".join(argv)
    return {"command": command, **environment(), "threads_per_run": threads}


def main(argv: Sequence[str] | None = None) -> int:
    """The ``python -m mingpt_lite.experiments`` command line (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m mingpt_lite.experiments", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    grid = sub.add_parser("sort-grid", help="steps until stably solved, over sort tasks and seeds (chapter 8)")
    grid.add_argument("--out", required=True, type=Path, help="result file (JSON); rerun to resume")
    grid.add_argument("--model", default="gpt-nano", choices=sorted(PEAK_LR))
    grid.add_argument("--lengths", type=_ints, default=[4, 6, 8], help="e.g. 4,6,8 (with --vocabs: every pair)")
    grid.add_argument("--vocabs", type=_ints, default=[3])
    grid.add_argument("--cells", type=_cells, default=None, help="explicit LxV pairs, e.g. 8x8,16x16 (instead)")
    grid.add_argument("--seeds", type=_ints, default=[0, 1, 2, 3, 4])
    grid.add_argument("--max-iters", type=int, default=4000)
    grid.add_argument("--no-boost", action="store_true", help="train without the repeat-boosting rejection")
    grid.add_argument("--processes", type=int, default=None)
    norms = sub.add_parser("norm-seeds", help="chapter 6's runs (three blocks, five deep models) over seeds")
    norms.add_argument("--out", required=True, type=Path)
    norms.add_argument("--seeds", type=_ints, default=[3407, 0, 1, 2, 3])
    norms.add_argument("--deep-iters", type=int, default=200)
    norms.add_argument("--only", choices=("demo", "deep"), default=None, help="run only one of the two parts")
    norms.add_argument("--names", default=None,
                       help="only these runs, separated by ';' (e.g. 'post, 12 layers;pre, 12 layers')")
    norms.add_argument("--threads", type=int, default=1,
                       help="torch threads per run (default 1; recorded in each run's key when not 1)")
    norms.add_argument("--processes", type=int, default=None)
    gen = sub.add_parser("generation-seeds", help="chapter 7's two models over seeds")
    gen.add_argument("--out", required=True, type=Path)
    gen.add_argument("--seeds", type=_ints, default=[0, 1, 2, 3, 4])
    gen.add_argument("--threads", type=int, default=1)
    gen.add_argument("--processes", type=int, default=None)
    char = sub.add_parser("char-seeds", help="chapter 9's character model on Tiny Shakespeare over seeds")
    char.add_argument("--out", required=True, type=Path)
    char.add_argument("--seeds", type=_ints, default=[0, 1, 2, 3, 4])
    char.add_argument("--max-iters", type=int, default=450)
    char.add_argument("--threads", type=int, default=1)
    char.add_argument("--processes", type=int, default=None)
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    capability = torch.backends.cpu.get_cpu_capability()

    # The kernels and (when not 1) the threads of a run are part of its key (see _in_item_setting).
    threads = {} if getattr(args, "threads", 1) == 1 else {"threads": args.threads}
    if args.command == "generation-seeds":
        items = [dict(seed=seed, kernels=capability, **threads) for seed in args.seeds]
        function, description = _generation_item, "generation-seeds"
    elif args.command == "char-seeds":
        items = [dict(seed=seed, max_iters=args.max_iters, kernels=capability, **threads) for seed in args.seeds]
        function, description = _shakespeare_item, "char-seeds"
    elif args.command == "sort-grid":
        cells = args.cells if args.cells is not None else [(L, V) for V in args.vocabs for L in args.lengths]
        items = [dict(model=args.model, length=L, num_digits=V, seed=seed, max_iters=args.max_iters,
                      boost=not args.no_boost) for (L, V) in cells for seed in args.seeds]
        # Cheapest first: short sequences, then small vocabularies.
        items.sort(key=lambda item: (item["length"] * item["num_digits"] ** 0.5, item["seed"]))
        function, description = _solve_item, "sort-grid"
    else:
        parts = ("demo", "deep") if args.only is None else (args.only,)
        wanted = set(NORM_DEEP) | set(NORM_DEMO)
        if args.names is not None:
            wanted = {name.strip() for name in args.names.split(";")}
            unknown = wanted - set(NORM_DEEP) - set(NORM_DEMO)
            if unknown:
                parser.error(f"unknown run names {sorted(unknown)}; known: {list(NORM_DEEP) + list(NORM_DEMO)}")
        items = []
        for seed in args.seeds:
            if "deep" in parts:
                items += [dict(kind="deep", name=name, seed=seed, max_iters=args.deep_iters, kernels=capability,
                               **threads) for name in NORM_DEEP if name in wanted]
            if "demo" in parts:
                items += [dict(kind="demo", name=name, seed=seed, kernels=capability, **threads)
                          for name in NORM_DEMO if name in wanted]
        function, description = _norm_item_checked, "norm-seeds"
    if args.processes is None and threads:  # one run per `threads` cores
        args.processes = max(1, (os.cpu_count() or 1) // args.threads)
    results = run_many(function, items, args.out, about=_about(argv, getattr(args, "threads", 1)), processes=args.processes,
                       description=description)
    print(f"{len(results)} runs in {args.out}")
    return 0


def _in_item_setting(item: dict) -> dict:
    """Check and set up the setting an item's key names; returns the item without it.

    The kernels an item was recorded with are part of its key: refuse to compute it under
    others. Its thread count (1 unless the item names one) is part of the key too, and set here.
    """
    capability = torch.backends.cpu.get_cpu_capability()
    if item.get("kernels") not in (None, capability):
        raise RuntimeError(f"item asks for CPU kernels {item['kernels']} but this process uses {capability}")
    torch.set_num_threads(item.get("threads", 1))
    return {k: v for k, v in item.items() if k not in ("kernels", "threads")}


def _norm_item_checked(item: dict) -> dict:
    return _norm_item(_in_item_setting(item))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
