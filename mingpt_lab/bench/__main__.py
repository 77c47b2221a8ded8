"""Dispatch ``mingpt-lite bench NAME ...`` (also ``mingpt-lite bench``) to ``mingpt_lab.bench.NAME.main``."""

import importlib
import sys

BENCHMARKS = {
    "sort": "train the sort task (minGPT's demo settings by default) and report speed and accuracy",
    "char": "Tiny Shakespeare: our recipe (nanogpt-cpu or the fast speedrun) vs nanoGPT's CPU recipe; one val-loss estimator",
    "generate": "tokens/s of generation with and without the KV cache",
    "tokenizer": "byte-level BPE training on Tiny Shakespeare: ours vs HF tokenizers, time and bytes per token",
    "jax_generate": "JAX generation three ways (growing, padded, KV cache in one jit): XLA compilations and time",
}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in BENCHMARKS:
        print("usage: mingpt-lite bench NAME [options]   (NAME --help for options)\n")
        for name, what in BENCHMARKS.items():
            print(f"  {name:10s} {what}")
        if argv and argv[0] not in ("-h", "--help"):
            print(f"\nunknown benchmark {argv[0]!r}", file=sys.stderr)
            return 2
        return 0
    module = importlib.import_module(f"mingpt_lab.bench.{argv[0]}")
    return module.main(argv[1:]) or 0


if __name__ == "__main__":
    sys.exit(main())
