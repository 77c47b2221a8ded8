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
--resume continues where the run stopped. Launched by torchrun, the
training commands run data-parallel (see :mod:`mingpt_lite.distributed`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import torch

MODEL_FILE, STATE_FILE, DATA_FILE = "model.safetensors", "training_state.pt", "data.json"


# --- arguments -----------------------------------------------------------------------------


def _training_options(parser: argparse.ArgumentParser, *, preset: str, iters: int, batch_size: int,
                      lr: float, dropout: float, block_size_help: str | None = None) -> None:
    model = parser.add_argument_group("model")
    model.add_argument("--preset", default=preset,
                       help=f"minGPT size: gpt-nano (3 layers, 3 heads, 48 wide), gpt-micro (4/4/128), "
                       f"gpt-mini (6/6/192), ... (default {preset})")
    model.add_argument("--n-layer", type=int, help="override the preset's number of blocks")
    model.add_argument("--n-head", type=int, help="override the preset's attention heads")
    model.add_argument("--n-embd", type=int, help="override the preset's width")
    model.add_argument("--norm", choices=("pre", "post", "notes-bug"), default="pre",
                       help="LayerNorm placement in each block (default pre, as GPT-2)")
    model.add_argument("--dropout", type=float, default=dropout, help=f"dropout probability (default {dropout})")
    if block_size_help:
        model.add_argument("--block-size", type=int, default=128, help=block_size_help)
    train = parser.add_argument_group("training")
    train.add_argument("--iters", type=int, default=iters, help=f"optimizer steps (default {iters})")
    train.add_argument("--batch-size", type=int, default=batch_size,
                       help=f"sequences per step, over all processes (default {batch_size})")
    train.add_argument("--lr", type=float, default=lr, help=f"peak learning rate (default {lr})")
    train.add_argument("--schedule", choices=("constant", "cosine"), default="constant",
                       help="learning-rate schedule after warmup (default constant)")
    train.add_argument("--warmup", type=int, default=0, help="linear warmup steps (default 0)")
    train.add_argument("--min-lr", type=float, default=0.0, help="end of the cosine schedule (default 0)")
    train.add_argument("--weight-decay", type=float, default=0.1, help="AdamW weight decay on Linear weights (default 0.1)")
    train.add_argument("--grad-clip", type=float, default=1.0, help="clip the gradient norm to this; 0 disables (default 1.0)")
    train.add_argument("--eval-interval", type=int, default=0,
                       help="evaluate held-out loss every N steps (default 0: only at the end)")
    train.add_argument("--seed", type=int, default=3407, help="seed for weights, batches and dropout (default 3407)")
    train.add_argument("--device", default=None, help="cpu, cuda, mps (default: $MINGPT_DEVICE, else the best available)")
    train.add_argument("--compile", action="store_true", help="torch.compile the model for training")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    out = parser.add_argument_group("output")
    out.add_argument("--out", type=Path, default=None,
                     help="run directory for model.safetensors, training_state.pt and data.json "
                     "(default runs/<command>)")
    out.add_argument("--checkpoint-interval", type=int, default=500,
                     help="save the training state every N steps, and always at the end (default 500)")
    out.add_argument("--resume", action="store_true", help="continue the run saved in --out")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of python -m mingpt_lite.train."""
    parser = argparse.ArgumentParser(
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
    task.add_argument("--length", type=int, default=6, help="digits per problem (default 6)")
    task.add_argument("--num-digits", type=int, default=3, help="distinct digits, i.e. the vocabulary (default 3)")
    _training_options(sort, preset="gpt-nano", iters=2000, batch_size=64, lr=5e-4, dropout=0.1)

    char = commands.add_parser("char", help="train a character-level language model on a text",
                               description="Train a character-level GPT. The vocabulary is the text's characters; "
                               "the last --val-fraction of the text is held out. Prints validation loss and a sample.")
    data = char.add_argument_group("data")
    data.add_argument("--text", type=Path, default=None,
                      help="UTF-8 text file to train on instead of --corpus")
    data.add_argument("--corpus", choices=("tinyshakespeare", "python-docs"), default="tinyshakespeare",
                      help="a corpus available offline: Tiny Shakespeare (ships with the package; the default) "
                      "or python-docs (Python's own documentation topics); ignored with --text")
    data.add_argument("--val-fraction", type=float, default=0.1, help="share of the text held out (default 0.1)")
    _training_options(char, preset="gpt-micro", iters=2000, batch_size=32, lr=1e-3, dropout=0.1,
                      block_size_help="context length in characters (default 128)")

    ev = commands.add_parser("eval", help="evaluate a trained run",
                             description="Sort runs: accuracy by greedy generation on --problems problems of each "
                             "split. Char runs: mean loss on --batches held-out batches.")
    ev.add_argument("--run", type=Path, required=True, help="run directory written by the sort or char command")
    ev.add_argument("--problems", type=int, default=5000, help="sort: problems per split (default 5000)")
    ev.add_argument("--batches", type=int, default=50, help="char: batches of 32 per split (default 50)")
    ev.add_argument("--seed", type=int, default=0, help="seed for drawing the evaluation problems/windows (default 0)")
    ev.add_argument("--device", default=None, help="device to evaluate on (default: best available)")

    sample = commands.add_parser("sample", help="generate from a trained run",
                                 description="Continue a prompt. Sort runs: the prompt is the digits to sort, "
                                 "e.g. '2 0 1 1 0 2'. Char runs: any text in the vocabulary.")
    sample.add_argument("--run", type=Path, required=True, help="run directory written by the sort or char command")
    sample.add_argument("--prompt", default=None, help="digits (sort) or text (char); default: a random test problem or a newline")
    sample.add_argument("--tokens", type=int, default=200, help="char: characters to generate (default 200)")
    sample.add_argument("--greedy", action="store_true", help="take the most likely token each step instead of sampling")
    sample.add_argument("--temperature", type=float, default=1.0, help="divide logits by this before sampling (default 1.0)")
    sample.add_argument("--top-k", type=int, default=None, help="sample only among the k most likely tokens")
    sample.add_argument("--seed", type=int, default=0, help="seed for sampling (default 0)")
    sample.add_argument("--device", default=None, help="device to run on (default: best available)")
    return parser


# --- training ---------------------------------------------------------------------------------


def _model_config(args, vocab_size: int, block_size: int):
    from .config import GPTConfig

    overrides = {k: v for k, v in (("n_layer", args.n_layer), ("n_head", args.n_head), ("n_embd", args.n_embd)) if v}
    return GPTConfig.from_preset(args.preset, vocab_size=vocab_size, block_size=block_size,
                                 dropout=args.dropout, norm=args.norm, **overrides)


def _train(args, data, data_record: dict, say) -> "Trainer":  # noqa: F821
    from .checkpoint import save_model
    from .distributed import init_distributed, shutdown
    from .model import GPT
    from .trainer import Trainer, TrainerConfig

    info = init_distributed(device=args.device)
    try:
        out = args.out or Path("runs") / args.command
        state_path = out / STATE_FILE
        config = TrainerConfig(
            max_iters=args.iters, batch_size=args.batch_size, learning_rate=args.lr,
            lr_schedule=args.schedule, warmup_iters=args.warmup, min_lr=args.min_lr,
            weight_decay=args.weight_decay, grad_clip=args.grad_clip or None,
            eval_interval=args.eval_interval, seed=args.seed, device=str(info.device),
            compile=args.compile, progress=not args.no_progress and info.is_main,
            checkpoint_path=str(state_path), checkpoint_interval=args.checkpoint_interval,
        )
        torch.manual_seed(args.seed)
        model = GPT(_model_config(args, data.vocab_size, data.block_size))
        if args.resume:
            if not state_path.is_file():
                raise SystemExit(f"--resume: no {STATE_FILE} in {out}")
            trainer = Trainer.resume(state_path, model, data, config)
            say(f"resuming at iteration {trainer.iter_num} of {args.iters}")
        else:
            trainer = Trainer(model, data, config)
        if info.is_main:
            out.mkdir(parents=True, exist_ok=True)
            (out / DATA_FILE).write_text(json.dumps(data_record))
        say(f"{model.num_parameters() / 1e6:.3f}M parameters, training on {info.device}"
            + (f" x {info.world_size} processes ({info.backend})" if info.world_size > 1 else ""))
        if args.eval_interval:
            trainer.add_callback("on_eval", lambda t: say(
                f"iter {t.iter_num}: " + ", ".join(f"{k} {v:.4f}" for k, v in t.evaluations[-1].items() if k != "iter")))
        trainer.train()
        if info.is_main:
            save_model(trainer.model, out / MODEL_FILE)
        say(f"trained {trainer.iter_num} iterations in {trainer.train_time:.1f} s "
            f"({trainer.ms_per_iter:.2f} ms/iter); final training loss {trainer.losses[-1]:.5f}; saved in {out}")
        return trainer
    finally:
        shutdown()


def cmd_sort(args, say) -> dict:
    """Train the sort task; returns the final accuracies."""
    from .data import SortTask, sort_accuracy

    task = SortTask(length=args.length, num_digits=args.num_digits)
    trainer = _train(args, task, {"kind": "sort", "length": task.length, "num_digits": task.num_digits}, say)
    if trainer.rank != 0:
        return {}
    generator = torch.Generator().manual_seed(0)
    result = {}
    for split in ("train", "test"):
        problems = task.sample_problems(split, 1000, generator)
        result[f"{split}_accuracy"] = sort_accuracy(trainer.model, task, problems)
    say(f"accuracy on 1000 problems: train {result['train_accuracy']:.2%}, test {result['test_accuracy']:.2%}")
    return result


def cmd_char(args, say) -> dict:
    """Train a character model; returns the final held-out loss."""
    from .data import CharDataset

    if args.text is not None:
        data = CharDataset.from_file(args.text, args.block_size, args.val_fraction)
        source = str(args.text.resolve())
    else:
        data = CharDataset.from_corpus(args.corpus, args.block_size, args.val_fraction)
        source = f"corpus:{args.corpus}"
    record = {"kind": "char", "chars": data.chars, "text": source, "block_size": args.block_size,
              "val_fraction": args.val_fraction}
    trainer = _train(args, data.to(_device_of(args)), record, say)
    if trainer.rank != 0:
        return {}
    losses = trainer.evaluate()
    say(f"held-out loss {losses['val_loss']:.4f} (train {losses['train_loss']:.4f})")
    prompt = torch.tensor([[data.stoi.get("\n", 0)]], device=trainer.device)
    generator = torch.Generator(device=trainer.device).manual_seed(args.seed)
    text = data.decode(trainer.model.generate(prompt, 200, do_sample=True, generator=generator)[0].cpu())
    say("sample:\n" + text)
    return {"val_loss": losses["val_loss"], "train_loss": losses["train_loss"]}


def _device_of(args) -> torch.device:
    """The device this process will train on (its own GPU under torchrun)."""
    from .distributed import init_distributed

    return init_distributed(device=args.device).device


# --- using a trained run ------------------------------------------------------------------------


def _load_run(run: Path, device):
    from .checkpoint import load_model
    from .device import pick_device

    if not (run / MODEL_FILE).is_file() or not (run / DATA_FILE).is_file():
        raise SystemExit(f"{run} is not a finished run: it needs {MODEL_FILE} and {DATA_FILE}")
    device = pick_device(device)
    model = load_model(run / MODEL_FILE, device=device)
    record = json.loads((run / DATA_FILE).read_text())
    return model.eval(), record, device


def _char_data(record: dict, device):
    from .data import CharDataset, default_corpus, load_corpus

    source = record["text"]
    if source == "default":  # runs saved before the corpus option: Python's docs
        text = default_corpus()
    elif source.startswith("corpus:"):
        text = load_corpus(source.removeprefix("corpus:"))
    else:
        text = Path(source).read_text(encoding="utf-8")
    data = CharDataset(text, record["block_size"], record["val_fraction"], device)
    if data.chars != record["chars"]:
        raise SystemExit(f"the text at {record['text']} no longer has the vocabulary the model was trained on")
    return data


def cmd_eval(args, say) -> dict:
    """Accuracy (sort) or held-out loss (char) of a saved run."""
    from .data import SortTask, sort_accuracy
    from .loss import lm_loss

    model, record, device = _load_run(args.run, args.device)
    generator = torch.Generator().manual_seed(args.seed)
    result = {}
    if record["kind"] == "sort":
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


def cmd_sample(args, say) -> dict:
    """Generate from a saved run: sort a prompt, or continue text."""
    from .data import SortTask

    model, record, device = _load_run(args.run, args.device)
    generator = torch.Generator(device=device).manual_seed(args.seed)
    options = dict(do_sample=not args.greedy, temperature=args.temperature, top_k=args.top_k)
    if not args.greedy:
        options["generator"] = generator
    if record["kind"] == "sort":
        task = SortTask(length=record["length"], num_digits=record["num_digits"])
        if args.prompt is None:
            digits = task.sample_problems("test", 1, torch.Generator().manual_seed(args.seed))[0].tolist()
        else:
            try:
                digits = [int(d) for d in args.prompt.replace(",", " ").split()]
            except ValueError:
                raise SystemExit(f"--prompt must be digits separated by spaces, got {args.prompt!r}") from None
        if len(digits) != task.length or not all(0 <= d < task.num_digits for d in digits):
            raise SystemExit(f"--prompt needs {task.length} digits in 0..{task.num_digits - 1}, got {digits}")
        out = model.generate(torch.tensor([digits], device=device), task.length, **options)[0, task.length:].tolist()
        say(f"input {digits} -> model {out} (sorted: {sorted(digits)}, {'correct' if out == sorted(digits) else 'wrong'})")
        return {"input": digits, "output": out, "correct": out == sorted(digits)}
    data = _char_data(record, "cpu")
    text = "\n" if args.prompt is None else args.prompt
    try:
        prompt = data.encode(text)[None].to(device)
    except ValueError as err:
        raise SystemExit(str(err)) from None
    out = model.generate(prompt[:, -model.config.block_size:], args.tokens, **options)
    sample = data.decode(out[0].cpu())
    say(sample)
    return {"text": sample}


COMMANDS = {"sort": cmd_sort, "char": cmd_char, "eval": cmd_eval, "sample": cmd_sample}


def main(argv=None) -> int:
    """Entry point of python -m mingpt_lite.train."""
    args = build_parser().parse_args(argv)
    from .distributed import launched_by_torchrun

    main_process = not launched_by_torchrun() or os.environ.get("RANK", "0") == "0"

    def say(message: str) -> None:
        if main_process:
            print(message, flush=True)

    COMMANDS[args.command](args, say)
    return 0


if __name__ == "__main__":
    sys.exit(main())
