"""The ``mingpt-lite`` command: train the sort task or a character model, evaluate, sample.

    mingpt-lite train sort --out runs/sort
    mingpt-lite train char --text input.txt --out runs/char
    mingpt-lite eval --run runs/sort
    mingpt-lite sample --run runs/char --prompt "def " --tokens 200
    mingpt-lite experiments ...      (mingpt_lab.experiments: the chapters' precomputed runs)
    mingpt-lite bench ...            (mingpt_lab.bench: benchmarks)

``python -m mingpt_lab`` is the same command. A run folder holds three files:
model.safetensors (weights and model config, see mingpt_lite.modelfile),
training_state.pt (everything needed to continue training, see mingpt_lite.runstate)
and data.json (what the model was trained on: the sort task's size, or the character
vocabulary and text). Training again with the same --out and --resume continues where
the run stopped; an --out that already holds a run is refused without --resume (or
--overwrite, which replaces it). One run at a time owns a folder: a second run into it
is refused, naming the first one's process. Launched by torchrun, the training commands
run data-parallel (see mingpt_lite.distributed).

Errors are one line on stderr (exit status 2 for a wrong command line, 1 for a run
that failed). Ctrl-C, SIGTERM and SIGHUP (what a scheduler sends to preempt a job) all
finish the current step, save, say where in one line and exit with 130, 143 or 129;
--resume continues. --debug (or MINGPT_DEBUG=1) shows the traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
from pathlib import Path

import torch

from mingpt_lab.arguments import from_rule, positive
from mingpt_lab.bench.__main__ import main as bench_main
from mingpt_lab.experiments.cli import main as experiments_main
from mingpt_lite.callbacks import SIGNALS
from mingpt_lite.config import NORM_PLACEMENTS, GPTConfig, IntegerRule, NumberRule, field_rule
from mingpt_lite.data import (
    CharDataset, SortTask, TokenDataset, default_corpus, load_corpus, read_text_file, sort_accuracy,
)
from mingpt_lite.device import pick_device
from mingpt_lite.distributed import init_distributed, shutdown
from mingpt_lite.loss import lm_loss
from mingpt_lite.generation import GREEDY_BELOW
from mingpt_lite.model import GPT
from mingpt_lite.modelfile import CheckpointError, load_model, save_model
from mingpt_lite.runstate import (
    DATA_FILE,
    MODEL_FILE,
    PREVIOUS_STATE_FILE,
    RUN_FILES,
    STATE_FILE,
    DiskFullError,
    RunFolderError,
    RunFolderLocked,
    TrainingStateError,
    load_state,
    remove_stale_temporaries,
    run_lock,
    write_json_atomically,
)
from mingpt_lite.tokenizer import Tokenizer
from mingpt_lite.trainer import DivergenceError, Trainer, TrainerConfig

PROG = "mingpt-lite"
DEBUG_ENV = "MINGPT_DEBUG"
EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130  # 128 + the signal's number, as a shell reports it
# Signals that mean "stop now, please": Ctrl-C, and what Slurm, Kubernetes, Docker and systemd send.
STOP_SIGNALS = tuple(number for number in SIGNALS if number != signal.SIGINT)  # Ctrl-C is Python's own
DEFAULT_LR = {"sort": 5e-4, "char": 1e-3}
# Bounds on what would otherwise run for days or fill the memory (a sort problem of a million
# digits needs a 2-million-token context; a billion sampled tokens take about 11 days).
MAX_SORT_LENGTH, MAX_NUM_DIGITS, MAX_TOKENS = 1000, 1000, 100_000


class UsageError(Exception):
    """The command line asks for something that cannot be done; the message says what to change."""


# --- argument types: the configs' own rules ---------------------------------------------------------


def _model_rule(name: str):
    return from_rule(field_rule(GPTConfig, name))


def _trainer_rule(name: str):
    return from_rule(field_rule(TrainerConfig, name))


POSITIVE, COUNT = positive(), from_rule(IntegerRule(0))


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line on stderr (exit status 2) instead of usage + error."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# --- arguments -----------------------------------------------------------------------------


def _training_options(parser: argparse.ArgumentParser, *, task: str, preset: str, iters: int, batch_size: int,
                      dropout: float, block_size_help: str | None = None) -> None:
    lr = DEFAULT_LR[task]
    model = parser.add_argument_group("model")
    model.add_argument("--preset", default=preset,
                       help=f"minGPT size: gpt-nano (3 layers, 3 heads, 48 wide), gpt-micro (4/4/128), "
                       f"gpt-mini (6/6/192), ... (default {preset})")
    model.add_argument("--n-layer", type=_model_rule("n_layer"), help="override the preset's number of blocks")
    model.add_argument("--n-head", type=_model_rule("n_head"), help="override the preset's attention heads")
    model.add_argument("--n-embd", type=_model_rule("n_embd"), help="override the preset's width")
    model.add_argument("--norm", choices=NORM_PLACEMENTS, default="pre",
                       help="LayerNorm placement in each block (default pre, as GPT-2)")
    model.add_argument("--dropout", type=_model_rule("dropout"), default=dropout,
                       help=f"dropout probability (default {dropout})")
    if block_size_help:
        model.add_argument("--block-size", type=_model_rule("block_size"), default=128, help=block_size_help)
    train = parser.add_argument_group("training")
    train.add_argument("--iters", type=_trainer_rule("max_iters"), default=iters,
                       help=f"optimizer steps (default {iters})")
    train.add_argument("--batch-size", type=_trainer_rule("batch_size"), default=batch_size,
                       help=f"sequences per step, over all processes (default {batch_size})")
    train.add_argument("--lr", type=_trainer_rule("learning_rate"), default=lr,
                       help=f"peak learning rate (default {lr})")
    train.add_argument("--schedule", choices=field_rule(TrainerConfig, "lr_schedule").choices, default="constant",
                       help="learning-rate schedule after warmup (default constant)")
    train.add_argument("--warmup", type=_trainer_rule("warmup_iters"), default=0,
                       help="linear warmup steps (default 0)")
    train.add_argument("--min-lr", type=_trainer_rule("min_lr"), default=0.0,
                       help="end of the cosine or linear schedule (default 0)")
    train.add_argument("--weight-decay", type=_trainer_rule("weight_decay"), default=0.1,
                       help="AdamW weight decay on Linear weights (default 0.1)")
    train.add_argument("--grad-clip", type=_trainer_rule("grad_clip"), default=1.0,
                       help="clip the gradient norm to this; 0 disables (default 1.0)")
    train.add_argument("--eval-interval", type=_trainer_rule("eval_interval"), default=0,
                       help="evaluate held-out loss every N steps (default 0: only at the end)")
    train.add_argument("--seed", type=_trainer_rule("seed"), default=3407,
                       help="seed for weights, batches and dropout (default 3407)")
    train.add_argument("--device", default=None,
                       help="cpu, cuda, mps (default: $MINGPT_DEVICE, else the best available)")
    train.add_argument("--compile", action="store_true", help="torch.compile the model for training")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    out = parser.add_argument_group("output")
    out.add_argument("--out", type=Path, default=None,
                     help=f"run folder for {MODEL_FILE}, {STATE_FILE} and {DATA_FILE} (default runs/{task})")
    out.add_argument("--checkpoint-interval", type=_trainer_rule("checkpoint_interval"), default=500,
                     help=f"save the training state every N steps, and always at the end (default 500); "
                     f"the previous save is kept as {PREVIOUS_STATE_FILE}")
    out.add_argument("--resume", action="store_true",
                     help="continue the run saved in --out (a changed --lr, --batch-size, --seed ... "
                     "is used from here on, and printed)")
    out.add_argument("--overwrite", action="store_true",
                     help="replace the run in --out, if there is one (without it, an existing run is refused)")
    _debug_option(parser)


def _debug_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--debug", action="store_true",
                        help=f"show the full traceback when something fails (or set {DEBUG_ENV}=1)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``mingpt-lite`` (train, eval, sample)."""
    parser = _Parser(
        prog=PROG,
        description="Train, evaluate and sample mingpt_lite models from the command line.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    commands = parser.add_subparsers(dest="command", required=True,
                                     metavar="{train,eval,sample,experiments,bench}")

    train = commands.add_parser("train", help="train a model: train sort, or train char",
                                description="Train a model on the sort task or on a text.")
    tasks = train.add_subparsers(dest="task", required=True, metavar="{sort,char}")
    sort = tasks.add_parser("sort", help="train a model to sort digits (minGPT's demo task)",
                            description="Train on minGPT's sort task: read --length digits, write them sorted. "
                            "Defaults are minGPT demo.ipynb's settings. Prints train/test accuracy at the end.")
    task = sort.add_argument_group("task")
    task.add_argument("--length", type=from_rule(IntegerRule(1, MAX_SORT_LENGTH)), default=6,
                      help="digits per problem (default 6)")
    task.add_argument("--num-digits", type=from_rule(IntegerRule(2, MAX_NUM_DIGITS)), default=3,
                      help="distinct digits, i.e. the vocabulary (default 3)")
    _training_options(sort, task="sort", preset="gpt-nano", iters=2000, batch_size=64, dropout=0.1)

    char = tasks.add_parser("char", help="train a character-level language model on a text",
                            description="Train a character-level GPT. The vocabulary is the text's characters; "
                            "the last --val-fraction of the text is held out. Prints validation loss and a sample.")
    data = char.add_argument_group("data")
    data.add_argument("--text", type=Path, default=None,
                      help="UTF-8 text file to train on instead of --corpus")
    data.add_argument("--corpus", choices=("tinyshakespeare", "python-docs"), default="tinyshakespeare",
                      help="a corpus available offline: Tiny Shakespeare (ships with the package; the default) "
                      "or python-docs (Python's own documentation topics); ignored with --text")
    data.add_argument("--val-fraction", type=from_rule(NumberRule(0, 1, low_open=True, high_open=True)), default=0.1,
                      help="share of the text held out (default 0.1)")
    data.add_argument("--tokenizer", type=Path, default=None,
                      help="a BPE tokenizer file written by mingpt_lite.tokenizer.Tokenizer.save: train on its "
                      "tokens instead of characters (--block-size then counts tokens); the run keeps a copy")
    _training_options(char, task="char", preset="gpt-micro", iters=2000, batch_size=32, dropout=0.1,
                      block_size_help="context length in characters (default 128)")

    ev = commands.add_parser("eval", help="evaluate a trained run",
                             description="Sort runs: accuracy by greedy generation on --problems problems of each "
                             "split. Char runs: mean loss on --batches held-out batches.")
    ev.add_argument("--run", type=Path, required=True, help="run folder written by train sort or train char")
    ev.add_argument("--problems", type=from_rule(IntegerRule(1, 1_000_000)), default=5000,
                    help="sort: problems per split (default 5000)")
    ev.add_argument("--batches", type=from_rule(IntegerRule(1, 100_000)), default=50,
                    help="char: batches of 32 per split (default 50)")
    ev.add_argument("--seed", type=_trainer_rule("seed"), default=0,
                    help="seed for drawing the evaluation problems/windows (default 0)")
    ev.add_argument("--device", default=None, help="device to evaluate on (default: best available)")
    _debug_option(ev)

    sample = commands.add_parser("sample", help="generate from a trained run",
                                 description="Continue a prompt. Sort runs: the prompt is the digits to sort, "
                                 "e.g. '2 0 1 1 0 2'. Char runs: any text in the vocabulary.")
    sample.add_argument("--run", type=Path, required=True, help="run folder written by train sort or train char")
    sample.add_argument("--prompt", default=None,
                        help="digits (sort) or text (char); default: a random test problem, or a newline "
                        "(the text's first character if it has no newline)")
    sample.add_argument("--tokens", type=from_rule(IntegerRule(0, MAX_TOKENS)), default=200,
                        help=f"char: characters to generate (default 200, at most {MAX_TOKENS})")
    sample.add_argument("--greedy", action="store_true",
                        help="take the most likely token each step instead of sampling")
    sample.add_argument("--temperature", type=from_rule(NumberRule(0, low_open=True)), default=1.0,
                        help=f"divide logits by this before sampling (default 1.0; below {GREEDY_BELOW:g} "
                        f"it is --greedy)")
    sample.add_argument("--top-k", type=POSITIVE, default=None, help="sample only among the k most likely tokens")
    sample.add_argument("--seed", type=_trainer_rule("seed"), default=0, help="seed for sampling (default 0)")
    sample.add_argument("--device", default=None, help="device to run on (default: best available)")
    _debug_option(sample)

    # Listed so --help shows them; console_main hands their arguments to their own parsers.
    commands.add_parser("experiments", help="the chapters' precomputed runs (mingpt-lite experiments --help)",
                        add_help=False)
    commands.add_parser("bench", help="benchmarks against minGPT and nanoGPT (mingpt-lite bench --help)",
                        add_help=False)
    return parser


# --- training ---------------------------------------------------------------------------------


@contextlib.contextmanager
def _usage_errors(what: str = ""):
    """Inside: a ValueError/TypeError or a wrong path comes from the command line's values."""
    try:
        yield
    except (ValueError, TypeError, FileNotFoundError, IsADirectoryError, NotADirectoryError) as err:
        raise UsageError(f"{what}{err}") from err


def _model_config(args, vocab_size: int, block_size: int) -> GPTConfig:
    overrides = {k: v for k, v in (("n_layer", args.n_layer), ("n_head", args.n_head), ("n_embd", args.n_embd))
                 if v is not None}
    return GPTConfig.from_preset(args.preset, vocab_size=vocab_size, block_size=block_size,
                                 dropout=args.dropout, norm=args.norm, **overrides)


def _out_dir(args) -> Path:
    return args.out or Path("runs") / args.task


def check_out_dir(args) -> None:
    """Refuse to start over a run without --overwrite, or to --resume one that is not there."""
    out = _out_dir(args)
    if args.resume and args.overwrite:
        raise UsageError("--resume continues the run in --out and --overwrite replaces it: choose one")
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a folder")
    for name in RUN_FILES:
        if (out / name).is_dir():
            raise UsageError(f"{out / name} is a folder where the run's {name} belongs; "
                             f"move it away or pick another --out")
    present = [name for name in RUN_FILES if (out / name).exists()]
    if args.resume:
        if not (out / STATE_FILE).is_file() and not (out / PREVIOUS_STATE_FILE).is_file():
            raise UsageError(f"--resume: there is no run to continue in {out} (no {STATE_FILE}); "
                             f"start one by leaving out --resume")
    elif present and not args.overwrite:
        raise UsageError(f"{out} already holds a run ({', '.join(present)}); continue it with --resume, "
                         f"or replace it with --overwrite, or pick another --out")


def _clear_run(out: Path) -> None:
    """--overwrite: remove the earlier run's files (only those; anything else in --out stays)."""
    for name in RUN_FILES:
        with contextlib.suppress(FileNotFoundError):
            (out / name).unlink()


_FLAGS = {"learning_rate": "--lr", "batch_size": "--batch-size", "seed": "--seed", "lr_schedule": "--schedule",
          "warmup_iters": "--warmup", "min_lr": "--min-lr", "weight_decay": "--weight-decay",
          "grad_clip": "--grad-clip", "eval_interval": "--eval-interval",
          "checkpoint_interval": "--checkpoint-interval"}


def _saved_iteration(state_path: Path) -> int:
    """The iteration of the checkpoint to resume; a damaged one says how to use the one before it."""
    try:
        return int(load_state(state_path)["iter_num"])
    except TrainingStateError as err:
        if (state_path.parent / PREVIOUS_STATE_FILE).is_file():
            raise TrainingStateError(f"{err}; move {state_path} aside and --resume continues from it") from err
        raise


def _train(args, data, data_record: dict, say, context: dict) -> Trainer:
    out = _out_dir(args)
    with _usage_errors("--device: "):
        try:
            info = init_distributed(device=args.device)
        except RuntimeError as err:
            raise UsageError(f"--device {args.device}: {err}; pick another with --device (cpu works everywhere)") from err
    try:
        state_path = out / STATE_FILE
        if args.resume and not state_path.is_file():  # a crash between the two renames of a rotation
            os.replace(out / PREVIOUS_STATE_FILE, state_path)
        with _usage_errors():
            config = TrainerConfig(
                max_iters=args.iters, batch_size=args.batch_size, learning_rate=args.lr,
                lr_schedule=args.schedule, warmup_iters=args.warmup, min_lr=args.min_lr,
                weight_decay=args.weight_decay, grad_clip=args.grad_clip or None,
                eval_interval=args.eval_interval, seed=args.seed, device=str(info.device),
                compile=args.compile, progress=not args.no_progress and info.is_main,
                checkpoint_path=str(state_path), checkpoint_interval=args.checkpoint_interval,
                checkpoint_start=True,
            )
            torch.manual_seed(args.seed)
            model = GPT(_model_config(args, data.vocab_size, data.block_size))
        if args.resume:
            if (out / DATA_FILE).is_file():
                stored = _read_record(out)
                if stored != data_record:
                    changed = ", ".join(f"{k} {stored.get(k)!r} -> {data_record.get(k)!r}"
                                        for k in sorted(set(stored) | set(data_record))
                                        if k != "chars" and stored.get(k) != data_record.get(k))
                    raise UsageError(f"--resume: the run in {out} was trained on other data ({changed or 'another vocabulary'}); "
                                     f"use the data options it was started with, or start a new run in another --out")
            saved = _saved_iteration(state_path)
            if args.iters < saved:
                raise UsageError(f"--resume: the run in {out} is at iteration {saved}, past --iters {args.iters}; "
                                 f"give a larger --iters to continue it")
            with _usage_errors(f"--resume: cannot continue the run in {out}: "):
                trainer = Trainer.resume(state_path, model, data, config)
            say(f"resuming at iteration {trainer.iter_num} of {args.iters}")
            for name, old, new in trainer.config_changes():
                say(f"changed since the run was saved: {_FLAGS.get(name, name)} {old} -> {new} (used from here on)")
        else:
            with _usage_errors():
                trainer = Trainer(model, data, config)
        context["trainer"] = trainer
        if info.is_main:
            if args.overwrite:
                _clear_run(out)
            out.mkdir(parents=True, exist_ok=True)
            remove_stale_temporaries(out)  # the run files' temporaries left by a run that was killed
            write_json_atomically(out / DATA_FILE, data_record, indent=None)
        say(f"{model.num_parameters() / 1e6:.3f}M parameters, training on {info.device}"
            + (f" x {info.world_size} processes ({info.backend})" if info.world_size > 1 else ""))
        if args.eval_interval:
            trainer.add_callback("on_eval", lambda t: say(
                f"iter {t.iter_num}: " + ", ".join(f"{k} {v:.4f}" for k, v in t.evaluations[-1].items() if k != "iter")))
        trainer.train()
        if info.is_main:
            save_model(trainer.model, out / MODEL_FILE)
        final = f"final training loss {trainer.losses[-1]:.5f}" if trainer.losses else "no training steps"
        say(f"trained {trainer.iter_num} iterations in {trainer.train_time:.1f} s "
            f"({trainer.ms_per_iter:.2f} ms/iter); {final}; saved in {out}")
        return trainer
    finally:
        shutdown()


def cmd_sort(args, say, context) -> dict:
    """Train the sort task; returns the final accuracies."""
    with _usage_errors():
        task = SortTask(length=args.length, num_digits=args.num_digits)
    trainer = _train(args, task, {"kind": "sort", "length": task.length, "num_digits": task.num_digits}, say, context)
    if trainer.rank != 0:
        return {}
    generator = torch.Generator().manual_seed(0)
    result = {}
    for split in ("train", "test"):
        problems = task.sample_problems(split, 1000, generator)
        result[f"{split}_accuracy"] = sort_accuracy(trainer.model, task, problems)
    say(f"accuracy on 1000 problems: train {result['train_accuracy']:.2%}, test {result['test_accuracy']:.2%}")
    return result


def _tokenizer_record(tokenizer: Tokenizer) -> dict:
    """A tokenizer as data.json keeps it: the fields of its file (see ``Tokenizer.save``), so the
    run folder holds everything eval and sample need even if the original file goes away."""
    return {"pattern": tokenizer.pattern, "byte_order": list(tokenizer.byte_order),
            "merges": [list(pair) for pair in tokenizer.merges], "special_tokens": dict(tokenizer.special_tokens)}


def cmd_char(args, say, context) -> dict:
    """Train a character model (or a token model with --tokenizer); returns the final held-out loss."""
    tokenizer = None
    if args.tokenizer is not None:
        with _usage_errors("--tokenizer: "):
            tokenizer = Tokenizer.load(args.tokenizer)
    with _usage_errors("--text: " if args.text is not None else ""):
        text = read_text_file(args.text) if args.text is not None else load_corpus(args.corpus)
        source = str(args.text.resolve()) if args.text is not None else f"corpus:{args.corpus}"
    with _usage_errors("--text: " if args.text is not None else ""):
        if tokenizer is None:
            data = CharDataset(text, args.block_size, args.val_fraction)
        else:
            data = TokenDataset(text, tokenizer, args.block_size, args.val_fraction)
    record = {"kind": "char", "chars": data.chars if tokenizer is None else [], "text": source,
              "block_size": args.block_size, "val_fraction": args.val_fraction}
    if tokenizer is not None:
        record["tokenizer"] = _tokenizer_record(tokenizer)
    trainer = _train(args, data.to(_device_of(args)), record, say, context)
    if trainer.rank != 0:
        return {}
    losses = trainer.evaluate()
    say(f"held-out loss {losses['val_loss']:.4f} (train {losses['train_loss']:.4f})")
    if tokenizer is None:
        prompt = torch.tensor([[data.stoi.get("\n", 0)]], device=trainer.device)
    else:
        prompt = data.encode("\n")[None].to(trainer.device)
    generator = torch.Generator(device=trainer.device).manual_seed(args.seed)
    text = data.decode(trainer.model.generate(prompt, 200, do_sample=True, generator=generator)[0].cpu())
    say("sample:\n" + text)
    return {"val_loss": losses["val_loss"], "train_loss": losses["train_loss"]}


def _device_of(args):
    """The device this process will train on (its own GPU under torchrun)."""
    try:
        return init_distributed(device=args.device).device
    except (RuntimeError, ValueError) as err:
        raise UsageError(f"--device {args.device}: {err}; pick another with --device (cpu works everywhere)") from err


def cmd_train(args, say, context) -> dict:
    """``train sort`` / ``train char``, holding the run folder's lock for the whole run."""
    out = _out_dir(args)
    if not out.is_dir():
        check_out_dir(args)  # the usual mistakes are refused before the folder is even created
    with contextlib.ExitStack() as held:
        if os.environ.get("RANK", "0") == "0":  # under torchrun only rank 0 writes the run's files
            try:
                held.enter_context(run_lock(out))
            except RunFolderLocked as err:
                holder = f"process {err.pid}" if err.pid is not None else "another process"
                raise RunFolderLocked(f"--out {out} is in use by another run ({holder}); wait for it to finish, "
                                      f"or pick another --out", err.folder, err.pid) from None
        check_out_dir(args)  # again: now no other run can change the folder under us
        return {"sort": cmd_sort, "char": cmd_char}[args.task](args, say, context)


# --- using a trained run ------------------------------------------------------------------------

# What each field of data.json must be: the same rules as the options that wrote it.
_RECORD_RULES = {
    "sort": {"length": IntegerRule(1, MAX_SORT_LENGTH), "num_digits": IntegerRule(2, MAX_NUM_DIGITS)},
    "char": {"block_size": field_rule(GPTConfig, "block_size"),
             "val_fraction": NumberRule(0, 1, low_open=True, high_open=True)},
}
_RECORD_KEYS = {"sort": ("length", "num_digits"), "char": ("chars", "text", "block_size", "val_fraction")}


def _read_record(run: Path) -> dict:
    """data.json of a run, checked: a damaged or foreign file is named, not a KeyError."""
    path = run / DATA_FILE
    if path.is_dir():
        raise UsageError(f"{path} is a folder where the run's {DATA_FILE} belongs; move it away")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise UsageError(f"{path} is damaged (not JSON: {err}); train the run again") from None
    kind = record.get("kind") if isinstance(record, dict) else None
    if kind not in _RECORD_KEYS:
        raise UsageError(f"{path} does not describe a sort or char run (kind {kind!r}); train the run again")
    missing = [key for key in _RECORD_KEYS[kind] if key not in record]
    if missing:
        raise UsageError(f"{path} lacks {', '.join(map(repr, missing))}: it is damaged or was not written by "
                         f"this command; train the run again")
    try:
        for key, rule in _RECORD_RULES[kind].items():
            rule.check(key, record[key])
        if kind == "char" and "tokenizer" in record:
            _record_tokenizer(record)  # a token run: its tokenizer must load
        elif kind == "char" and (not isinstance(record["chars"], list) or not record["chars"]
                               or not all(isinstance(c, str) and len(c) == 1 for c in record["chars"])):
            raise ValueError(f"chars must be a list of single characters, got {str(record['chars'])[:40]}")
        if kind == "char" and not isinstance(record["text"], str):
            raise ValueError(f"text must be a path or corpus name, got {record['text']!r}")
    except ValueError as err:
        raise UsageError(f"{path} is damaged: {err}; train the run again") from None
    return record


def _record_tokenizer(record: dict) -> Tokenizer:
    """The tokenizer a token run's data.json holds (ValueError if it is not a valid one)."""
    state = record["tokenizer"]
    if not isinstance(state, dict) or not {"pattern", "byte_order", "merges", "special_tokens"} <= set(state):
        raise ValueError("its tokenizer is not a tokenizer's fields (pattern, byte_order, merges, special_tokens)")
    try:
        return Tokenizer(state["merges"], state["pattern"], state["byte_order"], state["special_tokens"])
    except (TypeError, AttributeError) as err:
        raise ValueError(f"its tokenizer is damaged: {err}") from None


def _check_fits(model: GPT, record: dict, run: Path) -> None:
    """Refuse a model whose vocabulary or context does not fit the run's data.json."""
    if record["kind"] == "sort":
        vocab, block = record["num_digits"], 2 * record["length"] - 1
    elif "tokenizer" in record:
        vocab, block = _record_tokenizer(record).vocab_size, record["block_size"]
    else:
        vocab, block = len(record["chars"]), record["block_size"]
    config = model.config
    if config.vocab_size != vocab or config.block_size < block:
        raise UsageError(
            f"{run / MODEL_FILE} does not fit {run / DATA_FILE}: the model has vocab_size {config.vocab_size} and "
            f"block_size {config.block_size}, the data needs vocab_size {vocab} and block_size {block}; "
            f"the two files come from different runs")


def _load_run(run: Path, device):
    if not run.is_dir():
        raise UsageError(f"--run {run}: no such folder")
    for name in (MODEL_FILE, DATA_FILE):
        if (run / name).is_dir():
            raise UsageError(f"{run / name} is a folder where the run's {name} belongs; move it away")
    if not (run / MODEL_FILE).is_file() or not (run / DATA_FILE).is_file():
        hint = (f"; it has {STATE_FILE}: finish it with the training command and --out {run} --resume"
                if (run / STATE_FILE).is_file() else "")
        raise UsageError(f"{run} is not a finished run: it needs {MODEL_FILE} and {DATA_FILE}{hint}")
    record = _read_record(run)
    try:
        device = pick_device(device)
    except RuntimeError as err:
        raise UsageError(f"--device {device}: {err}; pick another with --device (cpu works everywhere)") from err
    model = load_model(run / MODEL_FILE, device=device)
    _check_fits(model, record, run)
    return model.eval(), record, device


def _char_data(record: dict, device) -> CharDataset:
    source = record["text"]
    try:
        if source == "default":  # runs saved before the corpus option: Python's docs
            text = default_corpus()
        elif source.startswith("corpus:"):
            text = load_corpus(source.removeprefix("corpus:"))
        else:
            text = read_text_file(source)
        if "tokenizer" in record:
            return TokenDataset(text, _record_tokenizer(record), record["block_size"], record["val_fraction"], device)
        data = CharDataset(text, record["block_size"], record["val_fraction"], device)
    except (OSError, ValueError) as err:
        raise UsageError(f"the run's text cannot be used: {err}") from err
    if data.chars != record["chars"]:
        raise UsageError(f"the text at {record['text']} no longer has the vocabulary the model was trained on")
    return data


def cmd_eval(args, say, context) -> dict:
    """Accuracy (sort) or held-out loss (char) of a saved run."""
    model, record, device = _load_run(args.run, args.device)
    generator = torch.Generator().manual_seed(args.seed)
    result = {}
    if record["kind"] == "sort":
        with _usage_errors(f"{args.run / DATA_FILE}: "):
            task = SortTask(length=record["length"], num_digits=record["num_digits"])
        for split in ("train", "test"):
            problems = task.sample_problems(split, args.problems, generator)
            result[f"{split}_accuracy"] = sort_accuracy(model, task, problems)
        say(f"accuracy on {args.problems} problems per split: train {result['train_accuracy']:.2%}, "
            f"test {result['test_accuracy']:.2%}")
    else:
        data = _char_data(record, "cpu")
        with torch.no_grad():
            for split in data.splits:
                total = 0.0
                for _ in range(args.batches):
                    x, y = data.get_batch(split, 32, generator)
                    total += lm_loss(model(x.to(device)), y.to(device)).item()
                result[f"{split}_loss"] = total / args.batches
        say(f"mean loss over {args.batches} batches: train {result['train_loss']:.4f}, val {result['val_loss']:.4f}")
    return result


def cmd_sample(args, say, context) -> dict:
    """Generate from a saved run: sort a prompt, or continue text."""
    model, record, device = _load_run(args.run, args.device)
    generator = torch.Generator(device=device).manual_seed(args.seed)
    # a temperature below GREEDY_BELOW is greedy decoding inside generate itself
    options = dict(do_sample=not args.greedy, temperature=args.temperature, top_k=args.top_k)
    if not args.greedy:
        options["generator"] = generator
    if record["kind"] == "sort":
        with _usage_errors(f"{args.run / DATA_FILE}: "):
            task = SortTask(length=record["length"], num_digits=record["num_digits"])
        if args.prompt is None:
            digits = task.sample_problems("test", 1, torch.Generator().manual_seed(args.seed))[0].tolist()
        else:
            try:
                digits = [int(d) for d in args.prompt.replace(",", " ").split()]
            except ValueError:
                raise UsageError(f"--prompt must be digits separated by spaces, got {args.prompt!r}") from None
        if len(digits) != task.length or not all(0 <= d < task.num_digits for d in digits):
            raise UsageError(f"--prompt needs {task.length} digits in 0..{task.num_digits - 1}, got {digits}")
        out = model.generate(torch.tensor([digits], device=device), task.length, **options)[0, task.length:].tolist()
        say(f"input {digits} -> model {out} (sorted: {sorted(digits)}, {'correct' if out == sorted(digits) else 'wrong'})")
        return {"input": digits, "output": out, "correct": out == sorted(digits)}
    data = _char_data(record, "cpu")
    # The default prompt is a newline, as in training's sample; a text without one starts
    # from its first character, as training does there too.
    if args.prompt is not None:
        text = args.prompt
    elif isinstance(data, TokenDataset):
        text = "\n"  # any text has BPE tokens
    else:
        text = "\n" if "\n" in data.stoi else data.chars[0]
    if not text:
        raise UsageError("--prompt is empty; give at least one character")
    try:
        prompt = data.encode(text)[None].to(device)
    except ValueError as err:
        raise UsageError(f"--prompt: {err}") from None
    out = model.generate(prompt[:, -model.config.block_size:], args.tokens, **options)
    sample = data.decode(out[0].cpu())
    say(sample)
    return {"text": sample}


COMMANDS = {"train": cmd_train, "eval": cmd_eval, "sample": cmd_sample}


# --- stopping and errors ------------------------------------------------------------------------------


@contextlib.contextmanager
def _stop_signals_as_ctrl_c(context: dict):
    """SIGTERM and SIGHUP stop the command as Ctrl-C does; ``context["signal"]`` says which came.

    Inside ``Trainer.train()`` the Trainer's own handlers take over (finish the step, save);
    this covers the rest of the command (building the model, loading data, evaluating).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        context["signal"] = signum
        raise KeyboardInterrupt

    previous = {number: signal.signal(number, stop) for number in STOP_SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _stop_signal(err: BaseException, context: dict) -> int | None:
    """The signal that stopped the command: the Trainer's record of it, else ours (None: no signal)."""
    trainer = context.get("trainer")
    for number in (getattr(err, "signum", None), getattr(trainer, "interrupted_by", None), context.get("signal")):
        if isinstance(number, int):
            return int(number)
    return None


def _failure(err: BaseException, args, context: dict) -> tuple[int, str]:
    """(exit status, one line) for an exception that ended a command."""
    if isinstance(err, UsageError):
        return EXIT_USAGE, str(err)
    if isinstance(err, KeyboardInterrupt):
        number = _stop_signal(err, context)
        status = 128 + number if number is not None else EXIT_INTERRUPTED
        trainer = context.get("trainer")
        if trainer is None:
            return status, "interrupted; nothing was saved"
        out = _out_dir(args)
        if trainer.last_checkpoint is not None and trainer.last_checkpoint[0] == trainer.iter_num:
            where = f"the run is saved in {out} at iteration {trainer.iter_num}"
        elif trainer.last_checkpoint is not None:
            where = f"the checkpoint of iteration {trainer.last_checkpoint[0]} in {out} is intact"
        else:
            return status, f"interrupted at iteration {trainer.iter_num}; nothing was saved"
        return status, f"interrupted at iteration {trainer.iter_num}; {where}; continue with --resume"
    if isinstance(err, DivergenceError):
        what = str(err).split("; try a lower learning_rate")[0]
        default = DEFAULT_LR.get(getattr(args, "task", None), args.lr)
        lower = f"{default if args.lr > default else args.lr / 10:g}"
        if err.checkpoint is not None:
            advice = f"continue from that checkpoint with a lower learning rate: --resume --lr {lower}"
        else:
            advice = f"start again with a lower learning rate: --overwrite --lr {lower}"
        return EXIT_FAILED, f"{what}; {advice} (or add --warmup, or --grad-clip 1)"
    if isinstance(err, DiskFullError):
        return EXIT_FAILED, f"{err}; free some space and continue with --resume"
    if isinstance(err, (CheckpointError, TrainingStateError, RunFolderError)):
        return EXIT_FAILED, str(err)
    if isinstance(err, OSError):
        return EXIT_FAILED, f"{err.strerror or err}" + (f": {err.filename}" if err.filename else "")
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return EXIT_FAILED, f"{type(err).__name__}: {text} (run again with --debug for the traceback)"


def main(argv=None) -> int:
    """``mingpt-lite ...``: returns the exit status.

    ``experiments ...`` and ``bench ...`` go to those modules' own command lines; everything
    else is this module's (train, eval, sample).
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "experiments":
        return experiments_main(argv[1:])
    if argv and argv[0] == "bench":
        return bench_main(argv[1:])
    parser = build_parser()
    if argv and argv[0] in ("sort", "char"):  # the command line before the console script
        parser.error(f"training is now '{PROG} train {argv[0]} ...'")
    args = parser.parse_args(argv)
    debug = args.debug or os.environ.get(DEBUG_ENV, "") not in ("", "0")
    main_process = os.environ.get("RANK", "0") == "0"
    stdout_open = [True]

    def say(message: str) -> None:
        if not (main_process and stdout_open[0]):
            return
        try:
            print(message, flush=True)
        except BrokenPipeError:
            # e.g. `... | head -1` has read all it wants: keep training, stop printing
            stdout_open[0] = False
            with contextlib.suppress(OSError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())

    context: dict = {}
    try:
        with _stop_signals_as_ctrl_c(context):
            COMMANDS[args.command](args, say, context)
    except (Exception, KeyboardInterrupt) as err:
        if debug:
            raise
        status, line = _failure(err, args, context)
        if main_process or status < 128:
            with contextlib.suppress(OSError):
                print(line if status >= 128 else f"error: {line}", file=sys.stderr, flush=True)
        return status
    return 0


def console_main(argv=None) -> int:
    """The ``mingpt-lite`` console script (and ``python -m mingpt_lab``): :func:`main`."""
    return main(argv)


if __name__ == "__main__":
    sys.exit(console_main())
