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
# # Solutions to chapter 11: Scaling out, data parallelism
#
# Worked solutions to the exercises of [chapter 11](../11_scaling_out.ipynb). Every code answer
# asserts itself, including passing its checker; the explain questions get model answers backed
# by numbers computed here. Nothing here starts `torchrun`: each answer reproduces the arithmetic
# of several ranks inside one process, which is what DDP's result is made of. A batch's gradient,
# flattened into one vector, comes from the package's `flat_gradient(model, x, y, reduction)` (the
# chapter's `gradient`, with the option of a summed loss), the same function the checkers use.

# %%
import json
import tempfile
from pathlib import Path

import torch

from mingpt_lite import GPT, GPTConfig, distributed, lm_loss
from mingpt_lite.data import SortTask
from mingpt_lite.distributed import flat_gradient, model_state_gb
from mingpt_lite.exercises import check
from mingpt_lite.notebook import start_chapter

device = start_chapter(seed=0, device="cpu")
task = SortTask(length=6, num_digits=3)
model = GPT(GPTConfig(vocab_size=task.vocab_size, block_size=task.block_size,
                      n_layer=2, n_head=2, n_embd=32, dropout=0.0))


# %% [markdown]
# ## Exercise 11.1
#
# Rank r's mean loss is its summed loss divided by its count $n_r$, so its gradient is
# $g_r = \nabla S_r / n_r$. The whole batch's mean loss is $\sum_r S_r / \sum_r n_r$, whose
# gradient is $\sum_r n_r g_r / \sum_r n_r$: a weighted average, with weights proportional to
# the counts. DDP's plain average is the special case of equal counts.

# %%
def combine(grads, counts):
    """The full batch's gradient from each rank's mean-loss gradient and its number of scored targets."""
    return sum(n * g for n, g in zip(counts, grads)) / sum(counts)


x, y = task.get_batch("train", 32, torch.Generator().manual_seed(0))
y_unequal = y.clone()
y_unequal[16:, 5:9] = -1  # rank 1 scores 2 targets per sequence instead of 6
halves = [slice(0, 16), slice(16, 32)]
grads = [flat_gradient(model, x[h], y_unequal[h]) for h in halves]
counts = [int((y_unequal[h] != -1).sum()) for h in halves]
full = flat_gradient(model, x, y_unequal)
plain = sum(grads) / 2
torch.testing.assert_close(combine(grads, counts), full)
off = ((plain - full).norm() / full.norm()).item()
print(f"counts per rank {counts}; DDP's plain average is off by {off:.0%} of the gradient's norm")
assert off > 0.1
assert check("11.1", combine)

# %% [markdown]
# DDP's own answer to unequal counts is to leave the loss alone and average: each rank's
# *sequences* then weigh the same, not each *target*. When that matters, a training loop can
# all-reduce the counts too and scale each rank's loss by $n_r \cdot R / \sum n$ before
# `backward` (R the number of ranks); the plain average then gives exactly the formula above.
#
# ## Exercise 11.2
#
# **Prediction: f = 2.** With a sum, the full batch's loss is the sum of the two halves'
# losses, so its gradient is the *sum* of their gradients, twice their average. DDP's
# all-reduce leaves exactly that sum on every rank; it is the division by the world size that
# would be wrong. (With a mean, f = 1, the chapter's identity.)

# %%
full_sum = flat_gradient(model, x, y, "sum")
average_sum = (flat_gradient(model, x[:16], y[:16], "sum") + flat_gradient(model, x[16:], y[16:], "sum")) / 2
f = (full_sum @ average_sum / (average_sum @ average_sum)).item()
torch.testing.assert_close(full_sum, f * average_sum)
print(f"measured f = {f:.4f}")
assert abs(f - 2) < 1e-4
assert check("11.2", f)

# %% [markdown]
# ## Exercise 11.3
#
# **Model answer.** DDP computes the same mathematical gradient as one process; what changes is
# the *order* of the floating-point additions (a mean over 32 versus two means over 16, then
# averaged). Float32 addition is not associative, so the results differ in the last bits, about
# 1e-7 relative, which is what step 0 shows. Any change of summation order does the same: one
# process with 2 threads instead of 1 splits its sums differently and drifts from the 1-thread
# run by the same order of magnitude, with no second process involved. The drift grows because
# training feeds it back: the weights after step 1 differ in the last bits, so every later
# gradient differs, and Adam divides each gradient by its running RMS, so a tiny relative
# change moves a weight by a sizeable fraction of a full step when the gradient is small. A
# bug, such as forgetting to average, is off by percent from the first steps on (the chapter's
# control: more than 100 times the early tolerance).

# %%
step0_full = lm_loss(model(x), y).item()
step0_halves = (lm_loss(model(x[:16]), y[:16]).item() + lm_loss(model(x[16:]), y[16:]).item()) / 2
step0_rel = abs(step0_full - step0_halves) / step0_full

scratch = Path(tempfile.mkdtemp(prefix="mingpt-ddp-solutions-"))
threads_before = torch.get_num_threads()
runs = {}
for threads in (1, 2):
    torch.set_num_threads(threads)
    distributed.main(["--out", str(scratch / f"t{threads}.json"), "--iters", "30", "--seed", "0"])
    runs[threads] = json.loads((scratch / f"t{threads}.json").read_text())["losses"]
torch.set_num_threads(threads_before)
drift = [abs(a - b) / a for a, b in zip(runs[1], runs[2])]

# %% tags=["nbval-ignore-output"]
# rounding-level numbers: they differ between machines, thread counts and kernels
print(f"step 0, one mean over 32 vs the average of two means over 16: relative difference {step0_rel:.0e}")
print(f"one process, 2 threads vs 1: relative difference {drift[0]:.0e} at step 0, {max(drift):.0e} at most over 30 steps")

# %%
assert step0_rel < 1e-6  # rounding, not a different function
assert max(drift) < 2e-2  # the same bound the chapter asserts for two processes
print("step 0 agrees to rounding; the thread-count drift stays within the chapter's bound")

# %% [markdown]
# ## Exercise 11.4
#
# **Model answer.** Plain DDP keeps a complete copy of the parameters, the gradients and Adam's
# states on every GPU, 16 bytes per parameter with mixed precision, so adding GPUs adds copies
# and never shrinks any one of them: 8 GPUs let you use a larger batch, not a larger model.
# `gpt2-xl` has about 1.56 billion parameters, 24.9 GB of model states under DDP, just over a
# 24 GB GPU before any activations. ZeRO-1 partitions Adam's 12 bytes per parameter over the 8
# GPUs and already fits (8.6 GB); ZeRO-2 and ZeRO-3 go further (5.8 and 3.1 GB). The count is the
# chapter's `model_state_gb`, imported from `mingpt_lite.distributed`.

# %%
with torch.device("meta"):
    xl = GPT(GPTConfig.from_preset("gpt2-xl", vocab_size=50257, block_size=1024, tie_weights=True))
n_params = xl.num_parameters()
per_gpu = {stage: round(model_state_gb(n_params, 8, stage), 1) for stage in range(4)}
print(f"gpt2-xl: {n_params:,} parameters; GB per GPU on 8 GPUs, DDP and ZeRO-1/2/3: {list(per_gpu.values())}")
assert model_state_gb(n_params, 1, 0) == model_state_gb(n_params, 8, 0)  # DDP: the same on 1 GPU and on 8
assert model_state_gb(n_params, 8, 0) == (2 + 2 + 12) * n_params / 1e9  # 16 bytes per parameter
assert per_gpu[0] > 24 >= per_gpu[1] and per_gpu[1] > per_gpu[2] > per_gpu[3]
