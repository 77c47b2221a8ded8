"""The sort benchmark: minGPT's demo.ipynb training run, timed, and optionally minGPT itself beside it.

``mingpt-lite bench sort`` trains gpt-nano on the sort task (6 digits of
3 symbols) and prints, as the last line, a JSON object with:

* ``ms_per_iter``, ``wall_s``: training time only (evaluations are excluded), ``iters``;
* ``losses``: the training loss every 100 iterations (``{"0": ..., "100": ..., ...}``);
* ``train_accuracy``, ``test_accuracy``: greedy generation on 5000 problems of each
  split, drawn as the demo draws them;
* ``iters_to_100pct``, ``wall_s_to_100pct``: every 100 iterations, outside the timed
  part, 1000 fixed test problems are solved by greedy generation; the first evaluation
  point from which *every* later one solves all 1000, and the training time up to it
  (null when the run does not end at 100%).

``--recipe demo`` (default) is minGPT's demo.ipynb configuration; ``--recipe fast``
is this project's recipe for the same model (see :data:`RECIPES`). ``--peer PATH``
also runs minGPT's own code from a checkout at PATH (its model, trainer and the
demo's dataset class, read from PATH/demo.ipynb at run time) with the demo's
settings whatever ``--recipe`` is (both targets are measured against it), timed
and evaluated the same way, alternating with ours; its figures go under
``"peer"`` and the ratios ours/minGPT under ``"ratio"``. ``--runs K`` repeats
everything K times; the main fields are then medians and ``"worst"`` holds the
worst run's figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

from mingpt_lite import GPT, GPTConfig
from mingpt_lite.callbacks import solved_step
from mingpt_lite.data import SortTask, sort_accuracy
from mingpt_lite.device import pick_device, seed_everything
from mingpt_lite.trainer import Trainer, TrainerConfig

from mingpt_lab.bench import add_device_options

RECIPES = {
    # minGPT demo.ipynb: gpt-nano, batch 64, lr 5e-4 constant, betas (0.9, 0.95), weight
    # decay 0.1, clip 1.0, dropout 0.1, 2000 iterations, seed 3407.
    "demo": dict(iters=2000, batch_size=64, learning_rate=5e-4, lr_schedule="constant",
                 warmup_iters=0, min_lr=0.0, dropout=0.1),
    # ours: no dropout (on the CPU, dropout in attention also forces the slower attention
    # path), half the batch (half the work per step; the steps are still informative
    # enough), a 4x higher peak learning rate made safe by a short warmup, and a cosine
    # decay to zero over 800 steps that lets the last few hundred steps settle every
    # answer. Measured over 8 seeds: stable 100% after 200-500 iterations.
    "fast": dict(iters=800, batch_size=32, learning_rate=2e-3, lr_schedule="cosine",
                 warmup_iters=50, min_lr=0.0, dropout=0.0),
}
LENGTH, NUM_DIGITS = 6, 3
EVAL_EVERY, EVAL_PROBLEMS, FINAL_PROBLEMS = 100, 1000, 5000


def stable_point(evaluations: list[tuple[int, float, float]]):
    """(iteration, training seconds) of the first evaluation from which every later one is 100%.

    ``evaluations`` is a list of (iteration, training seconds so far, accuracy); the rule is the
    package's one solve rule, :func:`~mingpt_lite.callbacks.solved_step` with ``patience=None``.
    None when the last evaluation is below 100%: a run that touches 100% and falls back has not
    solved the task.
    """
    step = solved_step([(it, accuracy) for it, _, accuracy in evaluations], patience=None)
    return None if step is None else next((it, seconds) for it, seconds, _ in evaluations if it == step)


def _steady_ms_per_iter(clock, iters, evaluations):
    """Milliseconds per iteration after the first evaluation (None before there is one)."""
    if not evaluations or evaluations[0][0] >= iters:
        return None
    first_iter, first_wall = evaluations[0][0], evaluations[0][1]
    return round(1000 * (clock.wall - first_wall) / (iters - first_iter), 4)


def _summary(clock, iters, losses, train_acc, test_acc, evaluations):
    point = stable_point(evaluations)
    return {
        "ms_per_iter": round(1000 * clock.wall / iters, 4),
        # the same without the first evaluation interval, which holds any one-off cost
        # (torch.compile's compilation, first-call allocations): the steady-state rate
        "steady_ms_per_iter": _steady_ms_per_iter(clock, iters, evaluations),
        "wall_s": round(clock.wall, 3),
        "iters": iters,
        "losses": {str(k): round(v, 5) for k, v in losses.items()},
        "train_accuracy": train_acc,
        "test_accuracy": test_acc,
        "iters_to_100pct": None if point is None else point[0],
        "wall_s_to_100pct": None if point is None else round(point[1], 3),
        # CPU seconds of this process per iteration: on a shared machine, waiting for a
        # core inflates wall time but not this, so it shows the work each loop does
        "cpu_ms_per_iter": round(1000 * clock.cpu / iters, 4),
    }


class _Clock:
    """Training time in segments: wall and process CPU seconds, with evaluations left out."""

    def __init__(self, device: torch.device | str = "cpu"):
        self.wall = self.cpu = 0.0
        self.cuda = torch.device(device).type == "cuda"
        self._started = None

    def start(self):
        if self.cuda:
            torch.cuda.synchronize()
        self._started = (time.perf_counter(), time.process_time())

    def stop(self):
        if self.cuda:
            torch.cuda.synchronize()
        wall, cpu = self._started
        self.wall += time.perf_counter() - wall
        self.cpu += time.process_time() - cpu


class _OwnRandomStream:
    """Swap torch's global RNG states in and out, so two interleaved runs draw as if each ran alone."""

    def __init__(self):
        self.state = None

    def __enter__(self):
        self.outside = _global_rng()
        if self.state is not None:
            _set_global_rng(self.state)

    def __exit__(self, *exc):
        self.state = _global_rng()
        _set_global_rng(self.outside)


def _global_rng():
    return (torch.get_rng_state(), torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None)


def _set_global_rng(state):
    torch.set_rng_state(state[0])
    if state[1] is not None:
        torch.cuda.set_rng_state_all(state[1])


# --- ours ------------------------------------------------------------------------------------------


class OursRun:
    """Our training run under ``recipe``, advanced in segments by :meth:`advance`."""

    def __init__(self, recipe: dict, args):
        self.random = _OwnRandomStream()
        with self.random:
            seed_everything(args.seed)
            self.task = task = SortTask(length=LENGTH, num_digits=NUM_DIGITS)
            model = GPT(GPTConfig.from_preset(
                "gpt-nano", vocab_size=task.vocab_size, block_size=task.block_size,
                dropout=recipe["dropout"], norm=args.norm,
            ))
            config = TrainerConfig(
                max_iters=recipe["iters"], batch_size=recipe["batch_size"],
                learning_rate=recipe["learning_rate"], lr_schedule=recipe["lr_schedule"],
                warmup_iters=recipe["warmup_iters"], min_lr=recipe["min_lr"],
                betas=(0.9, 0.95), weight_decay=0.1, grad_clip=1.0, seed=args.seed,
                device=args.device, precision=args.precision, log_interval=EVAL_EVERY, progress=False,
                compile=args.compile,
            )
            self.trainer = Trainer(model, task, config)
        self.seed = args.seed
        self.end = recipe["iters"]
        self.probe = task.fixed_problems("test", EVAL_PROBLEMS, seed=args.seed, device=self.trainer.device)
        self.clock = _Clock(self.trainer.device)
        self.evaluations = []
        # on_log fires every 100 steps, once the losses were read back from the device
        self.trainer.add_callback("on_log", self._evaluate)

    def _evaluate(self, trainer):
        self.clock.stop()
        accuracy = sort_accuracy(trainer.model, self.task, self.probe)
        self.evaluations.append((trainer.iter_num, self.clock.wall, accuracy))
        self.clock.start()

    def advance(self, to: int | None = None) -> None:
        """Train until iteration ``to`` (default: the end of the run)."""
        to = self.end if to is None else min(to, self.end)
        if self.trainer.iter_num >= to:
            return
        with self.random:
            self.clock.start()
            self.trainer.train(max_iters=to)
            self.clock.stop()

    def summary(self) -> dict:
        """The benchmark's fields, after the final evaluation on 5000 problems per split."""
        self.advance()
        trainer, task = self.trainer, self.task
        generator = torch.Generator().manual_seed(self.seed + 1)
        accuracy = {
            split: sort_accuracy(trainer.model, task, task.sample_problems(split, FINAL_PROBLEMS, generator).to(trainer.device))
            for split in ("train", "test")
        }
        losses = {i: trainer.losses[i] for i in range(0, len(trainer.losses), EVAL_EVERY)}
        return _summary(self.clock, trainer.iter_num, losses, accuracy["train"], accuracy["test"], self.evaluations)


# --- minGPT ------------------------------------------------------------------------------------------


def _load_peer(path: Path):
    """Import minGPT from the checkout at ``path`` and the demo's SortDataset from its demo.ipynb."""
    path = Path(path).resolve()
    if not (path / "mingpt" / "model.py").is_file() or not (path / "demo.ipynb").is_file():
        raise SystemExit(f"--peer {path}: not a minGPT checkout (needs mingpt/model.py and demo.ipynb)")
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
    # minGPT is not a dependency: it is imported from the checkout --peer names, only when asked for
    from mingpt.model import GPT as PeerGPT
    from mingpt.trainer import Trainer as PeerTrainer

    notebook = json.loads((path / "demo.ipynb").read_text())
    sources = ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"]
    dataset_cell = next((s for s in sources if "class SortDataset" in s), None)
    if dataset_cell is None:
        raise SystemExit(f"--peer {path}: demo.ipynb has no SortDataset cell")
    namespace: dict = {}
    # the demo's own cells: its imports (the first cell), then its dataset class
    for cell in (sources[0], dataset_cell):
        exec(compile(cell, str(path / "demo.ipynb"), "exec"), namespace)
    return PeerGPT, PeerTrainer, namespace["SortDataset"]


class _Autocast(nn.Module):
    """minGPT's model with its forward pass under bf16 autocast, as our Trainer runs ours with
    ``precision="bf16"``; minGPT's trainer also calls ``configure_optimizers``, passed through."""

    def __init__(self, model: nn.Module, device: str):
        super().__init__()
        self.inner, self.device_type = model, torch.device(device).type

    def forward(self, *args, **kwargs):
        with torch.autocast(self.device_type, dtype=torch.bfloat16):
            return self.inner(*args, **kwargs)

    def configure_optimizers(self, train_config):
        return self.inner.configure_optimizers(train_config)

    def generate(self, *args, **kwargs):
        return self.inner.generate(*args, **kwargs)


class PeerRun:
    """minGPT's own code (model, trainer, the demo's dataset) under ``recipe``, timed like ours."""

    def __init__(self, recipe: dict, args, peer):
        from mingpt.utils import set_seed  # from the --peer checkout (see _load_peer)

        PeerGPT, PeerTrainer, SortDataset = peer
        self.random = _OwnRandomStream()
        with self.random:
            # The demo's order of events, so its training sees the random stream it saw
            # there: seed, the two datasets, one example printed, the model, the trainer.
            # The fixed evaluation problems (from minGPT's own test split, whose hash is
            # salted per process) are drawn before seeding.
            self.train_dataset, self.test_dataset = SortDataset("train"), SortDataset("test")
            torch.manual_seed(args.seed + 1)
            probe = self._draw(self.test_dataset, EVAL_PROBLEMS)
            set_seed(args.seed)
            self.train_dataset[0]
            mc = PeerGPT.get_default_config()
            mc.model_type = "gpt-nano"
            mc.vocab_size = self.train_dataset.get_vocab_size()
            mc.block_size = self.train_dataset.get_block_size()
            mc.embd_pdrop = mc.resid_pdrop = mc.attn_pdrop = recipe["dropout"]
            self.model = PeerGPT(mc)
            if args.precision == "bf16":  # minGPT has no mixed precision of its own: the same autocast as ours
                self.model = _Autocast(self.model, args.device)
            tc = PeerTrainer.get_default_config()
            tc.learning_rate = recipe["learning_rate"]
            tc.max_iters = recipe["iters"]
            tc.batch_size = recipe["batch_size"]
            tc.num_workers = 0
            tc.device = args.device  # the device ours runs on (main resolves it once for both)
            self.trainer = PeerTrainer(tc, self.model, self.train_dataset)
        self.probe = probe.to(self.trainer.device)
        self.clock = _Clock(self.trainer.device)
        self.evaluations, self.losses = [], {}

    @staticmethod
    def _draw(dataset, count):  # the demo draws evaluation problems from the dataset itself
        return torch.stack([dataset[i][0][:LENGTH] for i in range(count)])

    def _accuracy(self, problems):
        model, n = self.model, LENGTH
        was_training = model.training
        model.eval()
        solved = 0
        with torch.no_grad():
            for start in range(0, len(problems), 100):
                inp = problems[start : start + 100]
                out = model.generate(inp, n, do_sample=False)
                solved += int((out[:, n:] == inp.sort(dim=1).values).all(1).sum())
        model.train(was_training)
        return solved / len(problems)

    def run(self, between=None) -> None:
        """Train to the end; every 100 iterations evaluate, then call ``between(iteration)`` (untimed)."""

        def on_batch_end(t):
            if t.iter_num % EVAL_EVERY == 0:
                self.losses[t.iter_num] = t.loss.item()  # what the demo prints
            if (t.iter_num + 1) % EVAL_EVERY == 0:
                self.clock.stop()
                self.evaluations.append((t.iter_num + 1, self.clock.wall, self._accuracy(self.probe)))
                if between is not None:
                    self.random.__exit__()
                    between(t.iter_num + 1)
                    self.random.__enter__()
                self.clock.start()

        self.trainer.set_callback("on_batch_end", on_batch_end)
        with self.random:
            self.clock.start()
            self.trainer.run()
            self.clock.stop()

    def summary(self) -> dict:
        """The benchmark's fields, after the demo's final evaluation (5000 problems per split)."""
        with self.random:
            device = self.trainer.device
            final = {
                "train": self._accuracy(self._draw(self.train_dataset, FINAL_PROBLEMS).to(device)),
                "test": self._accuracy(self._draw(self.test_dataset, FINAL_PROBLEMS).to(device)),
            }
        return _summary(self.clock, self.trainer.iter_num, self.losses, final["train"], final["test"], self.evaluations)


# --- aggregation and the command line ---------------------------------------------------------------------


def _aggregate(runs: list[dict]) -> dict:
    """One run as is; several: the median of each figure (losses of the median-time run) plus ``worst`` and ``runs``."""
    if len(runs) == 1:
        return dict(runs[0])

    def median(key):
        values = [r[key] for r in runs]
        if any(v is None for v in values):
            return None
        return statistics.median(values)

    by_time = sorted(runs, key=lambda r: r["ms_per_iter"])
    out = {
        "ms_per_iter": median("ms_per_iter"),
        "wall_s": median("wall_s"),
        "iters": runs[0]["iters"],
        "losses": by_time[len(by_time) // 2]["losses"],
        "train_accuracy": median("train_accuracy"),
        "test_accuracy": median("test_accuracy"),
        "iters_to_100pct": median("iters_to_100pct"),
        "wall_s_to_100pct": median("wall_s_to_100pct"),
        "cpu_ms_per_iter": median("cpu_ms_per_iter"),
    }
    solved = [r for r in runs if r["iters_to_100pct"] is not None]
    out["worst"] = {
        "ms_per_iter": max(r["ms_per_iter"] for r in runs),
        "test_accuracy": min(r["test_accuracy"] for r in runs),
        "train_accuracy": min(r["train_accuracy"] for r in runs),
        "iters_to_100pct": None if len(solved) < len(runs) else max(r["iters_to_100pct"] for r in runs),
        "wall_s_to_100pct": None if len(solved) < len(runs) else max(r["wall_s_to_100pct"] for r in runs),
    }
    out["runs"] = runs
    return out


def _parse(argv):
    parser = argparse.ArgumentParser(
        prog="mingpt-lite bench sort",
        description=__doc__.split("\n\n")[0] + " The last line of output is one JSON object.",
    )
    parser.add_argument("--recipe", choices=sorted(RECIPES), default="demo",
                        help="demo: minGPT demo.ipynb's settings (default); fast: this project's recipe "
                        "for the same gpt-nano model (batch 32, no dropout, lr 2e-3 with warmup and cosine decay, 800 iterations)")
    parser.add_argument("--norm", choices=("pre", "post", "notes-bug"), default="pre",
                        help="where each block's LayerNorm sits (default pre, as minGPT/GPT-2)")
    parser.add_argument("--iters", type=int, default=None,
                        help="training iterations (default: the recipe's, 2000 for demo)")
    add_device_options(parser, "minGPT")
    parser.add_argument("--seed", type=int, default=3407, help="seed (default 3407, the demo's)")
    parser.add_argument("--runs", type=int, default=1,
                        help="repeat K times with seeds seed, seed+1, ...: medians and the worst run are reported")
    parser.add_argument("--peer", type=Path, default=None,
                        help="path to a minGPT checkout: run its demo code the same way, alternating with ours")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--compile", action="store_true", help="torch.compile our model (compile time counts as training time)")
    parser.add_argument("--quiet", action="store_true", help="print only the JSON line")
    args = parser.parse_args(argv)
    if args.runs < 1 or (args.iters is not None and args.iters < 1):
        parser.error("--runs and --iters must be positive")
    return args


def main(argv=None) -> int:
    """Run the benchmark; prints progress lines, then the JSON object as the last line."""
    args = _parse(argv)
    # one device for both sides of the comparison, resolved once (not "auto" for one and
    # $MINGPT_DEVICE for the other)
    args.device = str(pick_device(args.device))
    if args.threads:
        torch.set_num_threads(args.threads)
    recipe = dict(RECIPES[args.recipe])
    if args.iters is not None:
        recipe["iters"] = args.iters
    peer = _load_peer(args.peer) if args.peer else None
    if peer is not None and args.norm != "pre":
        raise SystemExit("minGPT has only pre-LN blocks: run --peer with --norm pre")
    # minGPT always runs its demo settings: the reference for both recipes' targets
    peer_recipe = dict(RECIPES["demo"])
    if args.iters is not None and args.recipe == "demo":
        peer_recipe["iters"] = args.iters
    base_seed = args.seed

    def note(*parts):
        if not args.quiet:
            print(*parts, file=sys.stderr, flush=True)

    note(f"sort benchmark: recipe {args.recipe} {recipe}, norm {args.norm}, torch {torch.__version__}, "
         f"device {args.device}, precision {args.precision}, {torch.get_num_threads()} threads")
    ours_runs, peer_runs = [], []
    for k in range(args.runs):
        args.seed = base_seed + k
        ours = OursRun(recipe, args)
        if peer is not None:
            # side by side: minGPT trains, and every 100 of its iterations ours trains
            # 100 too, so both loops see the same load on a shared machine
            minGPT = PeerRun(peer_recipe, args, peer)
            minGPT.run(between=ours.advance)
        ours_runs.append(ours.summary())
        note(f"run {k} ours: " + json.dumps({x: y for x, y in ours_runs[-1].items() if x != "losses"}))
        if peer is not None:
            peer_runs.append(minGPT.summary())
            note(f"run {k} minGPT: " + json.dumps({x: y for x, y in peer_runs[-1].items() if x != "losses"}))
    result = {"device": args.device, "precision": args.precision, **_aggregate(ours_runs)}
    if peer is not None:
        result["peer"] = _aggregate(peer_runs)

        def ratio(key):
            a, b = result[key], result["peer"][key]
            return None if a is None or b in (None, 0) else round(a / b, 4)

        result["ratio"] = {key: ratio(key) for key in ("ms_per_iter", "cpu_ms_per_iter", "wall_s_to_100pct")}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
