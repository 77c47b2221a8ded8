"""The command line: train the sort task or a character model, evaluate, sample.

    python -m mingpt_lite.train sort --out runs/sort
    python -m mingpt_lite.train char --text input.txt --out runs/char
    python -m mingpt_lite.train eval --run runs/sort
    python -m mingpt_lite.train sample --run runs/char --prompt "def " --tokens 200

A run directory holds three files: model.safetensors (weights and model
config, see :mod:`mingpt_lite.checkpoint`), training_state.pt (everything
needed to continue training, see :mod:`mingpt_lite.training_state`) and
data.json (what the model was trained on: the sort task's size, or the
character vocabulary and text). Training again with the same --out and
--resume continues where the run stopped; an --out that already holds a run
is refused without --resume (or --overwrite, which replaces it). Launched by
torchrun, the training commands run data-parallel (see :mod:`mingpt_lite.distributed`).

Errors are one line on stderr (exit status 2 for a wrong command line, 1 for a
run that failed, 130 after Ctrl-C); --debug (or MINGPT_DEBUG=1) shows the traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
from pathlib import Path

# torch is imported inside the commands: a wrong command line is answered at once.

MODEL_FILE, STATE_FILE, DATA_FILE = "model.safetensors", "training_state.pt", "data.json"
PREVIOUS_STATE_FILE, DIVERGED_STATE_FILE = "training_state.previous.pt", "training_state.diverged.pt"
RUN_FILES = (MODEL_FILE, STATE_FILE, PREVIOUS_STATE_FILE, DIVERGED_STATE_FILE, DATA_FILE)
DEBUG_ENV = "MINGPT_DEBUG"
EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130
DEFAULT_LR = {"sort": 5e-4, "char": 1e-3}


class UsageError(Exception):
    """The command line asks for something that cannot be done; the message says what to change."""


# --- argument types: each refuses a bad value with a message naming the rule ------------------------


def _integer(low: int, high: int | None = None):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low or (high is not None and value > high):
            bound = f"at least {low}" if high is None else f"between {low} and {high}"
            raise argparse.ArgumentTypeError(f"must be {bound}, got {value}")
        return value

    return parse


def _number(low: float | None = None, high: float | None = None, *, low_open=False, high_open=False):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
        too_low = low is not None and (value < low or (low_open and value == low))
        too_high = high is not None and (value > high or (high_open and value == high))
        if too_low or too_high:
            if high is None:
                bound = f"{'above' if low_open else 'at least'} {low:g}"
            else:
                bound = f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
            raise argparse.ArgumentTypeError(f"must be {bound}, got {text}")
        return value

    return parse


POSITIVE, COUNT = _integer(1), _integer(0)
SEED = _integer(0, 2**63 - 1)


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line on stderr (exit status 2) instead of usage + error."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# --- arguments -----------------------------------------------------------------------------


def _training_options(parser: argparse.ArgumentParser, *, preset: str, iters: int, batch_size: int,
                      lr: float, dropout: float, block_size_help: str | None = None) -> None:
    model = parser.add_argument_group("model")
    model.add_argument("--preset", default=preset,
                       help=f"minGPT size: gpt-nano (3 layers, 3 heads, 48 wide), gpt-micro (4/4/128), "
                       f"gpt-mini (6/6/192), ... (default {preset})")
    model.add_argument("--n-layer", type=POSITIVE, help="override the preset's number of blocks")
    model.add_argument("--n-head", type=POSITIVE, help="override the preset's attention heads")
    model.add_argument("--n-embd", type=POSITIVE, help="override the preset's width")
    model.add_argument("--norm", choices=("pre", "post", "notes-bug"), default="pre",
                       help="LayerNorm placement in each block (default pre, as GPT-2)")
    model.add_argument("--dropout", type=_number(0, 1, high_open=True), default=dropout, help=f"dropout probability (default {dropout})")
    if block_size_help:
        model.add_argument("--block-size", type=POSITIVE, default=128, help=block_size_help)
    train = parser.add_argument_group("training")
    train.add_argument("--iters", type=COUNT, default=iters, help=f"optimizer steps (default {iters})")
    train.add_argument("--batch-size", type=POSITIVE, default=batch_size,
                       help=f"sequences per step, over all processes (default {batch_size})")
    train.add_argument("--lr", type=_number(0, low_open=True), default=lr, help=f"peak learning rate (default {lr})")
    train.add_argument("--schedule", choices=("constant", "cosine", "linear"), default="constant",
                       help="learning-rate schedule after warmup (default constant)")
    train.add_argument("--warmup", type=COUNT, default=0, help="linear warmup steps (default 0)")
    train.add_argument("--min-lr", type=_number(0), default=0.0, help="end of the cosine or linear schedule (default 0)")
    train.add_argument("--weight-decay", type=_number(0), default=0.1, help="AdamW weight decay on Linear weights (default 0.1)")
    train.add_argument("--grad-clip", type=_number(0), default=1.0, help="clip the gradient norm to this; 0 disables (default 1.0)")
    train.add_argument("--eval-interval", type=COUNT, default=0,
                       help="evaluate held-out loss every N steps (default 0: only at the end)")
    train.add_argument("--seed", type=SEED, default=3407, help="seed for weights, batches and dropout (default 3407)")
    train.add_argument("--device", default=None, help="cpu, cuda, mps (default: $MINGPT_DEVICE, else the best available)")
    train.add_argument("--compile", action="store_true", help="torch.compile the model for training")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    out = parser.add_argument_group("output")
    out.add_argument("--out", type=Path, default=None,
                     help="run directory for model.safetensors, training_state.pt and data.json "
                     "(default runs/<command>)")
    out.add_argument("--checkpoint-interval", type=COUNT, default=500,
                     help="save the training state every N steps, and always at the end (default 500); "
                     "the previous save is kept as training_state.previous.pt")
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
    """The argument parser of python -m mingpt_lite.train."""
    parser = _Parser(
        prog="python -m mingpt_lite.train",
        description="Train, evaluate and sample mingpt_lite models from the command line.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="{sort,char,eval,sample}")

    sort = commands.add_parser("sort", help="train a model to sort digits (minGPT's demo task)",
                               description="Train on minGPT's sort task: read --length digits, write them sorted. "
                               "Defaults are minGPT demo.ipynb's settings. Prints train/test accuracy at the end.")
    task = sort.add_argument_group("task")
    task.add_argument("--length", type=POSITIVE, default=6, help="digits per problem (default 6)")
    task.add_argument("--num-digits", type=_integer(2), default=3, help="distinct digits, i.e. the vocabulary (default 3)")
    _training_options(sort, preset="gpt-nano", iters=2000, batch_size=64, lr=DEFAULT_LR["sort"], dropout=0.1)

    char = commands.add_parser("char", help="train a character-level language model on a text",
                               description="Train a character-level GPT. The vocabulary is the text's characters; "
                               "the last --val-fraction of the text is held out. Prints validation loss and a sample.")
    data = char.add_argument_group("data")
    data.add_argument("--text", type=Path, default=None,
                      help="UTF-8 text file to train on instead of --corpus")
    data.add_argument("--corpus", choices=("tinyshakespeare", "python-docs"), default="tinyshakespeare",
                      help="a corpus available offline: Tiny Shakespeare (ships with the package; the default) "
                      "or python-docs (Python's own documentation topics); ignored with --text")
    data.add_argument("--val-fraction", type=_number(0, 1, low_open=True, high_open=True), default=0.1, help="share of the text held out (default 0.1)")
    _training_options(char, preset="gpt-micro", iters=2000, batch_size=32, lr=DEFAULT_LR["char"], dropout=0.1,
                      block_size_help="context length in characters (default 128)")

    ev = commands.add_parser("eval", help="evaluate a trained run",
                             description="Sort runs: accuracy by greedy generation on --problems problems of each "
                             "split. Char runs: mean loss on --batches held-out batches.")
    ev.add_argument("--run", type=Path, required=True, help="run directory written by the sort or char command")
    ev.add_argument("--problems", type=POSITIVE, default=5000, help="sort: problems per split (default 5000)")
    ev.add_argument("--batches", type=POSITIVE, default=50, help="char: batches of 32 per split (default 50)")
    ev.add_argument("--seed", type=SEED, default=0, help="seed for drawing the evaluation problems/windows (default 0)")
    ev.add_argument("--device", default=None, help="device to evaluate on (default: best available)")
    _debug_option(ev)

    sample = commands.add_parser("sample", help="generate from a trained run",
                                 description="Continue a prompt. Sort runs: the prompt is the digits to sort, "
                                 "e.g. '2 0 1 1 0 2'. Char runs: any text in the vocabulary.")
    sample.add_argument("--run", type=Path, required=True, help="run directory written by the sort or char command")
    sample.add_argument("--prompt", default=None, help="digits (sort) or text (char); default: a random test problem or a newline")
    sample.add_argument("--tokens", type=COUNT, default=200, help="char: characters to generate (default 200)")
    sample.add_argument("--greedy", action="store_true", help="take the most likely token each step instead of sampling")
    sample.add_argument("--temperature", type=_number(0, low_open=True), default=1.0, help="divide logits by this before sampling (default 1.0)")
    sample.add_argument("--top-k", type=POSITIVE, default=None, help="sample only among the k most likely tokens")
    sample.add_argument("--seed", type=SEED, default=0, help="seed for sampling (default 0)")
    sample.add_argument("--device", default=None, help="device to run on (default: best available)")
    _debug_option(sample)
    return parser


# --- training ---------------------------------------------------------------------------------


@contextlib.contextmanager
def _usage_errors(what: str = ""):
    """Inside: a ValueError/TypeError/FileNotFoundError comes from the command line's values."""
    try:
        yield
    except (ValueError, TypeError, FileNotFoundError) as err:
        raise UsageError(f"{what}{err}") from err


def _model_config(args, vocab_size: int, block_size: int):
    from .config import GPTConfig

    overrides = {k: v for k, v in (("n_layer", args.n_layer), ("n_head", args.n_head), ("n_embd", args.n_embd))
                 if v is not None}
    return GPTConfig.from_preset(args.preset, vocab_size=vocab_size, block_size=block_size,
                                 dropout=args.dropout, norm=args.norm, **overrides)


def _out_dir(args) -> Path:
    return args.out or Path("runs") / args.command


def check_out_dir(args) -> None:
    """Refuse to start over a run without --overwrite, or to --resume one that is not there."""
    out = _out_dir(args)
    present = [name for name in RUN_FILES if (out / name).exists()]
    if args.resume and args.overwrite:
        raise UsageError("--resume continues the run in --out and --overwrite replaces it: choose one")
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a folder")
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


def _write_json(path: Path, record: dict) -> None:
    from .training_state import write_atomically

    write_atomically(path, lambda f: f.write(json.dumps(record).encode()))


_FLAGS = {"learning_rate": "--lr", "batch_size": "--batch-size", "seed": "--seed", "lr_schedule": "--schedule",
          "warmup_iters": "--warmup", "min_lr": "--min-lr", "weight_decay": "--weight-decay",
          "grad_clip": "--grad-clip", "eval_interval": "--eval-interval",
          "checkpoint_interval": "--checkpoint-interval"}


def _train(args, data, data_record: dict, say, context: dict) -> "Trainer":  # noqa: F821
    import torch

    from .checkpoint import save_model
    from .distributed import init_distributed, shutdown
    from .model import GPT
    from .trainer import Trainer, TrainerConfig
    from .training_state import load_state, remove_stale_temporaries

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
            saved = load_state(state_path)["iter_num"]
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
            remove_stale_temporaries(out)  # left by a run that was killed while writing
            _write_json(out / DATA_FILE, data_record)
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
    import torch

    from .data import SortTask, sort_accuracy

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


def cmd_char(args, say, context) -> dict:
    """Train a character model; returns the final held-out loss."""
    import torch

    from .data import CharDataset

    with _usage_errors("--text: " if args.text is not None else ""):
        if args.text is not None:
            data = CharDataset.from_file(args.text, args.block_size, args.val_fraction)
            source = str(args.text.resolve())
        else:
            data = CharDataset.from_corpus(args.corpus, args.block_size, args.val_fraction)
            source = f"corpus:{args.corpus}"
    record = {"kind": "char", "chars": data.chars, "text": source, "block_size": args.block_size,
              "val_fraction": args.val_fraction}
    trainer = _train(args, data.to(_device_of(args)), record, say, context)
    if trainer.rank != 0:
        return {}
    losses = trainer.evaluate()
    say(f"held-out loss {losses['val_loss']:.4f} (train {losses['train_loss']:.4f})")
    prompt = torch.tensor([[data.stoi.get("\n", 0)]], device=trainer.device)
    generator = torch.Generator(device=trainer.device).manual_seed(args.seed)
    text = data.decode(trainer.model.generate(prompt, 200, do_sample=True, generator=generator)[0].cpu())
    say("sample:\n" + text)
    return {"val_loss": losses["val_loss"], "train_loss": losses["train_loss"]}


def _device_of(args):
    """The device this process will train on (its own GPU under torchrun)."""
    from .distributed import init_distributed

    try:
        return init_distributed(device=args.device).device
    except (RuntimeError, ValueError) as err:
        raise UsageError(f"--device {args.device}: {err}; pick another with --device (cpu works everywhere)") from err


# --- using a trained run ------------------------------------------------------------------------

_RECORD_KEYS = {"sort": ("length", "num_digits"), "char": ("chars", "text", "block_size", "val_fraction")}


def _read_record(run: Path) -> dict:
    """data.json of a run, checked: a damaged or foreign file is named, not a KeyError."""
    path = run / DATA_FILE
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
    return record


def _load_run(run: Path, device):
    from .checkpoint import load_model
    from .device import pick_device

    if not run.is_dir():
        raise UsageError(f"--run {run}: no such folder")
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
    return model.eval(), record, device


def _char_data(record: dict, device):
    from .data import CharDataset, default_corpus, load_corpus, read_text_file

    source = record["text"]
    try:
        if source == "default":  # runs saved before the corpus option: Python's docs
            text = default_corpus()
        elif source.startswith("corpus:"):
            text = load_corpus(source.removeprefix("corpus:"))
        else:
            text = read_text_file(source)
        data = CharDataset(text, record["block_size"], record["val_fraction"], device)
    except (OSError, ValueError) as err:
        raise UsageError(f"the run's text cannot be used: {err}") from err
    if data.chars != record["chars"]:
        raise UsageError(f"the text at {record['text']} no longer has the vocabulary the model was trained on")
    return data


def cmd_eval(args, say, context) -> dict:
    """Accuracy (sort) or held-out loss (char) of a saved run."""
    import torch

    from .data import SortTask, sort_accuracy
    from .loss import lm_loss

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
    import torch

    from .data import SortTask

    model, record, device = _load_run(args.run, args.device)
    generator = torch.Generator(device=device).manual_seed(args.seed)
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
    text = "\n" if args.prompt is None else args.prompt
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


COMMANDS = {"sort": cmd_sort, "char": cmd_char, "eval": cmd_eval, "sample": cmd_sample}


# --- errors -------------------------------------------------------------------------------------------


def _failure(err: BaseException, args, context: dict) -> tuple[int, str]:
    """(exit status, one line) for an exception that ended a command."""
    from .checkpoint import CheckpointError
    from .trainer import DivergenceError
    from .training_state import DiskFullError, TrainingStateError

    if isinstance(err, UsageError):
        return EXIT_USAGE, str(err)
    if isinstance(err, KeyboardInterrupt):
        trainer = context.get("trainer")
        if trainer is None:
            return EXIT_INTERRUPTED, "interrupted; nothing was saved"
        out = _out_dir(args)
        if trainer.last_checkpoint is not None and trainer.last_checkpoint[0] == trainer.iter_num:
            where = f"the run is saved in {out} at iteration {trainer.iter_num}"
        elif trainer.last_checkpoint is not None:
            where = f"the checkpoint of iteration {trainer.last_checkpoint[0]} in {out} is intact"
        else:
            return EXIT_INTERRUPTED, f"interrupted at iteration {trainer.iter_num}; nothing was saved"
        return EXIT_INTERRUPTED, f"interrupted at iteration {trainer.iter_num}; {where}; continue with --resume"
    if isinstance(err, DivergenceError):
        what = str(err).split("; try a lower learning_rate")[0]
        default = DEFAULT_LR.get(args.command, args.lr)
        lower = f"{default if args.lr > default else args.lr / 10:g}"
        if err.checkpoint is not None:
            advice = f"continue from that checkpoint with a lower learning rate: --resume --lr {lower}"
        else:
            advice = f"start again with a lower learning rate: --overwrite --lr {lower}"
        return EXIT_FAILED, f"{what}; {advice} (or add --warmup, or --grad-clip 1)"
    if isinstance(err, DiskFullError):
        return EXIT_FAILED, f"{err}; free some space and continue with --resume"
    if isinstance(err, (CheckpointError, TrainingStateError)):
        return EXIT_FAILED, str(err)
    if isinstance(err, OSError):
        return EXIT_FAILED, f"{err.strerror or err}" + (f": {err.filename}" if err.filename else "")
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return EXIT_FAILED, f"{type(err).__name__}: {text} (run again with --debug for the traceback)"


def main(argv=None) -> int:
    """Entry point of python -m mingpt_lite.train: returns the exit status."""
    args = build_parser().parse_args(argv)
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
        if args.command in ("sort", "char"):
            check_out_dir(args)
        COMMANDS[args.command](args, say, context)
    except (Exception, KeyboardInterrupt) as err:
        if debug:
            raise
        status, line = _failure(err, args, context)
        if main_process or status != EXIT_INTERRUPTED:
            with contextlib.suppress(OSError):
                print(f"error: {line}" if status != EXIT_INTERRUPTED else line, file=sys.stderr, flush=True)
        return status
    return 0


if __name__ == "__main__":
    sys.exit(main())
