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
# Nothing here needs a GPU. The process group runs on [`gloo`](https://github.com/pytorch/gloo),
# PyTorch's CPU backend, and the same code runs on [NCCL](https://github.com/NVIDIA/nccl)
# across GPUs.
#
# ## What you need from earlier chapters
#
# - Chapter 02 builds `GPT` and `GPTConfig`; here we only build a small one (2 layers, width 32).
# - Chapter 04 builds `SortTask` and `lm_loss`, the mean cross entropy over the scored targets.
#   That *mean* is what makes the gradients of two half batches average to the full batch's.
# - Chapter 05 builds the `Trainer`. It is used unchanged: under `torchrun` it notices the
#   process group by itself.
# - Nothing from chapters 06 to 10 is needed, apart from one exercise that borrows chapter 10's
#   trick of building a model on the `meta` device to count its parameters.

# %%
from mingpt_lite.notebook import start_chapter

device = start_chapter(seed=0, device="cpu")  # the training runs below choose their own processes

# %%
import json
import math
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
# (This needs each half to score the same number of targets. Exercise 11.1 asks what to do
# when they do not.)
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
# [`torch.nn.parallel.DistributedDataParallel`](https://docs.pytorch.org/docs/stable/generated/torch.nn.parallel.DistributedDataParallel.html)
# wraps a model and takes care of the rest. Its design, the gradient buckets and the overlap
# of communication with the backward pass, is described by its authors in
# [Li et al. 2020](https://arxiv.org/abs/2006.15704). The diagram shows one step with the
# chapter's sizes: a global batch of 32 sort sequences of $2 \cdot 6 - 1 = 11$ tokens, 16 per rank,
# and one flat gradient per replica.
#
# ![Two ranks each hold a replica of the GPT, compute the gradient of their own 16 sequences, all-reduce the two gradients into their average, and take the same AdamW step, so the replicas stay equal](figures/11_ddp_allreduce.svg)
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
# [`torchrun`](https://docs.pytorch.org/docs/stable/elastic/run.html)
# (`python -m torch.distributed.run`) starts the processes and tells each one
# where it stands through environment variables: `RANK`, `WORLD_SIZE`, `LOCAL_RANK`, and
# the address of a rendezvous point (`MASTER_ADDR`, `MASTER_PORT`). The package's
# `init_distributed()` reads them and joins the process group, and
# `distributed.run_torchrun` starts `torchrun` from Python and collects its output.
#
# The notebook writes a short script that does two things in each process. First it runs an
# all-reduce on its own, so we can watch it: each rank contributes a stand-in "gradient" of
# `rank + 1` times `[1, 10]`, and the average over two ranks is `[1.5, 15]`. Then it hands
# over to the package's training entry point, `mingpt_lite.distributed.main` (also runnable as
# `python -m mingpt_lite.distributed`). That trains the model above on the sort task with
# the package's `Trainer`: batch 32, learning rate 3e-3, 30 steps, and every step's loss
# written to a JSON file. Under `torchrun` the `Trainer` notices the process group, wraps
# the model in DDP and gives each process 16 of the 32 sequences. The loss it records is
# the mean of the processes' losses, which is the loss of the whole batch.
#
# Starting two Python processes costs seconds (and minutes on a machine busy with other
# work), so the notebook launches `torchrun` once, for seed 3, the seed whose losses drifted
# furthest in our measurements below. The single-process runs after it are cheap, and they
# cover five seeds.

# %%
ITERS = 30
SEEDS = [0, 1, 2, 3, 4]  # the single-process runs
DDP_SEED = 3  # the two-process run
common = ["--iters", str(ITERS)]  # the same run settings everywhere below

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
done = distributed.run_torchrun([str(script), "--out", str(workdir / f"two-{DDP_SEED}.json"), *common,
                                 "--seed", str(DDP_SEED)], nproc=2, env={"OMP_NUM_THREADS": "1"}, timeout=240, retries=1)
two_seconds = time.perf_counter() - started
lines = sorted(line for line in done.stdout.splitlines() if line.startswith("rank"))
print("\n".join(lines))
assert lines == ["rank 0 of 2 (gloo): average [1.5, 15.0]", "rank 1 of 2 (gloo): average [1.5, 15.0]"], done.stdout

# %% [markdown]
# ## One process against two
#
# The same entry point runs without `torchrun` too, as one ordinary process. We run it for
# each seed in the notebook's kernel, three ways:
#
# 1. one process on the same batch of 32, with one thread like each DDP worker, so that
#    only the number of processes differs: the reference;
# 2. a **negative control**: one process on batch 16 alone. This is what a worker sees if
#    its gradients are never averaged with the other worker's;
# 3. one process on batch 32 with **two threads** instead of one: the same arithmetic, only
#    the CPU's split of each sum changes. We come back to it below.

# %%
def losses(path):
    """Per-step training losses and run facts written by the package's entry point."""
    return json.loads(Path(path).read_text())


kernel_threads = torch.get_num_threads()  # restored at the end of the chapter
runs = {"one": {}, "half": {}, "two_threads": {}}
one_seconds = 0.0
for seed in SEEDS:
    args = [*common, "--seed", str(seed)]
    torch.set_num_threads(1)  # like each DDP worker (OMP_NUM_THREADS=1)
    started = time.perf_counter()
    distributed.main(["--out", str(workdir / f"one-{seed}.json"), *args])
    one_seconds += (time.perf_counter() - started) / len(SEEDS)
    distributed.main(["--out", str(workdir / f"half-{seed}.json"), *args, "--batch-size", "16"])
    torch.set_num_threads(2)
    distributed.main(["--out", str(workdir / f"two_threads-{seed}.json"), *args])
    for name in runs:
        runs[name][seed] = losses(workdir / f"{name}-{seed}.json")
torch.set_num_threads(1)

# %%
one, half = runs["one"], runs["half"]
two = losses(workdir / f"two-{DDP_SEED}.json")
assert (one[DDP_SEED]["world_size"], two["world_size"], two["backend"]) == (1, 2, "gloo")
print(f"world sizes {one[DDP_SEED]['world_size']} and {two['world_size']} (backend {two['backend']})")
print(f"seed {DDP_SEED}, loss at step 0: {one[DDP_SEED]['losses'][0]:.3f} (one process), "
      f"{two['losses'][0]:.3f} (two processes)")

# %% tags=["nbval-ignore-output"]
# The last step's losses: they carry the drift discussed below, so they are not compared exactly.
print(f"seed {DDP_SEED}: loss at step {ITERS - 1}: {one[DDP_SEED]['losses'][-1]:.4f} (one process), "
      f"{two['losses'][-1]:.4f} (two processes)")
for s in SEEDS:
    print(f"seed {s}: loss at step {ITERS - 1}: {one[s]['losses'][-1]:.4f} (one process), "
          f"{half[s]['losses'][-1]:.4f} (batch 16 alone), {runs['two_threads'][s]['losses'][-1]:.4f} (2 threads)")

# %%
assert two["losses"][-1] < 0.5 * two["losses"][0]
for run in runs.values():
    assert all(run[s]["losses"][-1] < 0.5 * run[s]["losses"][0] for s in SEEDS)  # every run trained
print(f"every run ended below half its first loss after {ITERS} steps")

# %% [markdown]
# How equal should "equal" be? At step 0 both runs hold the same weights and see the same
# 32 sequences. The only difference is the order of the floating-point additions: one
# mean over 32, versus two means over 16 that are then averaged. That costs a few units in
# the last place, around 1e-7 relative. From then on the gradients differ by the same few
# ulps. Adam divides each gradient by its running RMS, so every weight moves by about the
# learning rate whatever its gradient's size, and a tiny relative difference in a gradient
# becomes the same tiny relative difference in that step. The weights then differ, the next
# gradients differ a little more, and the difference grows from step to step, fastest where the
# loss falls steeply.
#
# So what is the same on every machine, and what is not? The *first* loss is the same to
# about 1e-7 on any CPU, thread count or kernel, because it is computed once from the same
# weights; it is compared above at 3 decimals. The later losses are the same function of the
# same data, but the rounding of each sum depends on the CPU's vector width, its kernels and
# its thread count, and Adam amplifies it. They cannot be compared digit for digit across
# machines. What we *can* assert everywhere is a bound on the drift, and a gap to a real
# mistake. The cell below prints each seed's numbers (they differ from machine to machine),
# and the cell after it asserts the bounds.
#
# We chose the bounds by running this chapter's code for seeds 0 to 4 under two settings (the
# measurements are listed in `chapters/data/README.md`). The notebook itself launches only seed 3,
# the worst of the five, because a launch can take minutes on a busy machine. The bounds leave
# room above every measured value:
#
# - over the early window, steps 0 to 9, the two-process loss must stay within 1e-4 (relative) of
#   the one-process loss;
# - over all 30 steps it must stay within 5e-2, for two processes and for two threads alike;
# - the control, batch 16 alone, must be off by more than 1e-2 on average over the early window:
#   a real mistake is far outside the drift.

# %% tags=["nbval-ignore-output"]
rel = lambda a, b: [abs(p - q) / p for p, q in zip(a["losses"], b["losses"])]  # noqa: E731
rel_two = rel(one[DDP_SEED], two)
rel_half = {s: rel(one[s], half[s]) for s in SEEDS}
rel_thread = {s: rel(one[s], runs["two_threads"][s]) for s in SEEDS}
print(f"seed {DDP_SEED}, two processes vs one: {rel_two[0]:.0e} at step 0, {max(rel_two[:10]):.0e} at most over "
      f"steps 0-9, {max(rel_two):.0e} over all {ITERS}")
print("seed  2 threads: max 0-9  max all   batch 16: mean 0-9")
for s in SEEDS:
    print(f"{s:4d}  {max(rel_thread[s][:10]):17.0e}  {max(rel_thread[s]):8.0e}  {sum(rel_half[s][:10]) / 10:18.3f}")

# %%
EARLY, EARLY_TOL, LATE_TOL = 10, 1e-4, 5e-2  # see the text above for why these bounds
assert rel_two[0] < 1e-6  # same weights, same batch: only the summation order differs
assert max(rel_two[:EARLY]) < EARLY_TOL and max(rel_two) < LATE_TOL
assert all(max(rel_thread[s][:EARLY]) < EARLY_TOL and max(rel_thread[s]) < LATE_TOL for s in SEEDS)
assert all(sum(rel_half[s][:EARLY]) / EARLY > 100 * EARLY_TOL for s in SEEDS)  # the control, over the same steps
print(f"two processes (seed {DDP_SEED}), and 2 threads instead of 1 (seeds {SEEDS[0]}-{SEEDS[-1]}): within "
      f"{EARLY_TOL:.0e} of one process over steps 0-{EARLY - 1} and within {LATE_TOL:.0e} over all {ITERS};")
print(f"the batch-16 control is off by more than {100 * EARLY_TOL:.0e} on average over steps 0-{EARLY - 1}, every seed")

# %% [markdown]
# Is that drift caused by DDP? The third run answers it: the *same* single process with two
# threads instead of one drifts from the one-thread run in the same way, by the same order of
# magnitude. With a different thread count the CPU splits its sums differently. The
# difference between two processes and one is rounding, of the same kind as changing the
# thread count. Which of the two drifts more depends on the seed and the CPU, so we do not
# assert an order between them.

# %%
steps = range(ITERS)
gaps = lambda v: [d if d > 0 else float("nan") for d in v]  # noqa: E731  (equal losses: no point on a log axis)
fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
left.plot(steps, one[DDP_SEED]["losses"], label="1 process (batch 32)")
left.plot(steps, two["losses"], "--", label="2 processes, DDP (16 + 16)")
left.plot(steps, half[DDP_SEED]["losses"], ":", label="1 process, batch 16 only")
left.set(xlabel="step", ylabel="training loss", title=f"sort task, seed {DDP_SEED}")
left.legend(fontsize=8)
right.semilogy(steps, gaps(rel_two), "o-", ms=4, color="tab:orange", label=f"2 processes (DDP), seed {DDP_SEED}")
for i, s in enumerate(SEEDS):  # one colour per kind of run, one line per seed, labelled once
    first = i == 0
    right.semilogy(steps, gaps(rel_thread[s]), "s-", ms=3, alpha=0.6, color="tab:green",
                   label="1 process, 2 threads instead of 1" if first else None)
    right.semilogy(steps, rel_half[s], "^-", ms=3, alpha=0.7, color="tab:red",
                   label="batch 16 only (control)" if first else None)
right.axhline(EARLY_TOL, color="gray", ls="--", lw=1)  # tolerance over the early steps
right.axhline(LATE_TOL, color="gray", ls=":", lw=1)  # tolerance over all steps
right.set(xlabel="step", ylabel="|loss - loss(1 process)| / loss", title="difference to one process, 1 thread")
right.legend(fontsize=7)
fig.tight_layout()
plt.show()

# %% [markdown]
# On the left, for seed 3, the DDP curve lies on top of the one-process curve, while the
# half-batch run follows its own path. On the right, the DDP run and all five seeds of the
# other two: steps whose losses agree to the last bit have no point on the log scale. The DDP
# run and the two-thread runs start
# at float rounding (about 1e-7, or exactly equal) and drift upward as training goes on. The
# control is about 1e-2 away from the first steps and 1e-1 or more later. The dashed and
# dotted lines mark the two tolerances.
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
print(f"1 process:   {one[DDP_SEED]['ms_per_iter']:.1f} ms/step, {one_seconds:.1f} s per run in the kernel")
print(f"2 processes: {two['ms_per_iter']:.1f} ms/step, {two_seconds:.1f} s for the launch, including torchrun's "
      "start-up and the all-reduce demo")
shutil.rmtree(workdir)  # the scratch files are no longer needed
torch.set_num_threads(kernel_threads)

# %% [markdown]
# ## Where the other tools take over
#
# DDP keeps a **full copy** of everything on every worker: parameters, gradients and
# optimizer state. The ZeRO paper ([Rajbhandari et al. 2020](https://arxiv.org/abs/1910.02054))
# counts the bytes for
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
# The package has the paper's count as a function, `distributed.model_state_gb(n_params,
# n_gpus, stage)`. With Ψ parameters and N GPUs it adds up $2Ψ + 2Ψ + KΨ$ bytes per GPU,
# dividing the optimizer term by N from stage 1 on, the gradient term from stage 2 on and the
# parameter term at stage 3; the asserts below spell that arithmetic out for stages 0, 1 and 3.
# It reproduces the paper's worked example, a 7.5B-parameter model on 64 GPUs: 120 GB per GPU
# with plain data parallelism, then 31.4, 16.6 and 1.9 GB.

# %%
from mingpt_lite.distributed import model_state_gb

psi, n_gpus, K = 7.5e9, 64, 12
assert math.isclose(model_state_gb(psi, n_gpus, 0), (2 + 2 + K) * psi / 1e9)  # 16 bytes per parameter
assert math.isclose(model_state_gb(psi, n_gpus, 1), (2 + 2 + K / n_gpus) * psi / 1e9)  # optimizer split N ways
assert math.isclose(model_state_gb(psi, n_gpus, 3), (2 + 2 + K) * psi / n_gpus / 1e9)  # everything split N ways
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
# | parallel strategy | **FSDP** ([`torch.distributed.fsdp`](https://docs.pytorch.org/docs/stable/fsdp.html), [`fully_shard`](https://docs.pytorch.org/docs/stable/distributed.fsdp.fully_shard.html) in FSDP2) | shards parameters, gradients and optimizer state; all-gathers a layer's parameters for its forward/backward, reduce-scatters gradients | PyTorch's own ZeRO-3 (FSDP1's `SHARD_GRAD_OP` is the ZeRO-2-like mode); the `Trainer`'s DDP wrap would be swapped for it |
# | parallel strategy + engine | **[DeepSpeed](https://www.deepspeed.ai/)** | ZeRO stages 1-3, CPU/NVMe offload (ZeRO-Offload/-Infinity), its own launcher `deepspeed`, fused optimizers, pipeline parallelism | takes over the model, optimizer and step (`deepspeed.initialize` returns an engine that does backward and step) |
# | orchestration | **[Ray Train](https://docs.ray.io/en/latest/train/train.html)** | starts worker processes across a cluster (`ScalingConfig`), sets up their torch process group, restarts failed workers from the last reported checkpoint (`FailureConfig`); `prepare_model` wraps in DDP or FSDP | replaces `torchrun` and the machines under it, not DDP: inside each worker it is still DDP, FSDP or DeepSpeed |
# | training loop | **[Lightning](https://lightning.ai/docs/pytorch/stable/)** | a `Trainer` over a `LightningModule`; `strategy="ddp"`, `"fsdp"`, `"deepspeed_stage_2"`, ... | a replacement for our `Trainer` and its callbacks, with the strategies above plugged in |
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
# ## What you learned
#
# - Data parallelism rests on one identity: the gradient of a mean over the batch is the
#   average of the gradients of equal-sized, equally-scored parts of it.
# - DDP keeps a full replica per process, all-reduces the gradients in buckets during
#   `backward`, and lets every process take the same optimizer step, so the replicas stay
#   equal without sending weights.
# - Two processes reproduce one process's first loss to about 1e-7 and then drift by
#   rounding, amplified by Adam, exactly as a change of thread count does; a real mistake (no
#   averaging) is off by more than 100 times the early drift bound, as asserted.
# - Across machines, only the first loss and the bounds on the drift are reproducible; later
#   losses are compared with tolerances, never digit for digit.
# - DDP replicates 16 bytes per parameter of model state; ZeRO's stages (and FSDP, PyTorch's
#   version of stage 3) partition optimizer states, gradients and parameters across GPUs.
#
# ## Exercises
#
# Worked answers are in [the worked solutions](solutions/11_scaling_out.ipynb).
#
# ### Exercise 11.1 (implement): Averaging when the ranks score different numbers of targets
#
# The identity above needs every rank to score the same number of targets. With padded text
# or masked prompts they do not. Write `combine(grads, counts)`: given each rank's gradient of
# its own *mean* loss (a list of flat tensors) and the number of targets each rank scored,
# return the gradient of the mean loss over the whole batch. Check it with
# `from mingpt_lite.exercises import check; check("11.1", combine)`. Then say how far DDP's
# plain average is off in the checker's unequal case.
#
# ### Exercise 11.2 (predict): A sum instead of a mean
#
# Suppose the loss were the *sum* of the per-target cross entropies instead of their mean.
# Predict the factor f in: full-batch gradient = f × (average of the two half-batch gradients).
# Then measure it with a copy of the single-process check above and call `check("11.2", f)`.
# Which of DDP's two steps, the all-reduce's sum or the division by the world size, would
# then give the right gradient?
#
# ### Exercise 11.3 (explain): Drift that is not a bug
#
# The two-process losses equal the one-process losses at step 0 to about 1e-7 and then drift
# apart (the printout above gives seed 3's drift). Explain why
# this is not a bug in DDP or in the `Trainer`, using two numbers you compute: the relative
# difference at step 0, and the drift between one process with 1 thread and with 2 threads.
# Why does the drift grow instead of staying at 1e-7?
#
# ### Exercise 11.4 (explain): Where DDP runs out of memory
#
# Count `gpt2-xl`'s parameters with `GPT(GPTConfig.from_preset("gpt2-xl", ...))` on the `meta`
# device, as chapter 10 does. Using `model_state_gb`, give its model states per GPU with plain
# DDP and with ZeRO stages 1, 2 and 3 on 8 GPUs. Explain why the DDP figure is the same on 8
# GPUs as on 1, and which stage first fits in a 24 GB GPU.
