"""JAX generation three ways, with XLA compilations counted and time including compilation.

    mingpt-lite bench jax_generate                   # gpt-nano, vocab 64, block 64: 64 tokens from 1
    mingpt-lite bench jax_generate --batch 32
    mingpt-lite bench jax_generate --train           # also: jax.jit over split params vs nnx.jit
    mingpt-lite bench jax_generate --methods cached --train --train-preset gpt-mini

The default is the setup the book's JAX appendix asks about: a tiny GPT (gpt-nano, 3
layers, 48 wide, random weights) generating 64 tokens greedily from a 1-token prompt
with (a) a jitted forward on the growing sequence, (b) a fixed padded buffer and one
jitted step, (c) a fixed KV cache with the whole decode in one jitted fori_loop.

Each method first runs cold (every compilation it needs happens inside the timed run)
and then ``--repeats`` times warm (median reported). The methods run in the order
cached, padded, growing in one process, so the one-off costs of the first compilation
in a process land on the KV-cache decoder, not on the growing loop. Compilations are
counted with ``jax.monitoring`` (see ``mingpt_lite.jax_port.CompileCounter``). All three
must return the same tokens; the JSON says whether they did.

The last line printed is one JSON object; the table before it is for people. Ctrl-C
prints what has been measured so far (marked ``"interrupted": true``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np
import torch

from mingpt_lite.config import GPTConfig
from mingpt_lite.data import SortTask

try:  # jax, flax and the JAX port are the optional [jax] extra; main() says so in one line without them
    import jax
    from flax import nnx

    from mingpt_lite.jax_port import (GPT, CompileCounter, adamw, decay_mask, decay_mask_fn, make_nnx_train_step,
                                      make_train_step, measure_decoders, split_params)
except ImportError as error:  # pragma: no cover - the book and test installs include [jax]
    jax, JAX_MISSING = None, error


def _train_step_comparison(steps: int, seed: int = 0, preset: str = "gpt-nano") -> dict:
    """Compile time and ms/step of the jax.jit step and the nnx.jit step (sort task, batch 64, no dropout)."""
    task = SortTask()
    config = GPTConfig.from_preset(preset, vocab_size=task.vocab_size, block_size=task.block_size, dropout=0.0)
    generator = torch.Generator().manual_seed(seed)
    batches = [tuple(t.numpy().astype(np.int32) for t in task.get_batch("train", 64, generator)) for _ in range(steps + 1)]
    results = {}

    model = GPT(config, rngs=nnx.Rngs(seed))
    graphdef, params = split_params(model)
    tx = adamw(decay_mask(model))
    state = {"params": params, "opt_state": jax.jit(tx.init)(params)}
    step = make_train_step(graphdef, tx)

    def jax_jit_step(x, y):
        # the pure step returns new params and optimizer state: keep them for the next call
        state["params"], state["opt_state"], loss = step(state["params"], state["opt_state"], x, y, None)
        return loss

    results["jax.jit"] = _time_steps(jax_jit_step, batches, steps)

    model = GPT(config, rngs=nnx.Rngs(seed))
    nnx_step, optimizer = make_nnx_train_step(model, adamw(decay_mask_fn(model)))
    results["nnx.jit"] = _time_steps(lambda x, y: nnx_step(model, optimizer, x, y, None), batches, steps)
    return results


def _time_steps(run_step, batches, steps: int) -> dict:
    """Time ``run_step(x, y) -> loss``: the first call (compiles) apart, then one per remaining batch."""
    start = time.perf_counter()
    loss = run_step(*batches[0])
    loss.block_until_ready()
    first = time.perf_counter() - start
    times = []
    cpu_start = time.process_time()
    for x, y in batches[1:]:
        start = time.perf_counter()
        loss = run_step(x, y)
        loss.block_until_ready()
        times.append(time.perf_counter() - start)
    return {
        "first_step_s": first,
        "median_ms": 1e3 * statistics.median(times),
        "cpu_ms": 1e3 * (time.process_time() - cpu_start) / steps,
        "loss": float(loss),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="mingpt-lite bench jax_generate", description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="gpt-nano")
    parser.add_argument("--vocab", type=int, default=64)
    parser.add_argument("--block", type=int, default=64, help="block_size (must be >= prompt + tokens - 1)")
    parser.add_argument("--prompt-len", type=int, default=1)
    parser.add_argument("--tokens", type=int, default=64, help="new tokens to generate")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5, help="warm runs per method (median reported)")
    parser.add_argument(
        "--methods", default="cached,padded,growing", help="comma-separated, run in this order"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train", action="store_true", help="also compare the jax.jit and nnx.jit train steps")
    parser.add_argument("--train-steps", type=int, default=50)
    parser.add_argument("--train-preset", default="gpt-nano", help="model size for --train")
    args = parser.parse_args(argv)

    if jax is None:
        print(f"error: {JAX_MISSING} (install the [jax] extra)", file=sys.stderr)
        return 2

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    config = GPTConfig.from_preset(args.preset, vocab_size=args.vocab, block_size=args.block, dropout=0.0)
    result = {
        "benchmark": "jax_generate",
        "jax": jax.__version__,
        "device": str(jax.devices()[0]),
        "python": platform.python_version(),
        "config": {"preset": args.preset, "vocab_size": args.vocab, "block_size": args.block},
        "prompt_len": args.prompt_len,
        "new_tokens": args.tokens,
        "batch": args.batch,
        "rows": [],
        "interrupted": False,
        # the machine's load before the run: the seconds below are wall-clock time, and a
        # busy machine stretches them (compile counts and tokens are unaffected)
        "loadavg_before": os.getloadavg(),
    }
    try:
        with CompileCounter() as build:
            model = GPT(config, rngs=nnx.Rngs(args.seed))
        result["build_compiles"] = build.count
        prompt = np.random.default_rng(args.seed).integers(0, args.vocab, (args.batch, args.prompt_len)).astype(np.int32)
        tokens = {}
        for method in methods:
            print(f"running {method} ...", file=sys.stderr, flush=True)
            (row,) = measure_decoders(model, prompt, args.tokens, methods=(method,), warm_repeats=args.repeats)
            tokens[method] = row.pop("tokens")
            result["rows"].append(row)
        first = next(iter(tokens.values()), None)
        result["same_tokens"] = all(np.array_equal(first, t) for t in tokens.values())
        by = {r["method"]: r for r in result["rows"]}
        if "growing" in by and "cached" in by:
            result["growing_over_cached_cold"] = by["growing"]["cold_seconds"] / by["cached"]["cold_seconds"]
            result["growing_over_cached_warm"] = by["growing"]["warm_seconds"] / by["cached"]["warm_seconds"]
            result["growing_over_cached_cold_cpu"] = by["growing"]["cold_cpu_seconds"] / by["cached"]["cold_cpu_seconds"]
            result["growing_over_cached_warm_cpu"] = by["growing"]["warm_cpu_seconds"] / by["cached"]["warm_cpu_seconds"]
        if args.train:
            print("comparing train steps ...", file=sys.stderr, flush=True)
            result["train_step"] = _train_step_comparison(args.train_steps, args.seed, args.train_preset)
    except KeyboardInterrupt:
        result["interrupted"] = True
    result["loadavg_after"] = os.getloadavg()

    header = (
        f"{'method':8s} {'compiles':>8s} {'main':>5s} {'compile s':>9s} {'cold s':>8s} {'cold cpu s':>10s} "
        f"{'cold tok/s':>10s} {'warm s':>8s} {'warm cpu s':>10s} {'warm tok/s':>10s}"
    )
    print(header)
    for r in result["rows"]:
        print(
            f"{r['method']:8s} {r['compiles']:8d} {r['main_compiles']:5d} {r['compile_seconds']:9.2f} "
            f"{r['cold_seconds']:8.3f} {r['cold_cpu_seconds']:10.3f} {r['cold_tokens_per_s']:10.1f} "
            f"{r['warm_seconds']:8.4f} {r['warm_cpu_seconds']:10.4f} {r['warm_tokens_per_s']:10.0f}"
        )
    if "growing_over_cached_cold" in result:
        print(
            f"growing / cached, end to end including compilation: {result['growing_over_cached_cold']:.1f}x wall, "
            f"{result['growing_over_cached_cold_cpu']:.1f}x CPU time; warm: {result['growing_over_cached_warm']:.1f}x wall, "
            f"{result['growing_over_cached_warm_cpu']:.1f}x CPU time; same tokens: {result['same_tokens']}"
        )
    for name, r in result.get("train_step", {}).items():
        print(
            f"train step {name:8s}: first step (compile) {r['first_step_s']:.2f} s, then {r['median_ms']:.2f} ms/step "
            f"(median wall), {r['cpu_ms']:.2f} ms/step of CPU time"
        )
    print(f"load average before/after: {result['loadavg_before'][0]:.1f} / {result['loadavg_after'][0]:.1f}")
    print(json.dumps(result))
    return 1 if result["interrupted"] else 0


if __name__ == "__main__":
    sys.exit(main())
