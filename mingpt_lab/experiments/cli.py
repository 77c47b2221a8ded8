"""The ``mingpt-lite experiments`` command line: the sweeps whose results the chapters show as data.

    mingpt-lite experiments sort-grid --out chapters/data/sorting_grid.json \\
        --lengths 4,6,8 --vocabs 3,6 --seeds 0,1,2,3,4 --max-iters 4000
    mingpt-lite experiments norm-seeds --out chapters/data/post_ln_seeds.json --seeds 3407,0,1,2,3
    mingpt-lite experiments generation-seeds --out chapters/data/07_generation_seeds.json --seeds 0,1,2,3,4
    mingpt-lite experiments char-seeds --out chapters/data/09_char_seeds.json --seeds 0,1,2,3,4
    mingpt-lite experiments tokens-seeds --out chapters/data/14_tokens_seeds.json --seeds 0,1,2

All are resumable: run the same command again after an interruption (or with more seeds or
cells) and only the missing runs are computed.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence

import torch

from mingpt_lite.data import SortTask

from mingpt_lab.arguments import int_list, positive
from mingpt_lab.experiments.char import shakespeare_item
from mingpt_lab.experiments.generation import generation_item
from mingpt_lab.experiments.norms import NORM_DEEP, NORM_DEMO, norm_item_checked
from mingpt_lab.experiments.results import environment, read_results, run_many
from mingpt_lab.experiments.sorting import PEAK_LR, solve_item
from mingpt_lab.experiments.tokens import TOKENIZERS, tokens_item

# ---------------------------------------------------------------------------


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
    command = "mingpt-lite experiments " + " ".join(argv)
    return {"command": command, **environment(), "threads_per_run": threads}


def main(argv: Sequence[str] | None = None) -> int:
    """The ``mingpt-lite experiments`` command line (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="mingpt-lite experiments", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    grid = sub.add_parser("sort-grid", help="steps until stably solved, over sort tasks and seeds (chapter 8)")
    grid.add_argument("--out", required=True, type=Path, help="result file (JSON); rerun to resume")
    grid.add_argument("--model", default="gpt-nano", choices=sorted(PEAK_LR))
    grid.add_argument("--lengths", type=int_list(0), default=[4, 6, 8], help="e.g. 4,6,8 (with --vocabs: every pair)")
    grid.add_argument("--vocabs", type=int_list(0), default=[3])
    grid.add_argument("--cells", type=_cells, default=None, help="explicit LxV pairs, e.g. 8x8,16x16 (instead)")
    grid.add_argument("--seeds", type=int_list(0), default=[0, 1, 2, 3, 4])
    grid.add_argument("--max-iters", type=positive(), default=4000)
    grid.add_argument("--no-boost", action="store_true", help="train without the repeat-boosting rejection")
    grid.add_argument("--processes", type=positive(), default=None)
    norms = sub.add_parser("norm-seeds", help="chapter 6's runs (three blocks, five deep models) over seeds")
    norms.add_argument("--out", required=True, type=Path)
    norms.add_argument("--seeds", type=int_list(0), default=[3407, 0, 1, 2, 3])
    norms.add_argument("--deep-iters", type=positive(), default=200)
    norms.add_argument("--only", choices=("demo", "deep"), default=None, help="run only one of the two parts")
    norms.add_argument("--names", default=None,
                       help="only these runs, separated by ';' (e.g. 'post, 12 layers;pre, 12 layers')")
    norms.add_argument("--threads", type=positive(), default=1,
                       help="torch threads per run (default 1; recorded in each run's key when not 1)")
    norms.add_argument("--processes", type=positive(), default=None)
    gen = sub.add_parser("generation-seeds", help="chapter 7's two models over seeds")
    gen.add_argument("--out", required=True, type=Path)
    gen.add_argument("--seeds", type=int_list(0), default=[0, 1, 2, 3, 4])
    gen.add_argument("--threads", type=positive(), default=1)
    gen.add_argument("--processes", type=positive(), default=None)
    char = sub.add_parser("char-seeds", help="chapter 9's character model on Tiny Shakespeare over seeds")
    char.add_argument("--out", required=True, type=Path)
    char.add_argument("--seeds", type=int_list(0), default=[0, 1, 2, 3, 4])
    char.add_argument("--max-iters", type=positive(), default=450)
    char.add_argument("--threads", type=positive(), default=1)
    char.add_argument("--processes", type=positive(), default=None)
    tokens = sub.add_parser("tokens-seeds", help="chapter 14: characters vs BPE 512 and 1024 at equal FLOPs, over seeds")
    tokens.add_argument("--out", required=True, type=Path)
    tokens.add_argument("--seeds", type=int_list(0), default=[0, 1, 2])
    tokens.add_argument("--threads", type=positive(), default=1)
    tokens.add_argument("--processes", type=positive(), default=None)
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    capability = torch.backends.cpu.get_cpu_capability()

    # The kernels and (when not 1) the threads of a run are part of its key (see results.in_item_setting).
    threads = {} if getattr(args, "threads", 1) == 1 else {"threads": args.threads}
    if args.command == "generation-seeds":
        items = [dict(seed=seed, kernels=capability, **threads) for seed in args.seeds]
        function, description = generation_item, "generation-seeds"
    elif args.command == "char-seeds":
        items = [dict(seed=seed, max_iters=args.max_iters, kernels=capability, **threads) for seed in args.seeds]
        function, description = shakespeare_item, "char-seeds"
    elif args.command == "tokens-seeds":
        items = [dict(tokenizer=tokenizer, seed=seed, kernels=capability, **threads)
                 for seed in args.seeds for tokenizer in TOKENIZERS]
        function, description = tokens_item, "tokens-seeds"
    elif args.command == "sort-grid":
        cells = args.cells if args.cells is not None else [(L, V) for V in args.vocabs for L in args.lengths]
        for length, vocab in cells:  # the task's own rules, before any run starts
            try:
                SortTask(length=length, num_digits=vocab)
            except ValueError as err:
                parser.error(f"length {length} x vocabulary {vocab}: {err}")
        items = [dict(model=args.model, length=L, num_digits=V, seed=seed, max_iters=args.max_iters,
                      boost=not args.no_boost) for (L, V) in cells for seed in args.seeds]
        # Cheapest first: short sequences, then small vocabularies.
        items.sort(key=lambda item: (item["length"] * item["num_digits"] ** 0.5, item["seed"]))
        function, description = solve_item, "sort-grid"
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
        function, description = norm_item_checked, "norm-seeds"
    if args.processes is None and threads:  # one run per `threads` cores
        args.processes = max(1, (os.cpu_count() or 1) // args.threads)
    if args.out.exists():  # a damaged file is one line, before anything is computed
        try:
            read_results(args.out)
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
    results = run_many(function, items, args.out, about=_about(argv, getattr(args, "threads", 1)), processes=args.processes,
                       description=description)
    print(f"{len(results)} runs in {args.out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
