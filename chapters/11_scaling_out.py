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
# # 11. Scaling out: data parallelism (appendix)
#
# The author's notes look ahead: "Maybe I should bypass [Lightning] if I'm heading to
# `DeepSpeed` and `Ray` soon after", and they expect ZeRO and friends to need some digging
# "to know better". This appendix takes the first step those tools build on, *data
# parallelism* with PyTorch's own `DistributedDataParallel` (DDP). We run it for real, with
# two CPU processes started by `torchrun` from inside this notebook, and check that the two
# processes train the same model one process would. The chapter closes with a short map
# of where FSDP, DeepSpeed ZeRO, Ray Train and Lightning take over from DDP.
#
# Nothing here needs a GPU. The process group runs on `gloo`, PyTorch's CPU backend, and
# the same code runs on `nccl` across GPUs.

# %%
from mingpt_lite.notebook import start_chapter

device = start_chapter(seed=0, device="cpu")  # the training runs below choose their own processes

# %%
import json
import shutil
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import torch

from mingpt_lite import GPT, GPTConfig, lm_loss
from mingpt_lite import distributed
from mingpt_lite.data import SortTask

workdir = Path(tempfile.mkdtemp(prefix="mingpt-ddp-"))  # scratch files for the runs below

# %% [markdown]
# ## Data parallelism is gradient averaging
#
# A training step's loss is a mean over the batch. Split a batch of 32 sequences into two
# halves of 16. The mean over 32 is the average of the two half-batch means, provided
# each half counts the same number of targets. In the sort task every sequence has the
# same number of scored positions, so this holds. Differentiation is linear, so the same
# is true of the gradient:
#
# $$\nabla L_{32} = \tfrac12\left(\nabla L_{16}^{(0)} + \nabla L_{16}^{(1)}\right).$$
#
# Data parallelism is this identity put to work. Two workers each hold a copy of the model,
# each computes the gradient of its own half, and the gradients are averaged. Both then
# have the full-batch gradient and take the same optimizer step, so the copies stay
# identical. First we check it in a single process, with the same small model the package's
# distributed entry point trains (2 layers, width 32, no dropout):

# %%
task = SortTask(length=6, num_digits=3)
model = GPT(GPTConfig(vocab_size=task.vocab_size, block_size=task.block_size,
                      n_layer=2, n_head=2, n_embd=32, dropout=0.0))
x, y = task.get_batch("train", 32, torch.Generator().manual_seed(0))  # (32, 11) each
assert (y != -1).sum(dim=1).unique().numel() == 1  # every sequence scores the same number of targets


def gradient(x, y):
    """The model's gradient for one batch, flattened into a single vector."""
    model.zero_grad()
    lm_loss(model(x), y).backward()
    return torch.cat([p.grad.flatten() for p in model.parameters()])


full = gradient(x, y)
halves = [gradient(x[:16], y[:16]), gradient(x[16:], y[16:])]  # what each of two workers computes
torch.testing.assert_close((halves[0] + halves[1]) / 2, full)
print(f"{full.numel():,} gradient entries: the average of the two half-batch gradients is the full-batch gradient")

# %% [markdown]
# ## What DDP does around that average
#
# `torch.nn.parallel.DistributedDataParallel` wraps a model and takes care of the rest.
#
# * **Replicas start equal.** At construction DDP broadcasts rank 0's parameters and
#   buffers to every process.
# * **Gradients are averaged during `backward`.** DDP groups the gradients into buckets
#   (about 25 MB each by default). As soon as a bucket's gradients are ready, it starts an
#   **all-reduce**, which sums that bucket over all processes and leaves the result on
#   every process. Dividing by the number of processes makes it the average. Backward
#   produces the last layers' gradients first, so their all-reduce runs while the earlier
#   layers' gradients are still being computed.
# * **The optimizer is untouched.** Every process runs the same `optimizer.step()` on the
#   same averaged gradient, so the replicas stay equal without any extra communication.
#
# Each process also needs its own share of the data. `mingpt_lite`'s `Trainer` keeps this
# simple. Every process draws the *same* global batch from a generator seeded identically,
# and keeps its slice (rank 0 the first half, rank 1 the second). A `DistributedSampler`
# does the same job for a `DataLoader`.
#
# ## torchrun, ranks and an all-reduce
#
# `torchrun` (`python -m torch.distributed.run`) starts the processes and tells each one
# where it stands through environment variables: `RANK`, `WORLD_SIZE`, `LOCAL_RANK`, and
# the address of a rendezvous point (`MASTER_ADDR`, `MASTER_PORT`). The package's
# `init_distributed()` reads them and joins the process group, and
# `distributed.run_torchrun` starts `torchrun` from Python and collects its output.
#
# Starting processes costs seconds, so we start them once. The notebook writes a short
# script that does two things in each process. First it runs an all-reduce on its own, so
# we can watch it: each rank contributes a stand-in "gradient" of `rank + 1` times
# `[1, 10]`, and the average over two ranks is `[1.5, 15]`. Then it hands over to the
# package's training entry point, `mingpt_lite.distributed.main` (also runnable as
# `python -m mingpt_lite.distributed`). That trains the model above on the sort task with
# the package's `Trainer`: batch 32, learning rate 3e-3, 30 steps, and every step's loss
# written to a JSON file. Under `torchrun` the `Trainer` notices the process group, wraps
# the model in DDP and gives each process 16 of the 32 sequences. The loss it records is
# the mean of the processes' losses, which is the loss of the whole batch.

# %%
ITERS = 30
common = ["--iters", str(ITERS), "--seed", "1"]  # the same run settings everywhere below

script = workdir / "ddp_demo.py"
script.write_text('''
import sys
import torch, torch.distributed as dist
from mingpt_lite import distributed
info = distributed.init_distributed(device="cpu")
grad = torch.tensor([1.0, 10.0]) * (info.rank + 1)  # this rank's stand-in gradient
dist.all_reduce(grad)  # sum over all ranks, result on every rank
line = f"rank {info.rank} of {info.world_size} ({info.backend}): average {(grad / info.world_size).tolist()}"
print(line + "\\n", end="")  # one write per line: both processes share one pipe, and unbuffered prints interleave
distributed.main(sys.argv[1:])  # then train, in these same processes, with the package's entry point
''')
started = time.perf_counter()
done = distributed.run_torchrun([str(script), "--out", str(workdir / "two.json"), *common],
                                nproc=2, env={"OMP_NUM_THREADS": "1"}, timeout=300)
two_seconds = time.perf_counter() - started
lines = sorted(line for line in done.stdout.splitlines() if line.startswith("rank"))
print("\n".join(lines))
assert lines == ["rank 0 of 2 (gloo): average [1.5, 15.0]", "rank 1 of 2 (gloo): average [1.5, 15.0]"], done.stdout

# %% [markdown]
# ## One process against two
#
# The same entry point runs without `torchrun` too, as one ordinary process. We run it
# twice more here in the notebook's kernel:
#
# 1. one process on the same batch of 32, with one thread like each DDP worker, so that
#    only the number of processes differs: the reference;
# 2. a **negative control**: one process on batch 16 alone. This is what a worker sees if
#    its gradients are never averaged with the other worker's.

# %%
def losses(path):
    """Per-step training losses and run facts written by the package's entry point."""
    return json.loads(Path(path).read_text())


kernel_threads = torch.get_num_threads()  # restored at the end of the chapter
torch.set_num_threads(1)  # like each DDP worker (OMP_NUM_THREADS=1)
started = time.perf_counter()
distributed.main(["--out", str(workdir / "one.json"), *common])
one_seconds = time.perf_counter() - started
distributed.main(["--out", str(workdir / "half.json"), *common, "--batch-size", "16"])

one, two, half = (losses(workdir / f"{name}.json") for name in ("one", "two", "half"))
print(f"world sizes {one['world_size']} and {two['world_size']} (backend {two['backend']})")
print(f"loss at step 0: {one['losses'][0]:.4f} (one process), {two['losses'][0]:.4f} (two processes)")
print(f"loss at step {ITERS - 1}: {one['losses'][-1]:.2f} (one process), {two['losses'][-1]:.2f} (two processes)")
assert (one["world_size"], two["world_size"], two["backend"]) == (1, 2, "gloo")
assert one["losses"][-1] < 0.5 * one["losses"][0]  # it did train

# %% [markdown]
# How equal should "equal" be? At step 0 both runs hold the same weights and see the same
# 32 sequences. The only difference is the order of the floating-point additions: one
# mean over 32, versus two means over 16 that are then averaged. That costs a few units in
# the last place, around 1e-7 relative. From then on the gradients differ by the same few
# ulps. Adam divides each gradient by its running RMS, so such tiny differences pass into
# the weights at full step size, and they grow from step to step, fastest where the loss
# falls steeply. We assert three things. The relative difference stays below **1e-4**
# over the first 20 steps; this is the package test's tolerance. Over those same steps the
# negative control, a real mistake, is off by more than 100 times that on average. Over
# all 30 steps the difference stays below **2e-2**. That bound is loose on purpose: how
# far rounding differences grow during the steep part of the curve depends on the CPU.

# %% tags=["nbval-ignore-output"]
rel = lambda a, b: [abs(p - q) / p for p, q in zip(a["losses"], b["losses"])]  # noqa: E731
rel_two, rel_half = rel(one, two), rel(one, half)
assert rel_two[0] < 1e-6  # same weights, same batch: only the summation order differs
assert max(rel_two[:20]) < 1e-4  # the package test's tolerance
assert sum(rel_half[:20]) / 20 > 100 * 1e-4  # the control, over the same steps
assert max(rel_two) < 2e-2
print(f"two processes vs one: max relative difference {max(rel_two[:20]):.0e} (steps 0-19), "
      f"{max(rel_two):.0e} (all {ITERS})")
print(f"half batch alone vs one: mean relative difference {sum(rel_half[:20]) / 20:.2f} (steps 0-19)")

# %% [markdown]
# Is that drift caused by DDP? Take DDP out of the picture: run the *same* single process
# with two threads instead of one. With a different thread count the CPU
# splits its sums differently, and the losses drift apart in the same way. The difference
# between two processes and one is rounding, of the same kind as changing the thread
# count. How far each one drifts depends on the CPU, so we do not assert which drifts more.

# %% tags=["nbval-ignore-output"]
torch.set_num_threads(2)
try:
    distributed.main(["--out", str(workdir / "two_threads.json"), *common])
finally:
    torch.set_num_threads(1)
rel_thread = rel(one, losses(workdir / "two_threads.json"))
assert max(rel_thread) < 2e-2
print(f"one process, 2 threads vs 1: max relative difference {max(rel_thread):.0e}")

# %%
steps = range(ITERS)
gaps = lambda v: [d if d > 0 else float("nan") for d in v]  # noqa: E731  (equal losses: no point on a log axis)
fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
left.plot(steps, one["losses"], label="1 process (batch 32)")
left.plot(steps, two["losses"], "--", label="2 processes, DDP (16 + 16)")
left.plot(steps, half["losses"], ":", label="1 process, batch 16 only")
left.set(xlabel="step", ylabel="training loss", title="sort task, same seed")
left.legend(fontsize=8)
right.semilogy(steps, gaps(rel_two), "o-", ms=3, label="2 processes (DDP)")
right.semilogy(steps, gaps(rel_thread), "s-", ms=3, label="1 process, 2 threads instead of 1")
right.semilogy(steps, rel_half, "^-", ms=3, label="batch 16 only (control)")
right.axhline(1e-4, color="gray", ls="--", lw=1)  # tolerance over steps 0-19
right.axhline(2e-2, color="gray", ls=":", lw=1)  # tolerance over all steps
right.set(xlabel="step", ylabel="|loss - loss(1 process)| / loss", title="difference to one process")
right.legend(fontsize=7)
fig.tight_layout()
plt.show()

# %% [markdown]
# On the left, the DDP curve lies on top of the one-process curve, while the half-batch run
# follows its own path. On the right, steps whose losses agree to the last bit have no
# point on the log scale. The DDP run and the two-thread run both start at float rounding
# (about 1e-7, or exactly equal) and drift upward as training goes on. The control is
# about 1e-2 away from the first step and 1e-1 or more later. The dashed and dotted lines
# mark the two tolerances.
#
# ## Is it faster?
#
# Not here. The model takes a few milliseconds per step, while starting `torchrun` and
# two Python processes takes seconds. Every step also pays for an all-reduce through
# `gloo`, and the machine that built this book has only two CPU cores. Data parallelism
# pays off when the computation per step is much larger than the time to all-reduce the
# gradients: a real model, a batch per GPU, and NCCL over NVLink or InfiniBand. The
# timings below depend on the machine:

# %% tags=["nbval-ignore-output"]
print(f"1 process:   {one['ms_per_iter']:.1f} ms/step, {one_seconds:.1f} s for the whole run in the kernel")
print(f"2 processes: {two['ms_per_iter']:.1f} ms/step, {two_seconds:.1f} s including torchrun's start-up "
      "and the all-reduce demo")
shutil.rmtree(workdir)  # the scratch files are no longer needed
torch.set_num_threads(kernel_threads)

# %% [markdown]
# ## Where the other tools take over
#
# DDP keeps a **full copy** of everything on every worker: parameters, gradients and
# optimizer state. The ZeRO paper (Rajbhandari et al., 2019) counts the bytes for
# mixed-precision Adam: 2 for each fp16 parameter, 2 for its fp16 gradient, and K = 12 for
# the optimizer (an fp32 master copy, momentum and variance). That makes 16 bytes per
# parameter on every GPU, before any activations. Adding GPUs makes the batch bigger; it
# never makes that 16 Ψ smaller. The ZeRO stages remove the redundancy one state at a time
# by **partitioning** it over the N workers:
#
# * **stage 1** partitions the optimizer states;
# * **stage 2** also partitions the gradients, since each worker keeps only the reduced
#   gradients of its own partition;
# * **stage 3** also partitions the parameters, which are gathered layer by layer just in
#   time for the forward and backward pass and freed afterwards.
#
# Here is the paper's count as a function. It reproduces the paper's worked example, a
# 7.5B-parameter model on 64 GPUs: 120 GB per GPU with plain data parallelism, then 31.4,
# 16.6 and 1.9 GB.

# %%
def model_state_gb(n_params, n_gpus, stage, optimizer_bytes=12):
    """Per-GPU memory (GB) for parameters, gradients and Adam state under ZeRO `stage` (0 = plain DDP)."""
    params, grads, optim = 2 * n_params, 2 * n_params, optimizer_bytes * n_params
    if stage >= 1:
        optim /= n_gpus
    if stage >= 2:
        grads /= n_gpus
    if stage >= 3:
        params /= n_gpus
    return (params + grads + optim) / 1e9


paper = [round(model_state_gb(7.5e9, 64, stage), 1) for stage in range(4)]
print("7.5B parameters on 64 GPUs, GB per GPU for DDP, ZeRO-1, -2, -3:", paper)
assert paper == [120.0, 31.4, 16.6, 1.9]

# %%
gpus = [1, 2, 4, 8, 16, 32, 64]
fig, ax = plt.subplots(figsize=(6, 3.5))
for stage, label in enumerate(["DDP (replicated)", "ZeRO-1: optimizer states",
                               "ZeRO-2: + gradients", "ZeRO-3 / FSDP: + parameters"]):
    ax.loglog(gpus, [model_state_gb(7.5e9, n, stage) for n in gpus], "o-", ms=3, label=label)
ax.axhline(80, color="gray", ls="--", lw=1)
ax.text(20, 90, "80 GB: one A100/H100", fontsize=8, ha="center")
ax.set(xlabel="number of GPUs", ylabel="GB per GPU (model states)", title="a 7.5B model with Adam, mixed precision")
ax.set_xticks(gpus, [str(n) for n in gpus])
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# The communication costs are small for what they buy. In the paper's analysis, stages 1
# and 2 move the same volume per step as DDP's all-reduce, because an all-reduce is a
# reduce-scatter followed by an all-gather, and ZeRO just keeps the two halves apart. Stage
# 3 moves about 1.5 times as much, because the parameters are all-gathered again in the
# backward pass. For our sizes none of this matters: the full `gpt2` (124M parameters)
# needs about 2 GB of model states under plain DDP.
#
# The map, then, from the bottom layer to the top:
#
# | layer | tool | what it does | relation to this chapter |
# |---|---|---|---|
# | parallel strategy | **DDP** | replicas, gradients averaged by all-reduce | what we ran above |
# | parallel strategy | **FSDP** (`torch.distributed.fsdp`, `fully_shard` in FSDP2) | shards parameters, gradients and optimizer state; all-gathers a layer's parameters for its forward/backward, reduce-scatters gradients | PyTorch's own ZeRO-3 (FSDP1's `SHARD_GRAD_OP` is the ZeRO-2-like mode); the `Trainer`'s DDP wrap would be swapped for it |
# | parallel strategy + engine | **DeepSpeed** | ZeRO stages 1-3, CPU/NVMe offload (ZeRO-Offload/-Infinity), its own launcher `deepspeed`, fused optimizers, pipeline parallelism | takes over the model, optimizer and step (`deepspeed.initialize` returns an engine that does backward and step) |
# | orchestration | **Ray Train** | starts worker processes across a cluster (`ScalingConfig`), sets up their torch process group, restarts failed workers from the last reported checkpoint (`FailureConfig`); `prepare_model` wraps in DDP or FSDP | replaces `torchrun` and the machines under it, not DDP: inside each worker it is still DDP, FSDP or DeepSpeed |
# | training loop | **Lightning** | a `Trainer` over a `LightningModule`; `strategy="ddp"`, `"fsdp"`, `"deepspeed_stage_2"`, ... | a replacement for our `Trainer` and its callbacks, with the strategies above plugged in |
#
# On the notes' question about Lightning: it is a loop-and-callbacks layer, the same layer
# as our `Trainer`, and it delegates scaling to the strategies above. Choosing it does not
# lock you into DeepSpeed's defaults. Its `DeepSpeedStrategy` accepts a complete DeepSpeed
# config (a dict or a JSON path), and then ignores its own defaults. Ray Train also runs
# Lightning inside its workers (`RayDDPStrategy`, `RayFSDPStrategy`, `RayDeepSpeedStrategy`).
# So "DeepSpeed and Ray" and "Lightning" are not alternatives. Ray decides where the
# processes run, DeepSpeed or FSDP decides how the model's state is split between them,
# and Lightning, or a hand-written `Trainer` like ours, is the loop each process runs.
# Our `Trainer` only asks `torch.distributed` whether a process group exists. Under
# `torchrun` it does; under a Ray Train worker, Ray creates one. That path is not tested
# here, because Ray is not installed.
#
# The notes' JAX remark points the same way. In JAX, data parallelism and ZeRO-3-style
# sharding are written as *sharding annotations* on arrays (`jax.jit` with a `Mesh` and
# `NamedSharding`; `pjit` has been merged into `jit`), and the compiler inserts the
# collectives. The separation between functions and parameters that the notes noticed is
# what makes that possible.
#
# ## What to try
#
# 1. Run the two-process training with `--dropout 0.1`. Each process then draws its own
#    dropout masks (the `Trainer` seeds them with `seed + rank`). How far do the curves
#    drift now, and is the result still "the same training" in a statistical sense?
# 2. Start three processes with `--batch-size 30`, then with `--batch-size 32`. What does
#    the `Trainer` say, and why must the global batch divide evenly?
# 3. Change `lm_loss`'s reduction to a sum instead of a mean, in a copy of the
#    single-process check above. What factor now relates the averaged half-batch
#    gradients to the full-batch gradient?
# 4. Using `model_state_gb`, find the smallest number of 80 GB GPUs that holds
#    `gpt2-xl`'s model states under each ZeRO stage. Get its parameter count from
#    `GPT(GPTConfig.from_preset("gpt2-xl", ...))` on the `meta` device, as in chapter 10.
# 5. On a machine with GPUs, run `torchrun --standalone --nproc_per_node 2 -m
#    mingpt_lite.distributed --device cuda --iters 200 --n-layer 6 --n-embd 384 --out l.json`
#    and compare its `ms_per_iter` with one process.
