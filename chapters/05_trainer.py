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
# # 5. A Trainer with callbacks
#
# **The question:** what is a training loop at its smallest, and what must it add to
# survive a NaN, a crash and a restart?
#
# Chapters 1 to 4 built a model, a task, a loss and an optimizer, each on its own. Training
# is where they meet, and the author's notes say what they wanted from that meeting place:
# *"Training process has to put everything together. Make sense to build a trainer class to
# bundle all relevant states and functions together."* And, about minGPT's version of it:
# *"The callback system is intuitive and interesting."*
#
# This chapter uses `mingpt_lite.trainer.Trainer`, which keeps the shape of
# [minGPT's trainer](https://github.com/karpathy/minGPT/blob/master/mingpt/trainer.py) (a config, a
# `run`-style loop, callbacks on named events) and adds what a run needs to survive contact
# with real use: a loss history you can plot, checkpoints that resume exactly, and a clear stop
# when the loss turns into NaN. We
#
# 1. write one training step by hand and check that the Trainer's first step is the same step,
#    bit for bit;
# 2. hook into the loop with callbacks, adding one and removing it again;
# 3. train minGPT's demo (sorting six digits from {0, 1, 2}) with the demo's settings, plot the
#    loss, and check 100% accuracy on both splits, next to the demo's own stored output;
# 4. stop a run, resume it from a checkpoint, and check that nothing changed.
#
# ## What you need from earlier chapters
#
# - Chapter 2 builds `GPT` and `GPTConfig`; here we only instantiate its `gpt-nano` preset.
# - Chapter 3's initialisation runs inside `GPT`; we only use its consequence that an untrained
#   model's loss is close to ln 3, a uniform guess over three digits.
# - Chapter 4 builds the sort task (`SortTask`, its fixed train/test split, `sort_accuracy`'s greedy
#   scoring), the loss `lm_loss` and `configure_adamw` with its parameter groups. This chapter
#   puts them in one loop and does not change any of them.

# %%
import copy
import dataclasses
import json
import shutil
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import torch

from mingpt_lite import GPT, GPTConfig, configure_adamw, lm_loss
from mingpt_lite.data import SortTask, sort_accuracy
from mingpt_lite.notebook import spread, start_chapter
from mingpt_lite.trainer import EVENTS, NonFiniteLossError, Trainer, TrainerConfig

device = start_chapter(seed=3407)  # 3407: the seed of minGPT's demo

# %% [markdown]
# ## The demo's settings
#
# minGPT's [`demo.ipynb`](https://github.com/karpathy/minGPT/blob/master/demo.ipynb) trains
# `gpt-nano` (3 layers, 3 heads, 48 wide) on the sort task of chapter 4 for 2,000 steps with
# batches of 64, AdamW ([Loshchilov & Hutter 2019](https://arxiv.org/abs/1711.05101): Adam with the
# weight decay applied to the weights directly, not through the gradient) at a constant learning
# rate of 5e-4, betas (0.9, 0.95), weight decay 0.1 on the Linear weights, gradient clipping at
# norm 1.0 ([Pascanu et al. 2013](https://arxiv.org/abs/1211.5063)), dropout 0.1. Those are exactly `TrainerConfig`'s defaults, so the config only names what a
# reader might want to change: the number of steps, the seed, the device, and no progress bar
# in the printed book.

# %%
task = SortTask(length=6, num_digits=3)
nano = GPTConfig.from_preset("gpt-nano", vocab_size=task.vocab_size, block_size=task.block_size, dropout=0.1)
demo = TrainerConfig(max_iters=2000, seed=3407, device=str(device), progress=False)
print(demo)
assert (demo.batch_size, demo.learning_rate, demo.betas, demo.weight_decay, demo.grad_clip) == (64, 5e-4, (0.9, 0.95), 0.1, 1.0)
assert demo.lr_schedule == "constant" and demo.warmup_iters == 0


def new_model(seed=3407):
    """A freshly initialised gpt-nano for the sort task; the same weights for the same seed."""
    torch.manual_seed(seed)
    return GPT(nano)


# %% [markdown]
# ## One step, by hand
#
# A training step is six lines: draw a batch, run the model, compute the loss, backpropagate,
# clip the gradient's norm, let the optimizer move the weights. Here they are, on a fresh
# model, with the two random streams a step uses made explicit: a `torch.Generator` for the
# batch and torch's global generator for the dropout masks. (On the CPU, so the comparison
# below can be exact.)

# %%
model = new_model()
twin = copy.deepcopy(model)                      # the same weights, for the Trainer below

optimizer = configure_adamw(model, lr=5e-4, weight_decay=0.1, betas=(0.9, 0.95), fused=True)
batches = torch.Generator().manual_seed(3407)
torch.manual_seed(3407)                          # dropout masks
x, y = task.get_batch("train", 64, batches)      # (64, 11) each
loss = lm_loss(model(x), y)
loss.backward()
torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
optimizer.step()
optimizer.zero_grad(set_to_none=True)
print(f"loss of the first step: {loss.item():.3f}")

# %% [markdown]
# The Trainer does the same with its own generator, seeded from `config.seed`, and seeds the
# dropout masks from the same number. One step of it on the twin must give the same loss and
# the very same weights, to the last bit. (Both use PyTorch's *fused* AdamW, one compiled loop
# over all parameters, which the Trainer picks by default on CPU and CUDA. The unfused version
# computes the same update with separate tensor operations and rounds differently, about 1e-9
# here, so "to the last bit" needs the same kernel on both sides.)

# %%
trainer = Trainer(twin, task, TrainerConfig(seed=3407, device="cpu", progress=False, fused_adamw=True))
trainer.train(max_iters=1)
assert trainer.iter_num == 1 and trainer.losses == [loss.item()]
assert all(torch.equal(p, q) for p, q in zip(model.parameters(), twin.parameters()))
print("Trainer's first step == the step by hand: same loss, same weights")

# %% [markdown]
# Everything else in `trainer.py` is bookkeeping around those six lines: the iteration counter,
# the learning-rate schedule (constant here; warmup and cosine are options), the loss history,
# evaluation, checkpoints, and, on a GPU, bf16 autocast and a loss buffer that stays on the
# device so the loop never waits for it. What a chapter (or a reader) wants to *add* to the loop
# goes into callbacks.
#
# ## Callbacks
#
# minGPT's trainer has one event, `on_batch_end`, and the demo hooks a function into it that
# prints the loss every 100 iterations. Ours has a few more, each fired at a fixed point of the
# loop; a callback is any function that takes the trainer, and it can read everything the
# trainer holds (`iter_num`, `loss`, `losses`, `iter_dt`, the model, the optimizer). Where each
# one fires, drawn with this chapter's settings:
#
# ![The Trainer's loop: the six lines of a step, then the checks that fire on_log, on_eval and on_checkpoint only every so often; dashed arrows show where each event fires](figures/05_trainer_loop.svg)
#
# Two details of the drawing matter when you write a callback. `on_batch_end` fires *before*
# `iter_num` is incremented, so inside it `iter_num` is the index of the step just taken (0 for
# the first). And the per-step losses reach `trainer.losses` only at the yellow boxes, every
# `log_interval` steps: on every other step `trainer.losses` is behind, and `trainer.loss` (a
# tensor) is the current one.

# %%
for event in EVENTS:
    print(event)
assert "on_batch_end" in EVENTS

# %% [markdown]
# The run we are about to start also writes a checkpoint every 500 steps (the last section needs
# them). The trainer overwrites one file each time, atomically; a callback on `on_checkpoint`
# keeps a copy of each one under its iteration number. It is added first and stays for the
# whole run:

# %%
run_dir = Path(tempfile.mkdtemp(prefix="chapter05-"))
kept = {}              # iteration -> path of a copy of the checkpoint written then


def keep_checkpoint(trainer):
    """Copy the checkpoint just written to sort-<iteration>.pt."""
    at, path = trainer.last_checkpoint
    kept[at] = shutil.copy(path, run_dir / f"sort-{at}.pt")


run = dataclasses.replace(demo, checkpoint_path=str(run_dir / "sort.pt"), checkpoint_interval=500)
trainer = Trainer(new_model(), task, run)
trainer.add_callback("on_checkpoint", keep_checkpoint)
assert trainer.callbacks["on_checkpoint"] == [keep_checkpoint]

# %% [markdown]
# Next, the demo's printout as a callback. `trainer.iter_num` is the index of the step that
# just finished, so the first line is the loss of step 0, as in minGPT. We add it, train 300
# steps (`train(max_iters=...)` stops early; calling `train()` again continues), and see three
# lines:

# %% tags=["nbval-ignore-output"]
last_print = [time.perf_counter()]

def print_like_mingpt(trainer):
    """minGPT demo's progress line, every 100 iterations, with the wall time per step since the last line."""
    if trainer.iter_num % 100 == 0:
        loss = trainer.loss.item()    # waits for the device, so the clock below covers the steps' work
        now = time.perf_counter()     # (iter_dt alone would be the host's queueing time on a GPU)
        per_step = (now - last_print[0]) / (100 if trainer.iter_num else 1)
        last_print[0] = now
        print(f"{per_step * 1000:.2f}ms per step; iter {trainer.iter_num}: train loss {loss:.4f}")


trainer.add_callback("on_batch_end", print_like_mingpt)
trainer.train(max_iters=300)
assert trainer.iter_num == 300

# %% [markdown]
# (`trainer.loss.item()` copies a number from the device to Python. On a CPU that is free; on a
# GPU it makes the loop wait for every queued kernel, every step the callback runs. The
# `on_log` event fires only every `log_interval` steps, right after the trainer has read its
# losses back anyway, which is the place for anything that needs numbers on the host.)
#
# A callback is removed the same way it was added. For the rest of the run we swap the printer
# for a quiet callback that records, every 100 steps, what the printer would have printed, and
# train on to the demo's 2,000 steps:

# %%
trainer.remove_callback("on_batch_end", print_like_mingpt)
assert print_like_mingpt not in trainer.callbacks["on_batch_end"]

printout = {}          # iteration -> loss, what minGPT's demo would have printed


def record_every_100(trainer):
    """Store the loss of every 100th step."""
    if trainer.iter_num % 100 == 0:
        printout[trainer.iter_num] = trainer.loss.item()


trainer.add_callback("on_batch_end", record_every_100)
trainer.train()        # from iteration 300 on to config.max_iters = 2000
assert trainer.iter_num == 2000 and len(trainer.losses) == 2000
assert sorted(printout) == list(range(300, 2000, 100))                  # silent for the first 300 steps
assert all(printout[i] == trainer.losses[i] for i in printout)          # the callback saw what the history holds
assert sorted(kept) == [300, 500, 1000, 1500, 2000]                      # every 500, and where train() returned

# %% [markdown]
# ## The loss curve
#
# `trainer.losses` holds the loss of every step. One step's loss is measured on one batch of 64
# problems, so it is noisy; a running mean over 50 steps shows the trend. The four red points
# are the losses minGPT's demo printed at iterations 0, 100, 1000 and 1900 (its stored output,
# from a GPU).

# %%
MINGPT_DEMO = {0: 1.06407, 100: 0.14712, 1000: 0.00788, 1900: 0.00042}   # demo.ipynb's stored printout

losses = torch.tensor(trainer.losses)
window = 50
running_mean = losses.unfold(0, window, 1).mean(1)      # mean of steps i .. i+49

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(losses, lw=0.5, alpha=0.4, label="loss of each step")
ax.plot(range(window - 1, len(losses)), running_mean, label=f"mean of the last {window} steps")
ax.plot(list(MINGPT_DEMO), list(MINGPT_DEMO.values()), "o", color="tab:red", label="minGPT demo (stored output)")
ax.set(yscale="log", xlabel="iteration", ylabel="cross entropy", title="gpt-nano sorting 6 digits, demo settings")
ax.legend()
plt.show()

# %% [markdown]
# The shape matches the demo's: from about ln 3 ≈ 1.1 (a uniform guess over three digits,
# chapter 3) down to roughly 0.1 within the first hundred steps, then a long slow descent
# through 0.01, with single batches now and then spiking when they happen to hold a problem the
# model still gets wrong. Step by step the numbers cannot be the same as minGPT's (another
# device, another initialisation order, another batch sampler), so the comparison is of
# magnitudes:

# %% tags=["nbval-ignore-output"]
def mean_around(i, half=50):
    """Mean loss over the steps i-half .. i+half-1 (clipped to the run)."""
    return losses[max(0, i - half) : i + half].mean().item()


print(f"{'iteration':>9}  {'minGPT demo':>11}  {'this run':>8}  {'this run, mean of 100 steps':>28}")
for i, theirs in MINGPT_DEMO.items():
    print(f"{i:>9}  {theirs:>11.4f}  {trainer.losses[i]:>8.4f}  {mean_around(i):>28.4f}")

# %%
assert abs(trainer.losses[0] - MINGPT_DEMO[0]) < 0.1          # both start near ln 3
assert mean_around(1000) < 0.05 and mean_around(1900) < 0.02    # and end two orders of magnitude lower
assert running_mean[-1] < running_mean[100] / 5                 # still improving in the second half

# %% [markdown]
# ## Does it sort?
#
# A low loss is a means; the demo's real test is whether the model, given six digits, *writes*
# the sorted six. `sort_accuracy` does what the demo does: greedy generation (always the most
# likely next digit) of six tokens after the problem, and a problem counts only if all six are
# right. The demo scores 5,000 problems of each split, drawn the way training batches are
# drawn (repeats included). There are only $3^6 = 729$ distinct problems, so we can also check every
# one of them, which is the stronger statement: the test split's problems were never drawn
# during training (chapter 4).

# %% tags=["nbval-ignore-output"]
model = trainer.model
demo_style = {split: task.fixed_problems(split, 5000, device=device) for split in task.splits}
every_one = {split: task.all_problems(split, device=device) for split in task.splits}
scores = {}
for split in task.splits:
    scores[split, "5000"] = sort_accuracy(model, task, demo_style[split])
    scores[split, "all"] = sort_accuracy(model, task, every_one[split])
    print(f"{split:>5}: {scores[split, '5000']:.2%} of 5000 drawn problems, "
          f"{scores[split, 'all']:.2%} of all {len(every_one[split])} distinct problems")

# %% [markdown]
# The tests do not compare these numbers, because on another machine this is a different run
# (see the caution below); they assert what every run we measured backs, at least 97% on every
# split and every way of counting:

# %%
assert all(score >= 0.97 for score in scores.values())
print("at least 97% of the drawn and of the distinct problems sorted, on both splits")

# %% [markdown]
# Side by side with minGPT's `demo.ipynb`, whose stored output (from a GPU) printed the loss
# every 100 iterations and scored 5,000 drawn problems per split:

# %% tags=["nbval-ignore-output"]
rows = [(f"loss at iteration {i}", f"{MINGPT_DEMO[i]:.5f}", f"{trainer.losses[i]:.4f}") for i in MINGPT_DEMO]
rows += [(f"{split}, 5000 drawn problems", "5000/5000", f"{round(scores[split, '5000'] * 5000)}/5000") for split in task.splits]
rows += [(f"{split}, all {len(every_one[split])} distinct problems", "not measured",
          f"{round(scores[split, 'all'] * len(every_one[split]))}/{len(every_one[split])}") for split in task.splits]
print(f"{'':<32} {'minGPT demo':>12} {'this run':>10}")
for name, theirs, ours in rows:
    print(f"{name:<32} {theirs:>12} {ours:>10}")

# %% [markdown]
# One caution the demo does not print: with these settings the model becomes reliably perfect
# only late in the run, and not in every run. A 100% at the end of one seeded run is a fact
# about that run, and on another machine the "same" run is another run: with 1 instead of 2
# threads, or PyTorch's portable kernels instead of the vectorised ones (AVX2, AVX-512), the
# float sums round differently within a few steps, and the trajectories drift apart. So this
# chapter asserts only what held in every run we measured. This demo model was trained with
# five seeds (3407, 0, 1, 2, 3) under three settings: one thread with the vectorised AVX-512
# kernels, one thread with the portable kernels, and two threads with the vectorised kernels.
# The 15 runs are committed as data (`data/05_demo_seeds.json`; chapter 6 uses the same runs as
# its pre-LN baseline), and every claim this chapter makes about the demo's outcome is checked
# on all of them:

# %%
seed_runs = json.loads(Path("data/05_demo_seeds.json").read_text())["runs"]
demo_runs = [run["result"] for run in seed_runs]
settings = sorted({(run["item"]["kernels"], run["item"].get("threads", 1)) for run in seed_runs})
print(f"{len(demo_runs)} runs: seeds {sorted({run['item']['seed'] for run in seed_runs})}, "
      f"settings (kernels, threads) {settings}")


print(f"loss at step 0:                 {spread([r['loss_0'] for r in demo_runs], '.4f')}")
print(f"mean loss around step 1000:     {spread([r['mean_around']['1000'] for r in demo_runs], '.4f')}")
print(f"mean loss around step 1900:     {spread([r['mean_around']['1900'] for r in demo_runs], '.4f')}")
print(f"50-step mean, last / at step 100: {spread([r['running_mean']['last'] / r['running_mean']['100'] for r in demo_runs], '.3f')}")
for key in demo_runs[0]["accuracy"]:
    print(f"accuracy, {key:17s} {spread([r['accuracy'][key] for r in demo_runs], '.2%')}")

# %%
assert len(demo_runs) >= 15 and len(settings) >= 3
assert all(abs(r["loss_0"] - MINGPT_DEMO[0]) < 0.1 for r in demo_runs)
assert all(r["mean_around"]["1000"] < 0.05 and r["mean_around"]["1900"] < 0.02 for r in demo_runs)
assert all(r["running_mean"]["last"] < r["running_mean"]["100"] / 5 for r in demo_runs)
assert all(score >= 0.97 for r in demo_runs for score in r["accuracy"].values())
perfect = [r for r in demo_runs if all(score == 1.0 for score in r["accuracy"].values())]
assert len(perfect) == 12                      # 100% on every split, both ways, in 12 of the 15
print(f"100% on every split in {len(perfect)} of {len(demo_runs)} runs")

# %% [markdown]
# Every claim held in all 15 runs: the loss at step 0 within 0.1 of minGPT's, the mean loss
# around step 1000 below 0.05 and around step 1900 below 0.02, and the running mean ending below
# a fifth of its value at step 100. Every split, counted both ways, was sorted perfectly in 12 of
# the 15 runs; in the other three every score was still at least 97%. So 100% at step 2,000 is
# usual, not guaranteed, and the chapter asserts at least 97% and prints this run's exact scores
# without comparing them.
#
# `mingpt-lite bench sort` repeats the demo with evaluation every 100 steps, and
# chapter 8 asks how the cost grows with the task.
#
# How long did it take? The Trainer times the steps alone (evaluation and checkpoints
# excluded). The number depends on the machine, its load and the thread count, so the tests do
# not compare it, and it cannot be compared with a number measured elsewhere either. A speed
# comparison with minGPT means something only when both run in one process under the same
# load: `mingpt-lite bench sort --peer .peer/minGPT --runs 3 --threads 1` alternates
# 100-iteration segments of ours and of minGPT's own demo code, and the README's "Benchmarks"
# section gives its result.

# %% tags=["nbval-ignore-output"]
print(f"{trainer.ms_per_iter:.1f} ms per iteration, {trainer.train_time:.1f} s for {trainer.iter_num} iterations on {device}")

# %% [markdown]
# ## Stopping and resuming without losing anything
#
# A run that dies at step 1,700 should not have to start again from step 0. What must be on
# disk to *continue* a run, rather than to start a new one from its weights?
#
# - the weights, obviously;
# - AdamW's two moment estimates for every weight (without them the first steps after a restart
#   are those of a fresh optimizer: with its moments at zero, Adam's bias correction makes
#   each first step about ±lr on every weight, whatever the size of its gradient);
# - the iteration number (it drives the learning-rate schedule and the stopping point);
# - every random number generator's state: the batch generator and the dropout generator.
#   Restore the weights but not these, and the resumed run sees other batches and other masks;
#   it still trains, but it is a different run.
#
# `Trainer.save_checkpoint` writes all of that (and the loss history) to one file, by writing a
# temporary file and renaming it over the old one, so a crash in the middle of writing leaves the
# previous checkpoint whole. The run above left a copy of the checkpoint it wrote at step 1,500.
# Suppose it had died there. A new process would build a fresh model (any weights: they are
# overwritten), and `Trainer.resume` would restore the rest:

# %%
resumed = Trainer.resume(kept[1500], new_model(seed=1), task, demo)   # demo: no checkpoints this time
assert resumed.iter_num == 1500 and resumed.losses == trainer.losses[:1500]
resumed.train()       # steps 1500 .. 1999 again, from the checkpoint
print(f"resumed at 1500, finished at {resumed.iter_num}, {len(resumed.losses)} losses in its history")

# %% [markdown]
# On a CPU the resumed run must be the uninterrupted run, not merely close to it: the same loss
# at every one of the last 500 steps and the same final weights, to the last bit. That is a
# claim about one machine and one setting, and it holds on every machine: both runs execute the
# same operations on the same bits in the same order. What the losses *are* is another matter:
# with another thread count or another CPU's kernels the same seed gives another run (see above),
# so we never print them for the tests to compare. (On a GPU, some kernels are not bitwise
# deterministic from run to run, so there we only ask for the same result within a small tolerance.)

# %%
if device.type == "cpu":
    assert resumed.losses == trainer.losses
    assert all(torch.equal(p, q) for p, q in zip(resumed.model.parameters(), trainer.model.parameters()))
    print("resumed run == uninterrupted run: 500 losses and every weight identical")
else:
    torch.testing.assert_close(torch.tensor(resumed.losses[-100:]).mean(), losses[-100:].mean(), rtol=0.5, atol=0.01)

# %% [markdown]
# ### When the loss becomes NaN
#
# The other way a run dies is silently: a learning rate too high, a bad batch, and the loss
# becomes `nan`; every weight it touches becomes `nan` with it, and a loop that does not look
# keeps "training" and keeps saving checkpoints of garbage. The Trainer checks every loss each
# time it reads them back, and stops *before* saving. To see it, a callback poisons one weight
# after step 30 of a short run that checkpoints every 20 steps (a stand-in for a real blow-up):

# %%
def poison_after_step_30(trainer):
    if trainer.iter_num == 30:
        with torch.no_grad():
            trainer.model.lm_head.weight[0, 0] = float("nan")


short = TrainerConfig(max_iters=60, seed=3407, device=str(device), progress=False, log_interval=10,
                      checkpoint_path=str(run_dir / "short.pt"), checkpoint_interval=20)
doomed = Trainer(new_model(), task, short)
doomed.add_callback("on_batch_end", poison_after_step_30)
message = None
try:
    doomed.train()
except NonFiniteLossError as err:
    message = str(err)
print(message.replace(str(run_dir), "<run_dir>"))

# %%
assert message is not None and "iteration 31" in message and len(doomed.losses) == 31       # step 31 is the first NaN loss
assert doomed.last_checkpoint[0] == 20                               # the checkpoint at 30 was never written ...
intact = Trainer.resume(short.checkpoint_path, new_model(), task)    # ... and the one at 20 is whole
assert intact.iter_num == 20 and all(torch.isfinite(p).all() for p in intact.model.parameters())
shutil.rmtree(run_dir)

# %% [markdown]
# (Why 20 and not 30? With `log_interval=10` the losses of steps 30 to 39 are read back at step
# 40, and the check fires there, before the checkpoint due at step 40 could be written. The
# save at step 30 was never due: checkpoints come every 20 steps.)
#
# ## What you learned
#
# - A training step is six lines (batch, forward, loss, backward, clip, optimizer step); the
#   Trainer's first step equals the hand-written one bit for bit, and everything else in the
#   Trainer is bookkeeping around it.
# - Callbacks add behaviour without editing the loop. `on_batch_end` sees the index of the step
#   just taken and `trainer.loss`; `trainer.losses` is only filled every `log_interval` steps,
#   when `on_log` fires, because reading a number back from a GPU makes the loop wait.
# - minGPT's demo settings train gpt-nano to sort, but a 100% at step 2,000 is not guaranteed:
#   12 of the 15 committed runs sorted every split perfectly, and all 15 sorted at least 97%.
# - To resume a run exactly you need more than the weights: AdamW's moments, the iteration
#   number and every random generator's state. With them, a resumed run equals the
#   uninterrupted one bit for bit on the same machine.
# - A NaN loss is caught where the losses are read back, before the next checkpoint, so the last
#   checkpoint on disk is always a healthy one.
#
# ## Exercises
#
# Worked answers are in [the worked solution](solutions/05_trainer.ipynb).
#
# ### Exercise 5.1 (implement): the warmup + cosine schedule
#
# `TrainerConfig(lr_schedule="cosine", warmup_iters=..., min_lr=...)` gives a learning rate that
# rises linearly for `warmup_iters` steps (warmup, as in [Goyal et al. 2017](https://arxiv.org/abs/1706.02677)),
# then falls along half a cosine ([Loshchilov & Hutter 2017](https://arxiv.org/abs/1608.03983))
# from `learning_rate` to `min_lr` at step `max_iters`, and stays there. Write
# `my_lr(config, it)`, the rate of step `it` (counted from 0), such that the last warmup step
# `warmup_iters - 1` already gets the full rate and the step after warmup still does. For
# `lr_schedule="constant"` only the warmup applies. Then
# `from mingpt_lite.exercises import check; check("5.1", my_lr)`: it compares your function with
# the Trainer's own `learning_rate_at` on four configurations and says which step is wrong and why.
#
# ### Exercise 5.2 (implement): a callback that stops the run
#
# Write `stop_below(threshold)`, which returns a callback for `on_batch_end` that stops training
# right after the first step whose loss is below `threshold` (use `trainer.stop()`). The checker
# trains a tiny model with and without your callback and compares where it stopped:
# `check("5.2", stop_below)`. Before you run it, look at the diagram again: which of
# `trainer.loss` and `trainer.losses[-1]` holds the loss of the step that just ended?
#
# ### Exercise 5.3 (predict): how often does each event fire?
#
# A fresh Trainer with `TrainerConfig(max_iters=25, log_interval=10, eval_interval=10,
# checkpoint_interval=10, checkpoint_path=...)` runs one `trainer.train()`. Predict how many
# times each of the seven events fires, write it down as a dict
# `{"on_train_start": ..., "on_after_backward": ..., ...}`, and check it:
# `check("5.3", my_counts)`. Then confirm it yourself with one counting callback per event.
#
# ### Exercise 5.4 (explain): resuming without the optimizer's state
#
# Train a model for a while, save a checkpoint, delete AdamW's state from it
# (`state["optimizer"]["state"] = {}`), and resume. Compare the first update after resuming with
# the update the uninterrupted run makes at the same step: how large is the step each weight
# takes, relative to the learning rate? Explain the number from Adam's update rule, and say what
# this does to the loss.
