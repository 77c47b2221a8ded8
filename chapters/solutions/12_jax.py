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
# # Solutions to chapter 12: JAX and Flax, and why generation was slow
#
# Worked solutions to the exercises of [chapter 12](../12_jax.ipynb). The code answer asserts
# itself, including passing its checker; the explain questions get model answers backed by
# numbers computed here. Timings are printed in cells whose output is not compared (they
# depend on the machine), and only robust conclusions are asserted.

# %%
import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax import lax

from mingpt_lite import GPTConfig
from mingpt_lite.exercises import check
from mingpt_lite.jax_port import GPT, CompileCounter, generate_cached, generate_growing, measure_decoders
from mingpt_lite.notebook import start_chapter

device = start_chapter(seed=0)

# %% [markdown]
# ## Exercise 12.1
#
# **Prediction: 8.** The inputs have lengths 1, 2, ..., 8 for the first eight tokens. From then
# on the sequence is longer than `block_size`, the loop feeds only the last 8 tokens, and every
# later input has the shape (1, 8) it has already compiled for. Twenty calls, eight programs.

# %%
model = GPT(GPTConfig(vocab_size=7, block_size=8, n_layer=1, n_head=1, n_embd=8, dropout=0.0), rngs=nnx.Rngs(0))
with CompileCounter() as counter:
    tokens = generate_growing(model, np.zeros((1, 1), np.int32), 20)
print(f"{tokens.shape[1] - 1} new tokens, jitted forward compiled {counter.names['jit(_forward)']} times")
assert counter.names["jit(_forward)"] == 8
assert check("12.1", 8)

# %% [markdown]
# ## Exercise 12.2
#
# **Model answer.** Each of (b) and (c) compiles exactly one program, but (c)'s program is the
# whole decode: a `fori_loop` whose body runs the model on one token, writes keys and values
# into the cache and writes the chosen token into the sequence. (b)'s is one forward over a
# fixed buffer plus one write. XLA needs longer for the bigger program, and for 16 tokens of
# gpt-nano the running time is a few milliseconds for either, so the compile time decides the
# cold race. Once compiled, (c) is faster per generation (it computes one position per step
# and never returns to Python), so it gains the warm difference at every further call and
# catches up after (cold time difference) / (warm time difference) generations, a handful at
# these sizes. In a server that generates all day, ship (c); in a script that generates once,
# (b) finishes first, though both are far ahead of the growing loop.
#
# The measurement below uses a model structure this notebook has not compiled yet, so the
# first ("cold") run of each decoder includes its compilation. Its seconds are timings, which
# vary with the machine and its load (on a heavily loaded machine even the order of the warm
# times can flip), so they are printed but not asserted; the chapter asserts the robust ratios.

# %%
gen_model = GPT(GPTConfig.from_preset("gpt-nano", vocab_size=64, block_size=64, dropout=0.0), rngs=nnx.Rngs(1))
rows = {row["method"]: row for row in measure_decoders(gen_model, np.zeros((1, 1), np.int32), 16,
                                                       methods=("padded", "cached"), warm_repeats=5)}
b, c = rows["padded"], rows["cached"]

# %% tags=["nbval-ignore-output"]
for name, row in (("(b) padded", b), ("(c) cached", c)):
    print(f"{name}: compiling {row['compile_seconds']:.2f} s, cold {row['cold_seconds']:.2f} s, "
          f"warm {1000 * row['warm_seconds']:.1f} ms")
saved = b["warm_seconds"] - c["warm_seconds"]
handicap = c["cold_seconds"] - b["cold_seconds"]
print(f"(c)'s cold handicap {handicap:.2f} s, repaid at {1000 * saved:.1f} ms per generation: "
      f"after about {max(handicap, 0) / saved:.0f} generations")

# %%
assert b["compiles"] == c["compiles"] == 1  # one program each: the difference is in the program
print("(b) and (c) compiled one program each")

# %% [markdown]
# ## Exercise 12.3
#
# **Model answer.** Inside `jax.jit` the write position is a *traced* value: the program is
# compiled once for every position, so while it is built the position has no value to check,
# and a compiled XLA program has no way to raise a Python exception while it runs. XLA
# therefore defines out-of-range starts away: `dynamic_update_slice` clamps the start so the
# update fits (here 5 becomes 4). To refuse a bad write the program would need the
# position as a static number (then it recompiles for each one, the problem this chapter
# removed) or a runtime check such as `jax.experimental.checkify`. `jax_port` instead checks
# on the host, before anything is traced: `_check_fits` compares prompt length plus new
# tokens with `block_size` and raises a `ValueError` naming both.

# %%
@jax.jit
def write(buffer, values, start):
    """Write ``values`` into ``buffer`` at a traced position ``start``."""
    return lax.dynamic_update_slice(buffer, values, (start,))


clamped = write(jnp.zeros(6), jnp.ones(2), 5)  # slots 5 and 6 asked for; there is no 6
print("written at a traced start of 5:", clamped.tolist())
assert clamped.tolist() == [0.0, 0.0, 0.0, 0.0, 1.0, 1.0]
try:
    generate_cached(gen_model, np.zeros((1, 60), np.int32), 10)  # 60 + 10 - 1 = 69 > block_size 64
except ValueError as error:
    print("ValueError:", error)
else:
    raise AssertionError("the host-side check should refuse a decode that does not fit")
