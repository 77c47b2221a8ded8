# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 12. Appendix: JAX and Flax, and why generation was slow
#
# The author's notes kept a JAX/Flax version of the GPT next to the PyTorch one. They list
# what felt unusual about it: arrays are immutable, the parameters live apart from the
# model, and random numbers need explicit keys. The hope was that "small investment to comply
# with the functional style here would yield out-proportioned engineering benefits later".
# The cooking log of 2022-10-02 then ends with a question that was never answered:
#
# > JAX version is working. However, my inference speed after JIT is still slow.
# > I don't know if that's normal for autoregressive inference, or I didn't JIT it right.
#
# This appendix ports the book's GPT to [JAX](https://docs.jax.dev/en/latest/) with
# [Flax NNX](https://flax.readthedocs.io/en/latest/nnx_basics.html) (`mingpt_lite.jax_port`,
# installed with `pip install .[jax]`), checks that it computes the same logits as the PyTorch model,
# trains it on the sort task, and then answers the question by measurement: the same model
# generates text in three ways, and we count XLA compilations and time each one, compilation
# included.
#
# The notes used Flax's older Linen API (`@nn.compact`). Flax now recommends NNX, where a
# module is an ordinary Python object that holds its parameters, much like `nn.Module`; JAX's
# functional rules still apply at the point where code is compiled, as we will see.
#
# ## What you need from earlier chapters
#
# - Chapter 02 builds the PyTorch `GPT` and `GPTConfig`; the JAX model copies its layout, and
#   chapter 03's initialisation rule (residual projections chosen by module type).
# - Chapter 04 builds `SortTask`, `lm_loss` and the weight-decay rule of `parameter_groups`;
#   here they are the data, the loss and the optimizer mask of the JAX training.
# - Chapter 05's `Trainer` is the PyTorch counterpart of `train_sort`, which we do not build
#   step by step.
# - Chapter 07 builds generation and the KV cache ([Pope et al. 2022](https://arxiv.org/abs/2211.05102)
#   analyse why caching makes decoding cheap); here the same cache is written the JAX way.

# %%
import inspect
import time

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import torch
from flax import nnx
from jax import lax

from mingpt_lite import GPT as TorchGPT
from mingpt_lite import GPTConfig, parameter_groups
from mingpt_lite.data import SortTask
from mingpt_lite.jax_port import (GPT, CompileCounter, ResidualProjection, decay_mask, from_torch,
                                  generate_cached, generate_growing, lm_loss, measure_decoders, sort_solved,
                                  split_params, train_sort)
from mingpt_lite.jax_port.generate import forward_jit
from mingpt_lite.notebook import book_size, start_chapter

device = start_chapter(seed=0)

# %% tags=["nbval-ignore-output"]
import flax  # noqa: E402
import optax  # noqa: E402

print(f"jax {jax.__version__}, flax {flax.__version__}, optax {optax.__version__}, on {jax.devices()[0]}")

# %% [markdown]
# ## Three habits JAX asks for
#
# **Arrays are immutable.** A JAX array cannot be written in place. `x.at[i].set(v)` returns
# a new array and leaves `x` alone. (Inside a compiled function XLA usually reuses the
# buffer, so this costs no copy there.)

# %%
x = jnp.zeros(4)
try:
    x[1] = 1.0
except TypeError as error:
    print("TypeError:", str(error).splitlines()[0][:70], "...")
y = x.at[1].set(1.0)
assert x.tolist() == [0.0, 0.0, 0.0, 0.0] and y.tolist() == [0.0, 1.0, 0.0, 0.0]
print("x:", x.tolist(), " y = x.at[1].set(1.0):", y.tolist())

# %% [markdown]
# This shapes the KV cache. The PyTorch model writes new keys and values into its cache
# buffers in place. The JAX model's `forward_with_cache(idx, cache, pos)` returns the logits
# *and a new cache*, and the caller passes that one to the next step. Inside `jit` the write
# is `lax.dynamic_update_slice`, which has a trap: a start index that would run past the end
# is clamped, silently.

# %%
buffer = jnp.zeros(6)
written = lax.dynamic_update_slice(buffer, jnp.ones(2), (5,))  # asks for slots 5 and 6; there is no 6
print(written.tolist())
assert written.tolist() == [0.0, 0.0, 0.0, 0.0, 1.0, 1.0]  # start moved to 4: slot 4 overwritten

# %% [markdown]
# Nothing fails, and slot 4 now holds the wrong value. Inside a compiled decode loop the
# positions are traced values, so nothing can check them there. The decoders in `jax_port`
# therefore check the whole range on the host before anything is traced:

# %%
config = GPTConfig.from_preset("gpt-nano", vocab_size=3, block_size=11)
try:
    generate_cached(GPT(config, rngs=nnx.Rngs(0)), np.zeros((1, 6), np.int32), 7)
except ValueError as error:
    print("ValueError:", error)

# %% [markdown]
# **Randomness takes explicit keys.** There is no global random state. A key is a value, and
# the same key always gives the same numbers. New keys come from `split` or `fold_in`.
# Dropout in our model therefore takes a `dropout_key` argument. A call without one is
# deterministic (evaluation), and a training step gets a fresh key derived from the step number.

# %%
key = jax.random.key(0)
a, b = jax.random.normal(key, (3,)), jax.random.normal(key, (3,))
key_1, key_2 = jax.random.split(key)
assert (a == b).all()  # same key, same numbers, on every run and inside jit
assert not jnp.allclose(jax.random.normal(key_1, (3,)), jax.random.normal(key_2, (3,)))
print("same key twice -> identical draws; split keys -> different draws")

# %% [markdown]
# **Parameters live apart from the model.** An NNX module holds its parameters, but
# `nnx.split` separates the *structure* (`graphdef`, static Python) from the *state* (a tree
# of arrays), and `nnx.merge` puts them back together. With the state as an argument, the loss
# is a pure function of `(params, x, y)`, which `jax.grad` differentiates and `jax.jit`
# compiles. `split_params` returns the state as a plain nested dict, keyed by the same names as
# the PyTorch model's modules.

# %%
task = SortTask(length=6, num_digits=3)
config = GPTConfig.from_preset("gpt-nano", vocab_size=task.vocab_size, block_size=task.block_size)
model = GPT(config, rngs=nnx.Rngs(0))
graphdef, params = split_params(model)
print(jax.tree.map(lambda p: p.shape, params["blocks"][0]))

def loss_of(params, x, y):
    """The loss as a function of the parameters: the model is rebuilt from (graphdef, params)."""
    return lm_loss(nnx.merge(graphdef, params)(x), y)

x, y = (t.numpy().astype(np.int32) for t in task.get_batch("train", 8, torch.Generator().manual_seed(0)))
loss, grads = jax.jit(jax.value_and_grad(loss_of))(params, x, y)  # one compiled program
assert jax.tree.structure(grads) == jax.tree.structure(params)  # one gradient per parameter
print(f"loss at init {float(loss):.3f} (ln 3 = {np.log(3):.3f}); gradient tree has the parameters' structure")

# %% [markdown]
# ## The same model, checked against PyTorch
#
# `mingpt_lite.jax_port.GPT` has the same layout as the PyTorch GPT: learned positions,
# pre-LN blocks, attention written out, a tanh-GELU MLP and an untied head. It also uses the
# same initialisation, chosen by module *type*. The two projections that write into the
# residual stream are `ResidualProjection`, a subclass of `nnx.Linear`, and get std
# 0.02/sqrt(2·n_layer). One detail matters for equality: Flax's LayerNorm computes the
# variance as E[x²] − E[x]² by default, and we switch to the two-pass form PyTorch uses.
#
# `from_torch` copies a PyTorch model's weights. Flax stores a Linear weight as an (in, out)
# `kernel`, the transpose of PyTorch's (out, in) `weight`. Both sides compute in float32 but
# add in different orders, so the logits agree to rounding error, not bit for bit. We assert
# 1e-5.

# %%
torch.manual_seed(0)
torch_model = TorchGPT(config).eval()   # stays on the CPU: only a reference, compared in NumPy; JAX uses jax.devices()[0]
jax_model = from_torch(torch_model)
idx = torch.randint(0, task.vocab_size, (16, task.block_size), generator=torch.Generator().manual_seed(1))
with torch.no_grad():
    torch_logits = torch_model(idx).numpy()
g, p = nnx.split(jax_model, nnx.Param)
jax_logits = np.asarray(forward_jit(g, p, idx.numpy().astype(np.int32)))
np.testing.assert_allclose(jax_logits, torch_logits, atol=1e-5, rtol=1e-5)
assert jax_model.num_parameters() == torch_model.num_parameters() == 85_584  # minGPT's own count (printed as 0.09M)
print(f"logits {jax_logits.shape} equal within 1e-5; parameters (without head): {jax_model.num_parameters():,}")

# %% tags=["nbval-ignore-output"]
print(f"largest difference on this machine: {np.abs(jax_logits - torch_logits).max():.1e}")

# %% [markdown]
# AdamW's weight decay follows the PyTorch rule from chapter 4: decay the weights of Linear
# layers and nothing else (no biases, LayerNorm parameters or embeddings). In optax that is a
# `mask`, a tree of booleans shaped like the parameters. `decay_mask` builds it from module
# types, as `parameter_groups` does, and it produces the same partition:

# %%
mask = decay_mask(jax_model)
flat_mask, flat_params = jax.tree.leaves(mask), jax.tree.leaves(params)
jax_groups = [[p.size for m, p in zip(flat_mask, flat_params) if m == decays] for decays in (True, False)]
torch_groups = [g["params"] for g in parameter_groups(torch_model, 0.1)]
for name, jg, tg in zip(("decay", "no decay"), jax_groups, torch_groups):
    assert (len(jg), sum(jg)) == (len(tg), sum(t.numel() for t in tg))
    print(f"{name:9s}: {len(jg):2d} tensors, {sum(jg):6,} parameters (PyTorch: {len(tg)}, {sum(t.numel() for t in tg):,})")
assert [(len(jg), sum(jg)) for jg in jax_groups] == [(13, 83_088), (28, 2_640)]

# %% [markdown]
# ## Training on the sort task
#
# `train_sort` uses minGPT's demo settings: AdamW with lr 5e-4, betas (0.9, 0.95), weight decay
# 0.1 on the masked parameters, gradient clipping at 1.0, batch 64 and dropout 0.1. The batches
# come from the same `SortTask` sampler as the PyTorch chapters, converted to numpy, so the split
# is the same. The training step is one pure function,
# `params, opt_state, loss = step(params, opt_state, x, y, key)`, compiled once by `jax.jit`
# over the split parameters. Every 100 steps the model sorts all $3^6 = 729$ distinct problems by
# greedy generation, and training stops once train and test accuracy are both 100%.
#
# How many steps that takes depends on the seed and on the machine's rounding: over five seeds,
# and again with XLA restricted to one thread and to SSE4.2 instructions, the slowest run needed a
# quarter of the cap below, though not always for the same seed (the runs are listed in
# `chapters/data/README.md`). The step count printed below is therefore not compared between
# machines; what is asserted is that the run reaches 100% on every problem, with a cap of 2000
# steps.
#
# We did not use `nnx.jit` over the module with an `nnx.Optimizer`. That version is shorter
# (it is `make_nnx_train_step`, and it computes the same numbers), but on each call it walks
# the module graph in Python to split and merge the state. That is a fixed cost of a few
# milliseconds per step. For gpt-nano on the book's CPU it made each step cost a quarter to a
# half more CPU time (measured with `mingpt-lite bench jax_generate --train`; the runs
# are in `chapters/data/README.md`).

# %% tags=["nbval-ignore-output"]
model = GPT(config, rngs=nnx.Rngs(0))
with CompileCounter() as compiles:
    params, history = train_sort(model, task, steps=2000, eval_every=100, stop_at_accuracy=1.0, progress=False)
for step, loss in history["losses"]:
    print(f"step {step:4d}  loss {loss:.4f}")
for step, train_acc, test_acc in history["accuracy"]:
    print(f"step {step:4d}  accuracy train {train_acc:.4f}  test {test_acc:.4f}")
print(f"{history['steps']} steps in {history['seconds']:.1f} s, of which {compiles.seconds:.1f} s compiling "
      f"({compiles.count} programs: {dict(compiles.names)})")

# %%
problems = task.all_problems().numpy()
is_test = task.is_test(torch.from_numpy(problems)).numpy()
solved = sort_solved(model, task, problems)
train_accuracy, test_accuracy = solved[~is_test].mean(), solved[is_test].mean()
print(f"train accuracy {train_accuracy:.4f} ({(~is_test).sum()} problems), "
      f"test accuracy {test_accuracy:.4f} ({is_test.sum()} problems)")
assert train_accuracy == 1.0 and test_accuracy == 1.0

# %% [markdown]
# ## Generation, the way the notes wrote it
#
# Generation makes the sequence one token longer every step. The straightforward port of
# minGPT's `generate` jits the forward pass and calls it on the whole sequence each time.
# [`jax.jit`](https://docs.jax.dev/en/latest/_autosummary/jax.jit.html) traces a function for
# the shapes and dtypes of its arguments and compiles one XLA program for them; a call with new
# shapes traces and compiles again.
#
# To see what the compiler does, we count compilations with `CompileCounter`. JAX reports
# each XLA compilation as a `/jax/core/compile/backend_compile_duration` event through
# `jax.monitoring`, whether it is a jitted function meeting a new input signature or an eager
# `jnp` operation meeting a new shape. The counter listens for those events and records each
# compiled function's name. Cache hits produce no event. (A jitted function's `_cache_size()`
# is no substitute: it counts dispatch-cache entries, and a numpy array and a JAX array of the
# same shape get two entries that share one compiled program.)

# %%
def generate_naive(model, prompt, max_new_tokens):
    """Greedy generation with a jitted forward on the growing sequence."""
    graphdef, params = nnx.split(model, nnx.Param)
    idx = jax.device_put(prompt)
    for _ in range(max_new_tokens):
        logits = forward_jit(graphdef, params, idx)           # (B, T, V), T grows by one each step
        next_id = jnp.argmax(logits[:, -1, :], axis=-1)       # (B,)
        idx = jnp.concatenate([idx, next_id[:, None].astype(idx.dtype)], axis=1)
    return idx

problem = np.array([[2, 0, 1, 2, 0, 1]], np.int32)
with CompileCounter() as naive:
    answer = generate_naive(model, problem, task.length)
print("problem", problem[0].tolist(), "-> answer", np.asarray(answer)[0, 6:].tolist())
print(f"the jitted forward was compiled {naive.names['jit(_forward)']} times for {task.length} new tokens")
assert (np.asarray(answer) == np.asarray(generate_growing(model, problem, task.length))).all()
assert naive.names["jit(_forward)"] == task.length  # lengths 6, 7, ..., 11: one program each
assert naive.count > 2 * task.length  # the eager glue compiled per length as well

# %% tags=["nbval-ignore-output"]
print(f"all XLA compilations during that loop ({naive.count}, {naive.seconds:.1f} s):")
for name, count in sorted(naive.names.items(), key=lambda item: -item[1]):
    print(f"  {count:2d} x {name}")

# %% [markdown]
# `jax.jit` compiles one XLA program for each input *shape* it meets, and here every step
# brings a new shape. The forward is compiled six times, once for each length from 6 to 11.
# The small eager operations in between (slicing the last position, concatenating the new token)
# are compiled once per shape too. JAX runs every eager `jnp` call as a tiny jitted program.
# Generating a sorted answer of six tokens compiled more programs than it produced tokens.
#
# So the JIT was working, and it was recompiling at every step. The remedy is to give the
# compiler one shape for the whole generation. The diagram contrasts the loop above with the
# decoder (c) below, for the same sort problem (gpt-nano: H = 3 heads of D = 16, a cache of
# L = 11 positions):
#
# ![Top: the growing loop feeds inputs of shape (1, 6) to (1, 11) and compiles a new program for each. Bottom: one jitted program whose lax.fori_loop feeds positions 0 to 10 one token at a time into fixed (1, 3, 11, 16) key and value buffers, compiled once](figures/12_recompile_vs_one_loop.svg)
#
# - **(b) a padded buffer**: the sequence lives in a fixed (B, P + N) buffer. One jitted step
#   runs the forward over the buffer and writes the next token at position `t`. `t` is a
#   traced integer, not a shape, so the step compiles once. The cost is that every step
#   recomputes all positions, and Python dispatches a call per token.
# - **(c) a KV cache inside one compiled loop**: keys and values of past positions go into
#   fixed (B, H, L, D) buffers. Each step feeds one token and computes only its own position.
#   The whole decode is one jitted function with a
#   [`lax.fori_loop`](https://docs.jax.dev/en/latest/_autosummary/jax.lax.fori_loop.html)
#   inside, so it compiles once and never returns to Python between tokens.
#
# Before timing anything, the cache has to be correct. Here is (c) spelled out as a Python loop
# over one jitted cache step. Feeding the trained model a sequence one token at a time must
# reproduce the full forward's logits at every position:

# %%
@jax.jit
def cache_step(params, token, cache, pos):
    """Feed one token (B, 1) at position pos; returns its logits and the new cache."""
    return nnx.merge(graphdef, params).forward_with_cache(token, cache, pos)

sequence = np.concatenate([problem, np.sort(problem)], axis=1)[:, :-1]  # (1, 11)
_, params_now = split_params(model)
cache = model.new_kv_cache(batch_size=1)  # 3 layers of (k, v), each (1, 3, 11, 16)
step_logits = []
with CompileCounter() as compiles:
    for pos in range(sequence.shape[1]):
        logits, cache = cache_step(params_now, sequence[:, pos : pos + 1], cache, pos)  # a new cache each step
        step_logits.append(np.asarray(logits[:, 0]))
full_logits = np.asarray(forward_jit(*nnx.split(model, nnx.Param), sequence))
np.testing.assert_allclose(np.stack(step_logits, axis=1), full_logits, atol=1e-5, rtol=1e-5)
assert compiles.names["jit(cache_step)"] == 1  # pos is traced: one program for every position
print(f"{sequence.shape[1]} one-token cache steps == one full forward (within 1e-5); "
      f"cache_step compiled {compiles.names['jit(cache_step)']} time")

# %% [markdown]
# `generate_cached` is the same loop moved inside `jax.jit` as a `lax.fori_loop`. The prompt
# goes through the same one-token step, so the compiled program contains one copy of the model.
# It returns the logits each new token was picked from, and those must equal the full forward's:

# %%
tokens, picked_from = generate_cached(model, problem, task.length)
full_logits = np.asarray(forward_jit(*nnx.split(model, nnx.Param), np.asarray(tokens)[:, :-1]))
np.testing.assert_allclose(np.asarray(picked_from), full_logits[:, task.length - 1 :], atol=1e-5, rtol=1e-5)
assert (np.asarray(tokens) == np.asarray(answer)).all()
print("cached decode: same tokens as the naive loop, logits equal to the full forward within 1e-5")

# %% [markdown]
# ## Measured: three decoders, compilation included
#
# The notes' case is a tiny GPT generating a long answer from a short prompt. We take gpt-nano
# (3 layers, 48 wide) with a vocabulary of 64 and a context of 64, random weights and a 1-token
# prompt. Each decoder runs cold first, so every compilation it needs falls inside the timed
# run. Then it runs five more times warm, and we keep the median. The number of new tokens is
# 16 at the default book size, to keep this notebook within its time budget.
# `MINGPT_BOOK_SIZE=full` uses 64. The 64-token figures from the benchmark script follow the
# table.

# %%
new_tokens = 64 if book_size() == "full" else 16
gen_config = GPTConfig.from_preset("gpt-nano", vocab_size=64, block_size=64, dropout=0.0)
gen_model = GPT(gen_config, rngs=nnx.Rngs(1))
prompt = np.zeros((1, 1), np.int32)
rows = measure_decoders(gen_model, prompt, new_tokens, methods=("cached", "padded", "growing"), warm_repeats=5)
by_method = {row["method"]: row for row in rows}

# %% [markdown]
# Two things do not depend on the machine, and we assert them. The growing loop compiled its
# forward once per distinct length, while the padded step and the cached decode compiled once
# each. All three produced the same tokens, each the greedy choice of the full forward pass.

# %%
assert by_method["growing"]["main_compiles"] == new_tokens  # lengths 1 .. new_tokens
assert by_method["padded"]["main_compiles"] == 1
assert by_method["cached"]["main_compiles"] == 1 and by_method["cached"]["compiles"] == 1
tokens = rows[0]["tokens"]
assert all((row["tokens"] == tokens).all() for row in rows)
full_logits = np.asarray(forward_jit(*nnx.split(gen_model, nnx.Param), tokens[:, :-1]))
assert (tokens[:, 1:] == full_logits.argmax(-1)).all()  # every token is the full forward's greedy choice
for row in rows:
    print(f"{row['method']:8s} compiled its jitted function {row['main_compiles']:2d} time(s)")
print("the cached decode compiled nothing else; all three returned the same tokens")

# %% tags=["nbval-ignore-output"]
names = {"growing": "(a) growing sequence", "padded": "(b) padded buffer", "cached": "(c) KV cache, one jit"}
print(f"{'decoder':22s} {'programs':>8s} {'compiling s':>11s} {'cold s':>7s} {'(cpu s)':>7s} {'cold tok/s':>10s} "
      f"{'warm s':>8s} {'warm tok/s':>10s}")
for method in ("growing", "padded", "cached"):
    r = by_method[method]
    print(f"{names[method]:22s} {r['compiles']:8d} {r['compile_seconds']:11.2f} {r['cold_seconds']:7.2f} "
          f"{r['cold_cpu_seconds']:7.2f} {r['cold_tokens_per_s']:10.1f} {r['warm_seconds']:8.4f} {r['warm_tokens_per_s']:10.0f}")
ratio_cold = by_method["growing"]["cold_seconds"] / by_method["cached"]["cold_seconds"]
ratio_warm = by_method["growing"]["warm_seconds"] / by_method["cached"]["warm_seconds"]
share = by_method["growing"]["compile_seconds"] / by_method["growing"]["cold_seconds"]
# warm runs take milliseconds, so a busy machine's scheduler can swamp their wall-clock time;
# the CPU time this process spent is the steadier measure for this comparison
ratio_warm_bc = by_method["padded"]["warm_cpu_seconds"] / by_method["cached"]["warm_cpu_seconds"]
print(f"\n(a) / (c) end to end, compilation included: {ratio_cold:.1f}x; warm: {ratio_warm:.1f}x; "
      f"(a) spent {share:.0%} of its time compiling; warm, (b) / (c) by CPU time: {ratio_warm_bc:.1f}x")

# %% [markdown]
# The table's seconds depend on the machine and on what else it is running, so they are not
# compared between runs. What we assert are ratios measured side by side in this one process,
# with bounds well below what any of our runs measured (the runs are listed in
# `chapters/data/README.md`). Warm runs last milliseconds, so we compare them by the CPU time
# this process used, which a busy scheduler disturbs less than the clock. The asserted bounds:
#
# - (a) spent more than half of its cold run compiling;
# - end to end, compilation included, (c) was more than 3 times faster than (a);
# - once compiled, (c) used less than two thirds of (b)'s CPU time per generation.

# %%
assert share > 0.5 and ratio_cold > 3 and ratio_warm_bc > 1.5
print("(a) spent more than half of its cold run compiling; (c) beat (a) by more than 3x end to end, "
      "and (b) by more than 1.5x once compiled")

# %% tags=["nbval-ignore-output"]
fig, (ax_time, ax_compiles) = plt.subplots(1, 2, figsize=(9, 3.5))
labels = [names[m].split(" ", 1)[0] for m in ("growing", "padded", "cached")]
positions = np.arange(3)
for offset, kind, label in ((-0.2, "cold_tokens_per_s", "cold (with compiling)"), (0.2, "warm_tokens_per_s", "warm")):
    ax_time.bar(positions + offset, [by_method[m][kind] for m in ("growing", "padded", "cached")], width=0.4, label=label)
ax_time.set_yscale("log")
ax_time.set_xticks(positions, labels)
ax_time.set_ylabel("new tokens per second (log)")
ax_time.set_title(f"{new_tokens} tokens from a 1-token prompt")
ax_time.legend(fontsize=8)
ax_compiles.bar(positions, [by_method[m]["compiles"] for m in ("growing", "padded", "cached")], color="tab:gray")
ax_compiles.set_xticks(positions, labels)
ax_compiles.set_ylabel("XLA compilations")
ax_compiles.set_title("programs compiled")
fig.tight_layout()
plt.show()

# %% [markdown]
# One thing in the figure needs explaining: on a cold start the padded decoder (b) can finish
# its tokens *sooner* than the KV-cache decoder (c) (compare the "cold tok/s" column), though
# both compile exactly one program. (c)'s program holds the whole decode: a `fori_loop` whose
# body writes keys and values into the cache, slices the current token out of the sequence and
# writes the chosen one back; (b)'s is a single forward over a fixed buffer. Why that decides
# the cold race, and after how many generations (c) catches up, is exercise 12.2.
#
# Once compiled, (b) is also faster than (a), even though it runs the full buffer every step. A
# likely reason: (a) makes about half a dozen calls into XLA per token (the forward, then eager
# slicing, argmax, reshaping and concatenation) where (b) makes one, and at this size a call
# costs more than the extra positions.
#
# ## The answer to the notes' question
#
# *"My inference speed after JIT is still slow. I don't know if that's normal for autoregressive
# inference, or I didn't JIT it right."* Neither, quite. Slow generation is not normal for
# autoregressive inference, and the jitted forward itself was fine. The trouble is the loop
# around it: its input changes shape every step, so JAX compiled again at every token. For a
# tiny model, compiling a program takes far longer than running it, so the notes' loop spent
# most of its time in the compiler: more than half of it in every run, as asserted above.
# Decoding is sequential by nature, but it does not have to be slow. Give the compiler one
# shape and one program, with a fixed KV cache and the whole loop inside `jit`. There is then a
# single compilation, after which each new token costs one small cached step (the "warm tok/s"
# column). `mingpt-lite bench jax_generate --tokens 64` runs the same comparison at 64
# tokens; its results on the book's machine are in `chapters/data/README.md`.

# %% [markdown]
# ## What you learned
#
# - JAX asks for three habits: immutable arrays (`x.at[i].set(v)` returns a new array),
#   explicit random keys, and parameters held apart from the model structure (`nnx.split`),
#   so that the loss is a pure function `jax.grad` and `jax.jit` can transform.
# - The same GPT in Flax NNX gives the PyTorch model's logits to 1e-5 and trains the sort
#   task to 100% over five seeds and two XLA settings.
# - `jax.jit` compiles one program per input shape: a decode loop whose input grows by one
#   token compiles at every step, and for a tiny model compiling costs far more than running.
# - One shape and one program fix it: a padded buffer compiles once, and a fixed KV cache with
#   the whole loop in a `lax.fori_loop` compiles once and runs fastest once compiled.
# - `lax.dynamic_update_slice` clamps an out-of-range start silently; fixed buffers need their
#   bounds checked on the host before tracing.
#
# ## Exercises
#
# Worked answers are in [the worked solutions](solutions/12_jax.ipynb).
#
# ### Exercise 12.1 (predict): How many programs when the context is cropped?
#
# The growing loop crops its context to the last `block_size` tokens. Take a model with
# `block_size = 8` and generate 20 tokens from a 1-token prompt with `generate_growing`. Predict
# how many times its jitted forward is compiled, then check your number with
# `from mingpt_lite.exercises import check; check("12.1", n)`, and confirm it with a
# `CompileCounter` around a fresh model.
#
# ### Exercise 12.2 (explain): Why the padded decoder wins a cold start
#
# In this chapter's table, (b) finished its cold run before (c). Explain why, using the
# "compiling s" and "warm s" columns, and estimate after how many further 16-token generations
# from the compiled programs (c) has caught up. Which of the two would you ship in a server, and
# which in a script that generates once?
#
# ### Exercise 12.3 (explain): Why the clamp cannot be checked inside `jit`
#
# `lax.dynamic_update_slice` moved a write that would run past the end of the buffer instead of
# failing. Explain why a compiled decode loop cannot raise an error for a bad position, what it
# would need to know to do so, and where `jax_port` checks the bounds instead. Show the clamp
# happening inside a jitted function whose write position is an argument.
