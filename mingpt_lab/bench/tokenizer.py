"""Byte-level BPE training, side by side: mingpt_lite.tokenizer.train_bpe and HF `tokenizers`.

Both train on Tiny Shakespeare's training split (the first int(0.9 * len) characters, as
CharDataset and chapter 09 cut it) with GPT-2's pre-split, and are scored in UTF-8 bytes per
token on the validation split. `tokenizers` runs in a child process per thread count
(RAYON_NUM_THREADS is read when its thread pool starts). Both trainers must give the same
token counts (they learn the same merges); the times are wall clock, the minimum of
:data:`REPEATS` runs, and mean something only on an otherwise idle machine (the JSON records
the load average before and after).

    mingpt-lite bench tokenizer --out chapters/data/tokenizer_bench.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import torch

from mingpt_lite.data import split_text, tiny_shakespeare
from mingpt_lite.runstate import write_json_atomically
from mingpt_lite.tokenizer import bytes_to_unicode, gpt2_tokenizer, train_bpe

from mingpt_lab.arguments import int_list, positive

VOCAB_SIZES = (256, 512, 1024, 2048)
REPEATS = 3


def timed(fn, repeats=REPEATS):
    """``fn()``'s result and its wall times over ``repeats`` calls."""
    seconds, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        seconds.append(time.perf_counter() - start)
    return result, {"min_s": round(min(seconds), 3), "median_s": round(statistics.median(seconds), 3),
                    "runs_s": [round(s, 3) for s in seconds]}


def run_ours(train, val, sizes=VOCAB_SIZES, repeats=REPEATS):
    """train_bpe at each size: times, validation tokens, and the vocabulary (hex bytes) to compare."""
    rows = {}
    for v in sizes:
        tok, timing = timed(lambda: train_bpe(train, v), repeats)
        ids = tok.encode(val)
        assert tok.decode(ids) == val
        rows[v] = {**timing, "val_tokens": len(ids), "vocab": [p.hex() for p in tok.vocab]}
    return rows


def run_hf(train, val, sizes=VOCAB_SIZES, repeats=REPEATS):
    """In a child process: HF tokenizers' BPE trainer, byte-level, GPT-2's regex, no special tokens."""
    # an optional dependency (the bench extra), imported only in the child that uses it
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    rows = {}
    for v in sizes:
        def fit():
            tok = Tokenizer(models.BPE())
            # use_regex=True: the GPT-2 pattern; add_prefix_space=False: no space put before the text
            tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
            tok.decoder = decoders.ByteLevel()
            trainer = trainers.BpeTrainer(vocab_size=v, min_frequency=0, show_progress=False,
                                          initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), special_tokens=[])
            tok.train_from_iterator([train], trainer=trainer)
            return tok

        tok, timing = timed(fit, repeats)
        ids = tok.encode(val).ids
        assert tok.decode(ids) == val
        stand_in = {c: b for b, c in bytes_to_unicode().items()}
        vocab = [bytes(stand_in[c] for c in token).hex() for token in tok.get_vocab()]
        rows[v] = {**timing, "val_tokens": len(ids), "vocab_size": tok.get_vocab_size(), "vocab": vocab}
    return rows


def about(argv) -> dict:
    """The command, machine, versions and load of this measurement."""
    import tokenizers  # optional dependency, as above

    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next((line.split(":", 1)[1].strip() for line in lscpu.splitlines() if line.startswith("Model name")), "?")
    return {
        "command": "mingpt-lite bench tokenizer " + " ".join(argv),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": model,
        "cpu_count": os.cpu_count(),
        "load_average_1_5_15min_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "torch": torch.__version__,
        "tokenizers": tokenizers.__version__,
    }


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="mingpt-lite bench tokenizer", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="write the JSON here (atomically) as well as printing it")
    parser.add_argument("--sizes", type=int_list(256), default=list(VOCAB_SIZES),
                        help="vocabulary sizes, comma-separated, each at least 256 (default 256,512,1024,2048)")
    parser.add_argument("--repeats", type=positive(), default=REPEATS, help=f"runs per size (default {REPEATS})")
    parser.add_argument("--hf-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    train, val = split_text(tiny_shakespeare())  # cut as CharDataset cuts it
    if args.hf_child:
        print(json.dumps(run_hf(train, val, args.sizes, args.repeats)))
        return 0
    info = {**about(argv), "repeats": args.repeats}
    ours = run_ours(train, val, args.sizes, args.repeats)
    hf = {}
    for threads in ("1", str(os.cpu_count())):
        env = {**os.environ, "RAYON_NUM_THREADS": threads}
        child = [sys.executable, "-m", "mingpt_lab.bench", "tokenizer", "--hf-child",
                 "--sizes", ",".join(map(str, args.sizes)), "--repeats", str(args.repeats)]
        out = subprocess.run(child, env=env, capture_output=True, text=True, check=True).stdout
        hf[threads] = {int(k): v for k, v in json.loads(out).items()}
    info["load_average_1_5_15min_at_end"] = [round(x, 2) for x in os.getloadavg()]
    busiest = max(info["load_average_1_5_15min_at_start"][0], info["load_average_1_5_15min_at_end"][0])
    # the 1-minute load includes this benchmark itself (about 1 on its own)
    info["under_load"] = busiest > 2.0
    info["note"] = ("machine shared with other jobs: times are not idle figures" if info["under_load"]
                    else "machine otherwise idle (1-minute load at most 2.0, this benchmark included)")
    val_bytes = len(val.encode("utf-8"))
    gpt2_tokens = len(gpt2_tokenizer().encode(val))
    table = []
    for v in args.sizes:
        o, h1, h2 = ours[v], hf["1"][v], hf[str(os.cpu_count())][v]
        shared = len(set(o["vocab"]) & set(h1["vocab"]))
        table.append({
            "vocab_size": v,
            "ours_train_s": o["min_s"], "ours_runs_s": o["runs_s"],
            "tokenizers_1_thread_train_s": h1["min_s"], "tokenizers_1_thread_runs_s": h1["runs_s"],
            f"tokenizers_{os.cpu_count()}_threads_train_s": h2["min_s"],
            f"tokenizers_{os.cpu_count()}_threads_runs_s": h2["runs_s"],
            "ours_val_tokens": o["val_tokens"], "tokenizers_val_tokens": h1["val_tokens"],
            "ours_val_bytes_per_token": round(val_bytes / o["val_tokens"], 4),
            "tokenizers_val_bytes_per_token": round(val_bytes / h1["val_tokens"], 4),
            "tokens_in_both_vocabularies": shared,
        })
    result = {
        "version": 1,
        "about": [info],
        "what": "byte-level BPE with GPT-2's pre-split trained on Tiny Shakespeare's training split "
                "(first int(0.9*len) characters); bytes per token = UTF-8 bytes of the validation split / its tokens; "
                "train times are the minimum of `repeats` runs (all runs listed), wall clock, one process",
        "train_chars": len(train), "val_chars": len(val), "val_bytes": val_bytes,
        "gpt2_val_tokens": gpt2_tokens, "gpt2_val_bytes_per_token": round(val_bytes / gpt2_tokens, 4),
        "table": table,
    }
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        write_json_atomically(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
