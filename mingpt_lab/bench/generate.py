"""Generation speed with and without the KV cache (and minGPT's ``generate`` beside them).

    mingpt-lite bench generate                      # gpt-mini, vocab 65, block 256, batch 1 and 32
    mingpt-lite bench generate --peer .peer/minGPT  # also time minGPT's own generate
    mingpt-lite bench generate --batch-sizes 1 --repeats 5 --threads 1

The default setup is the one issue 4 names: gpt-mini (6 layers, 6 heads, 192 wide)
with vocab 65 and block 256, a 1-token prompt and 255 new tokens, greedy. For each
batch size every method runs ``--repeats`` times, the methods taking turns within a
repeat (so a busy neighbour slows all of them alike), and the medians are reported.
Every method must produce the same tokens; the JSON says whether they did.

The last line printed is one JSON object. Progress goes to stderr; Ctrl-C prints
what has been measured so far (marked ``"interrupted": true``).

The recomputing methods are slow by design: at batch 32 one run forwards
32 x (1 + 2 + ... + 255) positions, about a minute or more on two CPU cores.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
from tqdm import tqdm

from mingpt_lite.config import GPTConfig
from mingpt_lite.device import describe_device, pick_device
from mingpt_lite.generation import generate
from mingpt_lite.model import GPT

from mingpt_lab.bench import add_device_options

METHODS = ("cache", "plain-cache", "recompute")
DEFAULT_METHODS = ("cache", "recompute")


def _sync(device: torch.device) -> None:
    """Wait for the device: GPU work is queued, so a timer read without this measures only the queueing."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def _autocast_bf16(device: torch.device, run, prompt, n):
    with torch.autocast(device.type, dtype=torch.bfloat16):
        return run(prompt, n)


def time_generation(run, device, repeats: int = 1):
    """Run ``run()`` ``repeats`` times; return (wall seconds, CPU seconds, last output).

    CPU seconds (this process, all its threads) are reported beside wall seconds
    because the machine may be shared: a neighbour's load stretches wall time but
    hardly the CPU time of single-threaded work. On a GPU only wall time means much.
    """
    wall, cpu, out = [], [], None
    for _ in range(repeats):
        _sync(device)
        start, start_cpu = time.perf_counter(), time.process_time()
        out = run()
        _sync(device)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return wall, cpu, out


@torch.no_grad()
def plain_cached_generate(model: GPT, idx, max_new_tokens: int):
    """The first cached loop anyone writes, kept as a yardstick for :func:`generate`.

    Greedy; a cache of ``block_size`` for every run; ``torch.no_grad`` rather than
    ``inference_mode``; the full ``model(...)`` checks on every step (on a GPU the id
    range check is a host sync per token); ``torch.cat`` to grow the output. Only for
    runs that fit in ``block_size``.
    """
    if idx.size(1) + max_new_tokens - 1 > model.config.block_size:
        raise ValueError("plain_cached_generate only handles runs that fit in block_size")
    cache = model.new_kv_cache(idx.size(0))
    logits = model(idx, kv_cache=cache, pos=0)[:, -1]
    for step in range(max_new_tokens):
        next_id = logits.argmax(dim=-1, keepdim=True)
        idx = torch.cat([idx, next_id], dim=1)
        if step < max_new_tokens - 1:
            logits = model(next_id, kv_cache=cache, pos=idx.size(1) - 1)[:, -1]
    return idx


# --- minGPT, from a checkout given on the command line ------------------------------------

def load_mingpt(peer: Path):
    """Import minGPT's ``GPT`` class from a checkout (the directory that holds ``mingpt/``)."""
    peer = Path(peer).resolve()
    if not (peer / "mingpt" / "model.py").is_file():
        raise SystemExit(f"--peer {peer}: no mingpt/model.py there (give the root of a minGPT checkout)")
    sys.path.insert(0, str(peer))
    try:
        from mingpt.model import GPT as MinGPT
    finally:
        sys.path.remove(str(peer))
    return MinGPT


# our parameter names -> minGPT's (both use nn.Linear, so no transposes)
_RENAMES = [
    ("token_embedding.", "transformer.wte."),
    ("position_embedding.", "transformer.wpe."),
    ("final_norm.", "transformer.ln_f."),
    ("blocks.", "transformer.h."),
    (".norm1.", ".ln_1."),
    (".norm2.", ".ln_2."),
    (".attn.qkv.", ".attn.c_attn."),
    (".attn.residual_proj.", ".attn.c_proj."),
    (".mlp.expand.", ".mlp.c_fc."),
    (".mlp.residual_proj.", ".mlp.c_proj."),
]


def mingpt_copy(model: GPT, MinGPT):
    """A minGPT model holding exactly ``model``'s weights (pre-LN, untied, biased configs only)."""
    c = model.config
    if c.norm != "pre" or c.tie_weights or not c.bias:
        raise ValueError("minGPT's model is pre-LN, untied and biased: pick a config like that")
    config = MinGPT.get_default_config()
    config.model_type = None
    config.n_layer, config.n_head, config.n_embd = c.n_layer, c.n_head, c.n_embd
    config.vocab_size, config.block_size = c.vocab_size, c.block_size
    with contextlib.redirect_stdout(io.StringIO()):  # it prints its parameter count
        peer = MinGPT(config)
    state = {}
    for name, tensor in model.state_dict().items():
        for ours, theirs in _RENAMES:
            name = name.replace(ours, theirs)
        state[name] = tensor
    missing, unexpected = peer.load_state_dict(state, strict=False)
    missing = [name for name in missing if not name.endswith(".attn.bias")]  # its causal-mask buffers
    if missing or unexpected:
        raise RuntimeError(f"weight mapping to minGPT failed: missing {missing}, unexpected {unexpected}")
    return peer.to(next(model.parameters()).device).eval()


# --- the benchmark ------------------------------------------------------------------------

def parse_args(argv):
    parser = argparse.ArgumentParser(prog="mingpt-lite bench generate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="gpt-mini")
    parser.add_argument("--vocab-size", type=int, default=65)
    parser.add_argument("--block-size", type=int, default=256)
    parser.add_argument("--prompt-len", type=int, default=1)
    parser.add_argument("--new-tokens", type=int, default=255)
    parser.add_argument("--batch-sizes", type=lambda s: [int(b) for b in s.split(",")], default=[1, 32],
                        help="comma-separated, e.g. 1,32 (default)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per method and batch size; medians are reported")
    parser.add_argument("--methods", type=lambda s: s.split(","), default=list(DEFAULT_METHODS),
                        help="comma-separated, from cache,plain-cache,recompute (default cache,recompute); "
                             "plain-cache is a straightforward cached loop, as a yardstick")
    parser.add_argument("--peer", type=Path, default=None, help="a minGPT checkout: also time its generate")
    add_device_options(parser, "minGPT's generate (with --peer)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="also write the JSON object to this file")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    unknown = set(args.methods) - set(METHODS)
    if unknown:
        parser.error(f"unknown methods {sorted(unknown)}; choose from {METHODS}")
    if args.prompt_len < 1 or args.new_tokens < 0 or args.repeats < 1 or min(args.batch_sizes) < 1:
        parser.error("prompt-len, repeats and batch sizes must be >= 1, new-tokens >= 0")
    return args


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    torch.manual_seed(args.seed)
    config = GPTConfig.from_preset(args.preset, vocab_size=args.vocab_size, block_size=args.block_size)
    model = GPT(config).to(device).eval()

    def at_precision(run):  # every method under the same autocast (or none), so they compare
        if args.precision == "fp32":
            return run
        return lambda prompt, n: _autocast_bf16(device, run, prompt, n)

    runners = {
        "cache": lambda prompt, n: generate(model, prompt, n, use_cache=True),
        "recompute": lambda prompt, n: generate(model, prompt, n, use_cache=False),
        "plain-cache": lambda prompt, n: plain_cached_generate(model, prompt, n),
    }
    methods = list(args.methods)
    if args.peer is not None:
        peer_model = mingpt_copy(model, load_mingpt(args.peer))
        runners["mingpt"] = lambda prompt, n: peer_model.generate(prompt, n)
        methods.append("mingpt")
    runners = {name: at_precision(run) for name, run in runners.items()}

    result = {
        "benchmark": "generate",
        "model": f"{args.preset} (vocab {config.vocab_size}, block {config.block_size})",
        "parameters": model.num_parameters(include_head=True),
        "prompt_len": args.prompt_len,
        "new_tokens": args.new_tokens,
        "decoding": "greedy",
        "repeats": args.repeats,
        "device": describe_device(device),
        "precision": args.precision,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "batches": {},
    }
    progress = tqdm(total=len(args.batch_sizes) * args.repeats * len(methods), disable=args.no_progress,
                    desc="generate", file=sys.stderr)
    try:
        for batch_size in args.batch_sizes:
            generator = torch.Generator().manual_seed(args.seed)
            prompt = torch.randint(config.vocab_size, (batch_size, args.prompt_len), generator=generator).to(device)
            for method in methods:  # warm-up (first-call allocations, kernel choices), not timed
                runners[method](prompt, min(args.new_tokens, 8))
            wall = {method: [] for method in methods}
            cpu = {method: [] for method in methods}
            outputs = {}
            for _ in range(args.repeats):
                for method in methods:  # take turns, so load from neighbours hits every method alike
                    progress.set_postfix_str(f"batch {batch_size} {method}")
                    took, took_cpu, outputs[method] = time_generation(
                        lambda: runners[method](prompt, args.new_tokens), device)
                    wall[method] += took
                    cpu[method] += took_cpu
                    progress.update()
            entry = {}
            for method in methods:
                median, median_cpu = statistics.median(wall[method]), statistics.median(cpu[method])
                entry[method] = {
                    "tokens_per_s": round(batch_size * args.new_tokens / median, 1),
                    "median_s": round(median, 4),
                    "runs_s": [round(s, 4) for s in wall[method]],
                    "cpu_tokens_per_s": round(batch_size * args.new_tokens / median_cpu, 1),
                    "median_cpu_s": round(median_cpu, 4),
                }
            reference = outputs[methods[0]]
            entry["same_tokens"] = all(torch.equal(reference, out) for out in outputs.values())
            for other in ("recompute", "plain-cache", "mingpt"):
                if "cache" in entry and other in entry:
                    key = "cache_speedup_vs_" + other.replace("-", "_")
                    entry[key] = round(entry["cache"]["tokens_per_s"] / entry[other]["tokens_per_s"], 2)
                    entry[key + "_cpu"] = round(
                        entry["cache"]["cpu_tokens_per_s"] / entry[other]["cpu_tokens_per_s"], 2)
            result["batches"][str(batch_size)] = entry
            tqdm.write(f"batch {batch_size}: " + json.dumps(entry), file=sys.stderr)
    except KeyboardInterrupt:
        result["interrupted"] = True
    finally:
        progress.close()
    line = json.dumps(result)
    if args.json is not None:
        args.json.write_text(line + "\n")
    print(line)
    return 1 if result.get("interrupted") else 0
