"""The Tiny Shakespeare benchmark: a character GPT trained on the CPU, and nanoGPT's own run beside it.

``mingpt-lite bench char`` trains a character-level GPT on Tiny Shakespeare
(shipped with the package) with one of :data:`RECIPES`, in a child process timed as a
whole (Python start, imports, data, model, training, saving), then scores it. The last
line printed is a JSON object with ``val_loss``, ``wall_s`` (the whole training process),
``iters``, ``train_s`` (the training loop alone) and the recipe.

* ``--recipe nanogpt-cpu``: nanoGPT README's CPU recipe (4 layers, 4 heads, width 128,
  block 64, batch 12, 2000 iterations, lr 1e-3 cosine to 1e-4, warmup 100, no dropout,
  and nanoGPT's other defaults: no biases, tied head, betas (0.9, 0.99), weight decay
  0.1 on every matrix, clipping at 1.0).
* ``--recipe fast``: this project's speedrun recipe (see :data:`RECIPES`); ``fast-550`` and
  ``fast-cosine`` are its earlier versions, kept so chapter 13's committed results can be rerun.
* ``--peer PATH``: also runs nanoGPT's own ``train.py`` from a checkout at PATH with the
  README's CPU recipe, in a child process with the same threads, timed the same way, and
  scores its checkpoint with the same estimator (``"peer"`` in the JSON, and ``"ratio"``:
  our wall time over nanoGPT's). The checkout's data is prepared on first use: the
  package's Tiny Shakespeare is written to ``data/shakespeare_char/input.txt`` (so its
  ``prepare.py`` finds the file and does not download it) and ``prepare.py`` is run.
* ``--seeds 0 1 2`` runs several seeds, ours then nanoGPT's for each seed in turn.
* ``--tokenizer FILE`` trains our side on the BPE tokens of a tokenizer file written by
  :meth:`~mingpt_lite.tokenizer.Tokenizer.save` instead of on characters (the recipe's block
  size then counts tokens), and adds ``val_bits_per_char`` to the JSON: the same windowed
  estimator over the tokenised validation split, its summed loss divided by ln 2 and by the
  characters its predicted tokens decode to, so a token model and a character model compare
  (``val_loss`` is then per token). Not with ``--peer`` or ``--ablation``, which are characters.
* ``--out DIR`` keeps our model as ``DIR/model.safetensors`` (:func:`~mingpt_lite.modelfile.save_model`).
* ``--ablation FILE``: the appendix's ablation (chapter 13). Each variant of
  :data:`ABLATION` trains single-threaded for the same time budget (``--budget`` seconds
  of the process's CPU time, which is the wall-clock time on an idle core; run it on a
  quiet machine, since contention still slows each step; the cosine
  schedule follows that clock instead of a step count), for each seed; results are
  added to FILE (JSON, written atomically under a lock) as they finish, and a rerun
  skips the runs already there.

The estimator (:func:`windowed_val_loss`) is the same for every model: the mean
next-character cross-entropy over the whole validation split (the last 10% of the
text), cut into consecutive, non-overlapping 64-character windows, each predicting its
64 next characters. A model with a longer context is scored on the same windows. No
recipe looks at the validation split while it trains.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from tqdm import tqdm

from mingpt_lite.callbacks import TimeBudget
from mingpt_lite.config import GPTConfig
from mingpt_lite.tokenizer import Tokenizer
from mingpt_lite.data import CharDataset, TokenDataset, tiny_shakespeare
from mingpt_lite.device import pick_device
from mingpt_lite.model import GPT
from mingpt_lite.modelfile import load_model, save_model
from mingpt_lite.optim import configure_muon
from mingpt_lite.runstate import RunFolderError, file_lock, run_lock, write_json_atomically
from mingpt_lite.schedule import Schedule
from mingpt_lite.trainer import Trainer, TrainerConfig

from mingpt_lab.arguments import positive
from mingpt_lab.bench import add_device_options

WINDOW = 64
MUON_LR_SCALE = 8.0  # Muon's learning rate over AdamW's (0.024 against 3e-3 in the ablation)

# Model fields (GPTConfig) and training fields (TrainerConfig) of each recipe.
RECIPES = {
    # nanoGPT README, "I only have a macbook": train.py config/train_shakespeare_char.py
    # --device=cpu --compile=False --eval_iters=20 --log_interval=1 --block_size=64
    # --batch_size=12 --n_layer=4 --n_head=4 --n_embd=128 --max_iters=2000
    # --lr_decay_iters=2000 --dropout=0.0, with nanoGPT's defaults for the rest.
    "nanogpt-cpu": dict(
        model=dict(n_layer=4, n_head=4, n_embd=128, block_size=64, dropout=0.0, bias=False, tie_weights=True),
        train=dict(max_iters=2000, batch_size=12, learning_rate=1e-3, lr_schedule="cosine", warmup_iters=100,
                   min_lr=1e-4, betas=(0.9, 0.99), weight_decay=0.1, decay_rule="dim", grad_clip=1.0),
    ),
    # The speedrun (chapter 13 assembles it step by step from the ablation data): nanoGPT's
    # model with rotary positions and a ReLU^2 MLP (LayerNorm kept: on the CPU its fused
    # kernel is faster than RMSNorm's and the ablation found no loss to gain), batch 16,
    # a higher peak learning rate decaying linearly to zero, less momentum (beta1 0.6: in
    # trial runs of this length it was worth about 100 steps), and under a quarter as many steps.
    "fast": dict(
        model=dict(n_layer=4, n_head=4, n_embd=128, block_size=64, dropout=0.0, bias=False, tie_weights=True,
                   position="rotary", normalization="layernorm", mlp="relu2"),
        train=dict(max_iters=450, batch_size=16, learning_rate=2e-3, lr_schedule="linear", warmup_iters=30,
                   min_lr=0.0, betas=(0.6, 0.99), weight_decay=0.1, decay_rule="dim", grad_clip=1.0),
    ),
}
# The earlier fast recipes, kept so their committed results (chapter 13) can be rerun:
# the second (2026-12-02 morning): nanoGPT's beta1 of 0.9 and 550 steps, otherwise as now;
RECIPES["fast-550"] = dict(
    model=dict(RECIPES["fast"]["model"]),
    train=dict(RECIPES["fast"]["train"], max_iters=550, betas=(0.9, 0.99)),
)
# the first (2026-12-01): as the second, but AdamW at 3e-3 with a cosine to 1e-4. Chapter 13's
# ablation was run on its optimizer settings.
RECIPES["fast-cosine"] = dict(
    model=dict(RECIPES["fast"]["model"]),
    train=dict(RECIPES["fast-550"]["train"], learning_rate=3e-3, lr_schedule="cosine", min_lr=1e-4),
)

# The ablation: nanoGPT's model (learned positions, LayerNorm, GELU, tied head, no biases)
# trained with the first fast recipe's optimizer settings (its cosine follows the time
# budget), then each later change switched on alone, then all of the fast recipe's options
# together. Each entry: GPTConfig overrides and, optionally, the optimizer.
ABLATION_BASE = "fast-cosine"
_CLASSIC = dict(position="learned", normalization="layernorm", mlp="gelu", qk_norm=False)
ABLATION = {
    "gpt2 (base)": dict(model=_CLASSIC),
    "+ rmsnorm": dict(model=dict(_CLASSIC, normalization="rmsnorm")),
    "+ rotary": dict(model=dict(_CLASSIC, position="rotary")),
    "+ relu2": dict(model=dict(_CLASSIC, mlp="relu2")),
    "+ swiglu": dict(model=dict(_CLASSIC, mlp="swiglu")),
    "+ qk_norm": dict(model=dict(_CLASSIC, qk_norm=True)),
    "+ untied head": dict(model=dict(_CLASSIC, tie_weights=False)),
    "+ muon": dict(model=_CLASSIC, optimizer="muon"),
    "fast recipe (all of its options)": dict(model={}),
}

# nanoGPT's README CPU recipe; the device and its dtype are added per run (see nanogpt_args).
NANOGPT_ARGS = [
    "config/train_shakespeare_char.py", "--compile=False", "--eval_iters=20",
    "--log_interval=1", "--block_size=64", "--batch_size=12", "--n_layer=4", "--n_head=4",
    "--n_embd=128", "--max_iters=2000", "--lr_decay_iters=2000", "--dropout=0.0",
]


# --- the estimator ---------------------------------------------------------------------------


def val_windows(val_ids: torch.Tensor, window: int = WINDOW) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and targets: consecutive non-overlapping ``window``-character windows of ``val_ids``.

    Window i is ``val_ids[i*w : (i+1)*w]`` and its targets the same shifted by one; the
    few characters left at the end (fewer than a window) are not scored.
    """
    n = (val_ids.numel() - 1) // window
    x = val_ids[: n * window].view(n, window)
    y = val_ids[1 : n * window + 1].view(n, window)
    return x, y


@torch.inference_mode()
def windowed_val_loss(model, val_ids: torch.Tensor, window: int = WINDOW, batch_size: int = 256) -> float:
    """Mean next-character cross-entropy (nats) of ``model`` over the validation windows (:func:`val_windows`)."""
    was_training = model.training
    model.eval()
    x, y = val_windows(val_ids, window)
    total = 0.0
    for i in range(0, x.size(0), batch_size):
        logits = model(x[i : i + batch_size])
        total += torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.size(-1)).double(), y[i : i + batch_size].reshape(-1), reduction="sum"
        ).item()
    model.train(was_training)
    return total / y.numel()


# --- nanoGPT's checkpoint, read into our GPT ---------------------------------------------------

_NANOGPT_NAMES = [
    (r"transformer\.wte\.", "token_embedding."),
    (r"transformer\.wpe\.", "position_embedding."),
    (r"transformer\.ln_f\.", "final_norm."),
    (r"transformer\.h\.(\d+)\.ln_1\.", r"blocks.\1.norm1."),
    (r"transformer\.h\.(\d+)\.ln_2\.", r"blocks.\1.norm2."),
    (r"transformer\.h\.(\d+)\.attn\.c_attn\.", r"blocks.\1.attn.qkv."),
    (r"transformer\.h\.(\d+)\.attn\.c_proj\.", r"blocks.\1.attn.residual_proj."),
    (r"transformer\.h\.(\d+)\.mlp\.c_fc\.", r"blocks.\1.mlp.expand."),
    (r"transformer\.h\.(\d+)\.mlp\.c_proj\.", r"blocks.\1.mlp.residual_proj."),
]


def load_nanogpt_checkpoint(path: str | os.PathLike):
    """Our :class:`~mingpt_lite.model.GPT` holding the weights of nanoGPT's ``ckpt.pt`` at ``path``.

    nanoGPT's model is GPT-2's with ``nn.Linear`` layers (no transposes), an optional
    bias, a tied head and the exact (erf) GELU; our GPT gets the same shapes from the
    stored ``model_args`` and the exact GELU in place of the tanh approximation, so it
    computes nanoGPT's function. Read with ``weights_only=True``.
    Returns ``(model, checkpoint)``.
    """

    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    args = ckpt["model_args"]
    config = GPTConfig(vocab_size=args["vocab_size"], block_size=args["block_size"], n_layer=args["n_layer"],
                       n_head=args["n_head"], n_embd=args["n_embd"], dropout=0.0, bias=args["bias"],
                       tie_weights=True)
    model = GPT(config)
    for block in model.blocks:
        block.mlp.gelu = torch.nn.GELU()  # nanoGPT uses the exact GELU
    state = {}
    for name, tensor in ckpt["model"].items():
        name = name.removeprefix("_orig_mod.")  # a torch.compile'd run's prefix
        if name.endswith(".attn.bias"):  # nanoGPT's causal-mask buffer (older versions)
            continue
        for pattern, replacement in _NANOGPT_NAMES:
            name = re.sub(f"^{pattern}", replacement, name)
        state[name] = tensor
    state.setdefault("lm_head.weight", state["token_embedding.weight"])
    model.load_state_dict(state, strict=True)
    return model.eval(), ckpt


def check_against_nanogpt(model, ckpt, peer: Path, val_ids: torch.Tensor) -> float:
    """Max |logit difference| between our reading of the checkpoint and nanoGPT's own ``model.py`` on one window."""
    sys.path.insert(0, str(peer))
    try:
        import model as nanogpt_model  # nanoGPT's model.py, run from the checkout, not copied
    finally:
        sys.path.pop(0)
    with contextlib.redirect_stdout(sys.stderr):  # its parameter count, kept off our JSON output
        theirs = nanogpt_model.GPT(nanogpt_model.GPTConfig(**ckpt["model_args"]))
    theirs.load_state_dict({k.removeprefix("_orig_mod."): v for k, v in ckpt["model"].items()})
    theirs.eval()
    x, y = val_windows(val_ids)
    with torch.inference_mode():
        their_logits, _ = theirs(x[:4], y[:4])
        ours = model(x[:4])
    return float((their_logits - ours).abs().max())


# --- one training run (the child process) ------------------------------------------------------


def time_budget(config: TrainerConfig, budget_s: float, clock=time.process_time) -> tuple[Schedule, TimeBudget]:
    """The schedule and the callback that train for ``budget_s`` seconds of ``clock`` (see :class:`TimeBudget`).

    The learning rate follows the recipe's warmup (in steps), then a cosine from
    ``learning_rate`` to ``min_lr`` over the share of the budget spent; the run stops when
    the budget is spent. The default clock is the process's CPU time, which for a
    single-threaded process is the wall-clock time it would take on an idle core. It is
    stretched much less than wall time when other jobs share the machine, but not immune:
    shared caches and cores still slow each step.
    """
    schedule = Schedule(config.learning_rate, "cosine", config.warmup_iters, config.max_iters, config.min_lr)
    return schedule, TimeBudget(budget_s, clock=clock)


def nanogpt_args(device: str, precision: str) -> list[str]:
    """nanoGPT's command line for the recipe on ``device`` at ``precision`` (our names: fp32, bf16)."""
    dtype = {"fp32": "float32", "bf16": "bfloat16"}[precision]
    return [*NANOGPT_ARGS, f"--device={device}", f"--dtype={dtype}"]


def train_recipe(recipe: str, seed: int, out: Path, threads: int | None = None, progress: bool = True,
                 model_overrides: dict | None = None, budget_s: float | None = None,
                 iters: int | None = None, train_overrides: dict | None = None,
                 optimizer: str | None = None, device: str = "cpu", precision: str = "fp32",
                 tokenizer: str | None = None) -> dict:
    """Train ``recipe`` with ``seed`` on Tiny Shakespeare, save ``out/model.safetensors``; returns figures.

    ``tokenizer`` (a tokenizer file) trains on its BPE tokens instead of characters.

    ``model_overrides`` change GPTConfig fields of the recipe (the ablation's variants);
    ``budget_s`` trains for that many seconds with a time-based cosine schedule instead
    of the recipe's step count.
    """

    if threads:
        torch.set_num_threads(threads)
    spec = RECIPES[recipe]
    fields = dict(spec["model"], **(model_overrides or {}))
    if tokenizer:
        data = TokenDataset.from_corpus(Tokenizer.load(tokenizer), block_size=fields["block_size"])
    else:
        data = CharDataset.from_corpus("tinyshakespeare", block_size=fields["block_size"])
    torch.manual_seed(seed)
    model = GPT(GPTConfig(vocab_size=data.vocab_size, **fields))
    train = dict(spec["train"], **(train_overrides or {}))
    if iters:
        train["max_iters"] = iters
    if budget_s:
        train["max_iters"] = 10**6  # the budget stops it
    config = TrainerConfig(**train, seed=seed, device=device, precision=precision, progress=progress,
                           log_interval=50)
    options = {}
    if (optimizer or spec.get("optimizer")) == "muon":  # Muon on the blocks' matrices, AdamW on the rest
        options["optimizer"] = configure_muon(model, train["learning_rate"], train["weight_decay"], train["betas"],
                                              muon_lr_scale=spec.get("muon_lr_scale", MUON_LR_SCALE))
    if budget_s:
        schedule, budget = time_budget(config, budget_s)
        options.update(schedule=schedule, callbacks=(budget,))
    trainer = Trainer(model, data, config, **options)
    trainer.train()
    out.mkdir(parents=True, exist_ok=True)
    save_model(model, out / "model.safetensors")
    return {"iters": trainer.iter_num, "train_s": round(trainer.train_time, 3),
            "ms_per_iter": round(trainer.ms_per_iter, 3), "final_train_loss": round(trainer.losses[-1], 4),
            "parameters": model.num_parameters(include_head=True), "device": str(trainer.device),
            "autocast": str(trainer.dtype).removeprefix("torch.") if trainer.dtype is not None else "none"}


def _run_child(args: list[str], env: dict, stdout_path: Path, progress_total: int | None, label: str,
               iter_pattern: str | None = None) -> tuple[float, float]:
    """Run a child process, its output to ``stdout_path``; returns its wall time and CPU time in seconds.

    The CPU time (user + system, from the kernel's accounting of the finished child)
    is reported beside the wall time because it is far less stretched than wall time
    when other jobs share the machine.

    With ``iter_pattern``, a tqdm bar follows the iteration numbers the child prints.
    """

    env = dict(env)
    started = time.perf_counter()
    with open(stdout_path, "w") as log:
        # stdout (the child's figures or log lines) is kept; stderr (its own progress bar) shows
        proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, text=True, cwd=env.pop("_CWD", None))
        bar = tqdm(total=progress_total, desc=label, leave=False, disable=progress_total is None)
        done = 0
        for line in proc.stdout:
            log.write(line)
            if iter_pattern:
                match = re.match(iter_pattern, line)
                if match and int(match.group(1)) > done:
                    bar.update(int(match.group(1)) - done)
                    done = int(match.group(1))
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        bar.close()
    wall = time.perf_counter() - started
    cpu = usage.ru_utime + usage.ru_stime
    if proc.returncode:
        tail = stdout_path.read_text()[-2000:]
        raise SystemExit(f"{label} failed (exit {proc.returncode}); the end of its output:\n{tail}")
    return wall, cpu


def _env(threads: int | None) -> dict:
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    return env


def run_ours(recipe: str, seed: int, out: Path, threads: int | None, val_ids, model_overrides=None,
             budget_s=None, label="ours", iters: int | None = None, optimizer: str | None = None,
             device: str = "cpu", precision: str = "fp32", tokenizer: str | None = None) -> dict:
    """Train in a child process (timed whole), then score its saved model with :func:`windowed_val_loss`.

    With ``tokenizer`` (a tokenizer file; ``val_ids`` are then its tokens of the validation split)
    the figures add ``val_bits_per_char`` (see :func:`bits_per_char`)."""

    out.mkdir(parents=True, exist_ok=True)
    spec = {"recipe": recipe, "seed": seed, "out": str(out), "threads": threads,
            "model_overrides": model_overrides or {}, "budget_s": budget_s, "iters": iters,
            "optimizer": optimizer, "device": device, "precision": precision, "tokenizer": tokenizer}
    args = [sys.executable, "-m", "mingpt_lab.bench", "char", "--child", json.dumps(spec)]
    wall, cpu = _run_child(args, _env(threads), out / "train.log", None, label)
    figures = json.loads((out / "train.log").read_text().strip().splitlines()[-1])
    model = load_model(out / "model.safetensors", device="cpu")
    val_loss = windowed_val_loss(model, val_ids)
    extra = {"val_bits_per_char": round(bits_per_char(val_loss, val_ids, Tokenizer.load(tokenizer)), 4)} if tokenizer else {}
    return {"val_loss": round(val_loss, 4), **extra, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), **figures}


def bits_per_char(val_loss: float, val_ids: torch.Tensor, tokenizer: Tokenizer, window: int = WINDOW) -> float:
    """:func:`windowed_val_loss` (nats per token) as bits per character: the summed loss over the
    windows' targets, over ln 2 and over the characters those target tokens decode to."""
    _, y = val_windows(val_ids, window)
    chars = len(tokenizer.decode(y.flatten()))
    return val_loss * y.numel() / math.log(2) / chars


def prepare_peer(peer: Path) -> Path:
    """Make sure nanoGPT's shakespeare_char data exists in the checkout; returns its data directory."""

    data_dir = peer / "data" / "shakespeare_char"
    if not (peer / "train.py").is_file() or not data_dir.is_dir():
        raise SystemExit(f"--peer {peer}: not a nanoGPT checkout (no train.py or data/shakespeare_char/)")
    if not all((data_dir / f).is_file() for f in ("train.bin", "val.bin", "meta.pkl")):
        text_file = data_dir / "input.txt"
        if not text_file.is_file():  # prepare.py downloads only when input.txt is missing
            text_file.write_text(tiny_shakespeare(), encoding="utf-8")
        subprocess.run([sys.executable, "prepare.py"], cwd=data_dir, check=True, stdout=subprocess.DEVNULL)
    return data_dir


NANOGPT_SEED_LINE = "torch.manual_seed(1337 + seed_offset)"


def seeded_nanogpt_script(peer: Path, seed: int, folder: Path) -> Path:
    """A copy of nanoGPT's ``train.py`` in ``folder`` whose one change is its seed, ``1337 + seed``.

    nanoGPT's train.py has no seed option: it always seeds ``torch.manual_seed(1337 + seed_offset)``
    (seed_offset is the DDP rank, 0 here). Its spread over seeds is measured by running this copy,
    with the checkout as working directory, so it reads the same config, model.py and data. Seed 0
    is nanoGPT's own run. The checkout itself is never written to.
    """
    source = (peer / "train.py").read_text()
    if source.count(NANOGPT_SEED_LINE) != 1:
        raise SystemExit(f"--peer {peer}: train.py does not seed with {NANOGPT_SEED_LINE!r} exactly once; "
                         f"cannot change only its seed")
    script = folder / f"nanogpt_train_seed{seed}.py"
    script.write_text(source.replace(NANOGPT_SEED_LINE, f"torch.manual_seed(1337 + {seed} + seed_offset)"))
    return script


def run_peer(peer: Path, seed: int, work: Path, threads: int | None, val_ids, device: str = "cpu",
             precision: str = "fp32", seeded: bool = False) -> dict:
    """nanoGPT's own train.py with the README's CPU recipe, timed whole; its checkpoint scored like ours.

    nanoGPT seeds with ``1337 + seed_offset`` and has no seed option. Without ``seeded`` every
    run is that one run (``seed`` only labels it; runs differ only through thread scheduling);
    with ``seeded``, run ``seed`` seeds with ``1337 + seed`` (:func:`seeded_nanogpt_script`).
    """
    prepare_peer(peer)
    out_dir = work / "nanogpt"
    env = _env(threads)
    env["_CWD"] = str(peer)
    script = "train.py"
    if seeded:
        work.mkdir(parents=True, exist_ok=True)
        script = str(seeded_nanogpt_script(peer, seed, work))
        env["PYTHONPATH"] = str(peer) + os.pathsep + env.get("PYTHONPATH", "")  # its model.py, from the checkout
    args = [sys.executable, script, *nanogpt_args(device, precision), f"--out_dir={out_dir}"]
    wall, cpu = _run_child(args, env, work / "nanogpt.log", 2000, f"nanoGPT seed {seed}", r"iter (\d+):")
    model, ckpt = load_nanogpt_checkpoint(out_dir / "ckpt.pt")
    diff = check_against_nanogpt(model, ckpt, peer, val_ids)
    if diff > 1e-4:
        raise SystemExit(f"our reading of nanoGPT's checkpoint differs from its model.py by {diff:.2e}")
    return {"val_loss": round(windowed_val_loss(model, val_ids), 4), "wall_s": round(wall, 2),
            "cpu_s": round(cpu, 2), "iters": int(ckpt["iter_num"]), "own_val_loss": round(float(ckpt["best_val_loss"]), 4),
            "logit_check_max_diff": diff, "torch_seed": 1337 + (seed if seeded else 0)}


# --- the ablation --------------------------------------------------------------------------------


def _merge_run(path: Path, meta: dict, key: str, figures: dict) -> dict:
    """Add one run to the results file, read and rewritten under its lock (several seeds may run at once)."""
    with file_lock(path, wait=True):
        results = json.loads(path.read_text()) if path.is_file() else {}
        results.setdefault("meta", meta)
        results.setdefault("runs", {})[key] = figures
        results["meta"]["updated"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        write_json_atomically(path, results)
    return results


def run_ablation(path: Path, seeds: list[int], budget_s: float, val_ids, say, only=None, command: str = "") -> dict:
    """Every variant of :data:`ABLATION` (or those named in ``only``) for ``budget_s`` CPU seconds per seed.

    Single-threaded children; the budget is counted in the child's CPU time (see
    :func:`time_budget`). Resumable: runs already in ``path`` are skipped, and
    several invocations (one per seed, say) may share one file. Seeds are the outer
    loop, variants the inner one, so a shared machine's load falls on every variant alike.
    """

    meta = {"command": command, "budget_cpu_s": budget_s,
            "threads": 1, "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
            "torch": torch.__version__, "base_recipe": ABLATION_BASE, "estimator": f"{WINDOW}-char windows"}
    results = json.loads(path.read_text()) if path.is_file() else {"runs": {}}
    for seed in seeds:
        for name, variant in ABLATION.items():
            key = f"{name} | seed {seed}"
            if key in results.get("runs", {}) or (only and name not in only):
                continue
            with tempfile.TemporaryDirectory() as tmp:
                load_before = os.getloadavg()[0]
                figures = run_ours(ABLATION_BASE, seed, Path(tmp), 1, val_ids, variant["model"], budget_s,
                                   label=key, optimizer=variant.get("optimizer"))
            figures.update(variant=name, seed=seed, load_avg_1min=round(load_before, 2),
                           date=time.strftime("%Y-%m-%d", time.gmtime()))
            results = _merge_run(path, meta, key, figures)
            say(f"{key}: val {figures['val_loss']:.4f} in {figures['iters']} iters")
    return results


def ablation_table(results: dict) -> list[dict]:
    """Per variant: mean, min and max val loss over seeds, mean iterations (in :data:`ABLATION` order)."""
    rows = []
    for name in ABLATION:
        runs = [r for r in results["runs"].values() if r["variant"] == name]
        if not runs:
            continue
        losses = [r["val_loss"] for r in runs]
        rows.append({"variant": name, "seeds": len(runs), "mean": statistics.mean(losses), "min": min(losses),
                     "max": max(losses), "iters": statistics.mean(r["iters"] for r in runs)})
    return rows


# --- the command -------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mingpt-lite bench char",
                                     description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", choices=sorted(RECIPES), default="fast", help="our recipe (default fast)")
    parser.add_argument("--seed", type=int, default=0, help="seed of our run (default 0)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="several seeds, one after another")
    parser.add_argument("--peer", type=Path, default=None, help="a nanoGPT checkout: run its CPU recipe side by side")
    parser.add_argument("--peer-seeds", action="store_true",
                        help="seed nanoGPT with each --seeds value too (1337 + seed; a copy of its train.py with only "
                        "the seed line changed), to measure its spread over seeds; without it every nanoGPT run "
                        "is its one fixed-seed run")
    parser.add_argument("--out", type=Path, default=None, help="keep our model as OUT/model.safetensors")
    parser.add_argument("--threads", type=positive(), default=None,
                        help="CPU threads of every child process (OMP_NUM_THREADS; default: torch's choice)")
    parser.add_argument("--ablation", type=Path, default=None,
                        help="run the ablation, results appended to this JSON file (resumable)")
    parser.add_argument("--budget", type=positive(float), default=10.0,
                        help="ablation: CPU seconds of training per run, single-threaded (default 10)")
    parser.add_argument("--tokenizer", type=Path, default=None,
                        help="train our side on the BPE tokens of this tokenizer file (Tokenizer.save) instead of "
                        "characters; adds val_bits_per_char. Not with --peer or --ablation")
    parser.add_argument("--iters", type=positive(), default=None,
                        help="override our recipe's step count (for quick checks; the recipes are the figures)")
    add_device_options(parser, "nanoGPT (its --device and --dtype; both are scored on the CPU)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.child:  # the timed training process
        spec = json.loads(args.child)
        figures = train_recipe(spec["recipe"], spec["seed"], Path(spec["out"]), spec["threads"], progress=True,
                               model_overrides=spec["model_overrides"], budget_s=spec["budget_s"],
                               iters=spec["iters"], optimizer=spec["optimizer"], device=spec["device"],
                               precision=spec["precision"], tokenizer=spec.get("tokenizer"))
        print(json.dumps(figures), flush=True)
        return 0


    def say(message):
        print(message, file=sys.stderr, flush=True)

    tokenizer = None
    if args.tokenizer is not None:
        if args.peer or args.ablation:
            print("error: --tokenizer trains our side on tokens; --peer and --ablation are character runs, "
                  "leave them out", file=sys.stderr)
            return 2
        try:
            tokenizer = Tokenizer.load(args.tokenizer)
        except (OSError, ValueError) as err:
            print(f"error: --tokenizer: {err}", file=sys.stderr)
            return 2
        args.tokenizer = str(args.tokenizer.resolve())  # the child may run elsewhere
    if tokenizer is not None:
        val_ids = TokenDataset.from_corpus(tokenizer).data["val"]
    else:
        val_ids = CharDataset.from_corpus("tinyshakespeare").data["val"]
    device = str(pick_device(args.device))  # one device for ours and nanoGPT, resolved once
    seeds = args.seeds if args.seeds is not None else [args.seed]
    if args.ablation:
        command = "mingpt-lite bench char " + " ".join(sys.argv[1:] if argv is None else argv)
        results = run_ablation(args.ablation, seeds, args.budget, val_ids, say, command=command)
        rows = ablation_table(results)
        for row in rows:
            say(f"{row['variant']:34s} {row['mean']:.4f} [{row['min']:.4f}, {row['max']:.4f}] "
                f"({row['seeds']} seeds, {row['iters']:.0f} iters)")
        print(json.dumps({"ablation": str(args.ablation), "table": rows}))
        return 0

    per_seed = []
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        if args.out:  # the folder is this run's alone: a second run into it is refused, not mixed in
            try:
                stack.enter_context(run_lock(args.out))
            except RunFolderError as err:
                print(f"error: {err}", file=sys.stderr)
                return 1
        for seed in seeds:
            work = Path(tmp) / f"seed{seed}"
            out = args.out if (args.out and len(seeds) == 1) else (args.out / f"seed{seed}" if args.out else work / "ours")
            load = os.getloadavg()[0]
            ours = run_ours(args.recipe, seed, out, args.threads, val_ids, label=f"ours seed {seed}", iters=args.iters,
                            device=device, precision=args.precision, tokenizer=args.tokenizer)
            say(f"seed {seed} ours ({args.recipe}): val {ours['val_loss']:.4f}, wall {ours['wall_s']:.1f} s, "
                f"{ours['iters']} iters")
            entry = {"seed": seed, "ours": ours, "load_avg_1min_before": round(load, 2)}
            if args.peer:
                peer = run_peer(args.peer.resolve(), seed, work, args.threads, val_ids, device, args.precision,
                                seeded=args.peer_seeds)
                say(f"seed {seed} nanoGPT: val {peer['val_loss']:.4f}, wall {peer['wall_s']:.1f} s, "
                    f"{peer['iters']} iters (its own estimate {peer['own_val_loss']:.4f})")
                entry["peer"] = peer
                entry["ratio"] = round(ours["wall_s"] / peer["wall_s"], 4)
                entry["cpu_ratio"] = round(ours["cpu_s"] / peer["cpu_s"], 4)
            entry["load_avg_1min_after"] = round(os.getloadavg()[0], 2)
            per_seed.append(entry)
    ours_runs = [e["ours"] for e in per_seed]
    result = {"recipe": args.recipe, "device": device, "precision": args.precision, "threads": args.threads, "estimator": f"{WINDOW}-char windows, whole val split",
              "val_loss": max(r["val_loss"] for r in ours_runs), "wall_s": max(r["wall_s"] for r in ours_runs),
              "iters": ours_runs[0]["iters"], "runs": per_seed}
    if tokenizer is not None:
        result["tokenizer"] = args.tokenizer
        result["estimator"] = f"{WINDOW}-token windows, whole val split"
        result["val_bits_per_char"] = max(r["val_bits_per_char"] for r in ours_runs)
    if args.peer:
        result["peer_val_loss"] = min(e["peer"]["val_loss"] for e in per_seed)
        result["ratio"] = max(e["ratio"] for e in per_seed)
        result["cpu_ratio"] = max(e["cpu_ratio"] for e in per_seed)
        result["all_seeds_at_or_below_peer"] = all(e["ours"]["val_loss"] <= e["peer"]["val_loss"] for e in per_seed)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
