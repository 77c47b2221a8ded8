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
# # 6. The post-LN bug
#
# The author's cooking log, 2022-09-21: *"First error free training and evaluation. But my loss
# is way higher than Andrej's. The party begins. Have to find out hidden bugs that didn't crush
# the runtime but eating away performance in the dark."* The log puts two printouts side by
# side, minGPT's demo and the notes' own model, at the same iterations:
#
# | iteration | Andrej (minGPT) | mine (the notes) |
# |---|---|---|
# | 1500 | 0.00048 | 0.1127 |
# | 1600 | 0.00044 | 0.1014 |
# | 1700 | 0.01302 | 0.1729 |
# | 1800 | 0.00352 | 0.1307 |
# | 1900 | 0.01247 | 0.1604 |
#
# The hunt went through the missing biases (chapter 3: real, but *"the problem is not the lack
# of bias"*) and ended here: *"I did post layernorm. Should be pre layernorm. **This is it!!**
# Pre layernorm performs significantly better."* The block that was replaced:
#
# ```python
# # wrong
# x = self.mh_attn(x)
# x = x + self.ln1(x)
# x = self.ff_fn(x)
# x = x + self.ln2(x)
# # correct
# x = x + self.mh_attn(self.ln1(x))
# x = x + self.ff_fn(self.ln2(x))
# ```
#
# The fix is right. This chapter checks the diagnosis. Chapter 2 already noticed that the
# "wrong" block is not the post-LN block of the 2017 Transformer, `x = LN(x + attn(x))`: it
# overwrites `x` with `attn(x)`, so there is no residual connection around attention or the
# MLP at all. Here we train all three, the notes' block (`norm="notes-bug"`), true post-LN
# (`norm="post"`) and pre-LN (`norm="pre"`), with the same seed and minGPT's demo settings, and
# let the loss curves say which change mattered. Then we look at what *does* go wrong with
# post-LN, which needs more depth than the sort task's three layers to show.

# %%
import math
import time

import matplotlib.pyplot as plt
import torch

from mingpt_lite import GPT, GPTConfig
from mingpt_lite.data import SortTask, sort_accuracy
from mingpt_lite.notebook import book_size, start_chapter
from mingpt_lite.parallel import map_in_processes
from mingpt_lite.trainer import Trainer, TrainerConfig

device = start_chapter(seed=3407)

# %% [markdown]
# ## Three blocks, one seed
#
# Everything except the block is minGPT's demo (chapter 5): gpt-nano, the sort task, 2,000
# steps of AdamW at 5e-4, batch 64, dropout 0.1, seed 3407. `build_model` builds the model
# from the seed, so the three models start from the same weights (the variants have the same
# parameters, only wired differently); `train_sort` hands it to the package's `Trainer`, and
# all three see the same batches.

# %%
task = SortTask(length=6, num_digits=3)
VARIANTS = ("notes-bug", "post", "pre")


def build_model(norm, n_layer=3):
    """A gpt-nano-wide GPT for the sort task with LayerNorm placement `norm`, initialised from seed 3407."""
    torch.manual_seed(3407)
    return GPT(GPTConfig.from_preset("gpt-nano", vocab_size=task.vocab_size, block_size=task.block_size,
                                     n_layer=n_layer, dropout=0.1, norm=norm))


def train_sort(norm, n_layer=3, max_iters=2000, **trainer_options):
    """A Trainer for `build_model(norm, n_layer)` with the demo's settings (unless overridden)."""
    config = TrainerConfig(max_iters=max_iters, seed=3407, device=str(device), progress=False, **trainer_options)
    return Trainer(build_model(norm, n_layer), task, config)


# %%
same_start = [build_model(norm).state_dict() for norm in VARIANTS]
assert all(torch.equal(same_start[0][k], s[k]) for s in same_start[1:] for k in same_start[0])

# %% [markdown]
# Three runs of 2,000 steps are the most expensive thing in the book so far. On a CPU a gpt-nano
# step is a few hundred small matrix products, too small for two threads to share well (about
# 10% faster than one), so instead of a loop over the variants we run the three *side by side*,
# each in its own single-threaded worker process: `map_in_processes(train_variant, VARIANTS)`
# means `[train_variant(norm) for norm in VARIANTS]` and returns the same results (each run
# seeds itself; tested in `tests/test_parallel.py`), in about half the time on two cores. The
# workers send back plain data, the loss history and the trained weights.

# %%
def train_variant(norm):
    """One run of the comparison: (loss at every step, trained weights on the CPU)."""
    run = train_sort(norm).train()
    return run.losses, {name: tensor.cpu() for name, tensor in run.model.state_dict().items()}


# %% tags=["nbval-ignore-output"]
started = time.perf_counter()
results = dict(zip(VARIANTS, map_in_processes(train_variant, VARIANTS)))
print(f"3 x 2000 steps in {time.perf_counter() - started:.0f} s")

# %%
losses = {norm: run_losses for norm, (run_losses, _) in results.items()}
models = {norm: build_model(norm).to(device) for norm in VARIANTS}
for norm, (_, weights) in results.items():
    models[norm].load_state_dict(weights)
assert all(len(history) == 2000 for history in losses.values())
print("three variants: same initial weights, 2000 steps each")

# %% [markdown]
# ## The curves
#
# Each step's loss comes from one batch, so the lines are 50-step running means. The two
# columns from the notes are drawn as points at iterations 1500-1900: minGPT's (what "correct"
# looked like) and the notes' own.

# %%
ANDREJ = {1500: 0.00048, 1600: 0.00044, 1700: 0.01302, 1800: 0.00352, 1900: 0.01247}
MINE = {1500: 0.1127, 1600: 0.1014, 1700: 0.1729, 1800: 0.1307, 1900: 0.1604}
COLORS = {"notes-bug": "tab:red", "post": "tab:orange", "pre": "tab:blue"}


def running_mean(values, window=50):
    """Mean of each `window` consecutive values (len(values) - window + 1 of them)."""
    return torch.tensor(values).unfold(0, window, 1).mean(1)


fig, ax = plt.subplots(figsize=(6, 3.5))
for norm, history in losses.items():
    ax.plot(range(49, 2000), running_mean(history), color=COLORS[norm], label=f"norm={norm!r}")
ax.plot(list(MINE), list(MINE.values()), "x", color="tab:red", label="the notes' log: mine")
ax.plot(list(ANDREJ), list(ANDREJ.values()), "x", color="tab:blue", label="the notes' log: Andrej")
ax.set(yscale="log", xlabel="iteration", ylabel="loss (50-step mean)", title="gpt-nano, demo settings, seed 3407")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# The notes' block reproduces the notes' problem: its curve flattens out around 0.1-0.2, on top
# of the notes' own numbers, while the other two keep descending by another order of magnitude
# and more. And the block that actually puts the LayerNorm *after* the addition, post-LN,
# trains about as well as pre-LN. The same iterations as the log, single steps as the log
# printed them, plus each run's mean over steps 1500-1999:

# %% tags=["nbval-ignore-output"]
print(f"{'iteration':>9} | {'Andrej':>8} {'pre':>8} {'post':>8} | {'mine':>8} {'notes-bug':>9}")
for i in ANDREJ:
    print(f"{i:>9} | {ANDREJ[i]:>8.5f} {losses['pre'][i]:>8.4f} {losses['post'][i]:>8.4f} | "
          f"{MINE[i]:>8.4f} {losses['notes-bug'][i]:>9.4f}")
late = {norm: sum(history[1500:2000]) / 500 for norm, history in losses.items()}
print(f"{'mean':>9} | {sum(ANDREJ.values()) / 5:>8.5f} {late['pre']:>8.4f} {late['post']:>8.4f} | "
      f"{sum(MINE.values()) / 5:>8.4f} {late['notes-bug']:>9.4f}")

# %% [markdown]
# The claims, on the mean of the last 500 steps (single steps are too noisy to assert on):

# %%
assert late["notes-bug"] > 0.05                                  # stuck where the notes were
assert late["pre"] < 0.02 and late["post"] < 0.02                # both keep learning
assert late["notes-bug"] > 10 * max(late["pre"], late["post"])   # an order of magnitude apart
assert late["post"] < 3 * late["pre"]                            # post-LN is not the problem here

# %% [markdown]
# Does the loss gap matter for the task? We score each model on every one of the test split's
# problems (greedy generation, as in chapter 5) and on 5,000 test problems drawn the demo's way:

# %% tags=["nbval-ignore-output"]
test_all = task.all_problems("test", device=device)
test_drawn = task.fixed_problems("test", 5000, device=device)
accuracy = {norm: (sort_accuracy(model, task, test_all), sort_accuracy(model, task, test_drawn))
            for norm, model in models.items()}
for norm, (every, drawn) in accuracy.items():
    print(f"{norm:>9}: {every:.1%} of all {len(test_all)} test problems, {drawn:.1%} of 5000 drawn")
assert accuracy["pre"] == accuracy["post"] == (1.0, 1.0)
assert max(accuracy["notes-bug"]) < 1.0

# %% [markdown]
# Pre-LN and post-LN sort every test problem; the notes' block gets most of them, not all. A loss
# of 0.15 per answer token is not a model that knows nothing (that would be ln 3 ≈ 1.1); it is a
# model that is unsure, and sometimes wrong, about some answers.
#
# ## Why the notes' block hurts: the residual path, not the LayerNorm
#
# Three blocks, two differences. Post-LN and pre-LN differ in where the LayerNorm sits; both keep
# the residual connection `x + sublayer(...)`. Post-LN and the notes' block differ in the
# residual connection; both apply the LayerNorm after the sublayer. The curves vote clearly:
# moving the LayerNorm (pre → post) changed almost nothing at this depth, removing the residual
# (post → notes-bug) cost an order of magnitude in loss and the last few percent of accuracy.
#
# What the residual path buys: with `x = x + attn(ln(x))`, the block's output is its input plus a
# correction. At initialisation the corrections are small (chapter 3), so the whole network
# starts close to the identity from the embeddings to the head, and the gradient flows back along
# the sum undiminished; each sublayer only has to learn *what to add*. In the notes' block,
# `x = attn(x)` replaces the stream by attention's output: the information about which digit sits
# at this position survives only if attention learns to carry it (by attending to itself), and
# then the MLP must carry it again, six times in a row, with no shortcut around any of them
# (chapter 2's "silent sublayer" test showed that nothing of the block's input reaches its output
# except through the sublayers). `x + ln1(x)` looks like a residual connection, but it skips only
# the LayerNorm, which has nothing to skip. The result still trains, as a plain deep network
# does, just slower and noisier.
#
# So the notes' conclusion, *"pre layernorm performs significantly better"*, is right about the
# fix and a little unfair to post-LN: the rewrite moved the LayerNorm *and* put the residual
# connections back, and it was the second change that made the difference. The notes' smile about
# OpenAI switching "from gpt to gpt2" is still earned, though, for a different reason, which is
# where post-LN really does fail.
#
# ## The deeper lesson: post-LN as depth grows
#
# The 2017 Transformer (post-LN) was trained with a learning-rate *warmup*: a few thousand steps
# of a rising learning rate before the real one. Xiong et al. (2020, "On Layer Normalization in
# the Transformer Architecture") asked why post-LN needs it. Their analysis: at initialisation,
# the gradients of a post-LN Transformer's parameters near the output are large, so a large
# learning rate in the first steps makes training unstable, and warmup is what keeps those
# steps small; in pre-LN the gradients are well behaved, and warmup can be dropped. Structurally:
# in post-LN every path from a layer to the output passes through the LayerNorms of all the
# blocks above it, while pre-LN's sum of residuals gives every layer a clean identity path to
# the final LayerNorm.
#
# To see it on our task we make it hard for post-LN: the demo's gpt-nano width, but up to 12
# layers, and a learning rate 20 times the demo's (1e-2), with no warmup. The runs are short
# (200 steps; 600 with `MINGPT_BOOK_SIZE=full`) and, again, run side by side. A callback on
# `on_after_backward` records the gradient norm of every block at every step, before clipping:
# chapter 5's callbacks, used as an instrument.

# %%
HIGH_LR = 1e-2
DEPTH_ITERS = 200 if book_size() == "small" else 600


def record_block_gradients(trainer):
    """Attach a callback that appends, at every step, each block's gradient norm (before clipping)."""
    norms = []

    def record(trainer):
        norms.append([torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in block.parameters()])).item()
                      for block in trainer.model.blocks])

    trainer.add_callback("on_after_backward", record)
    return norms


deep_specs = {                                   # name: (norm, layers, warmup steps)
    "post, 3 layers": ("post", 3, 0),
    "post, 6 layers": ("post", 6, 0),
    "post, 12 layers": ("post", 12, 0),
    "post, 12 layers, warmup": ("post", 12, 100),
    "pre, 12 layers": ("pre", 12, 0),
}


def train_deep(name):
    """One run of `deep_specs[name]` at the high learning rate: (losses, per-step block gradient norms)."""
    norm, n_layer, warmup = deep_specs[name]
    trainer = train_sort(norm, n_layer, DEPTH_ITERS, learning_rate=HIGH_LR, warmup_iters=warmup)
    block_gradients = record_block_gradients(trainer)
    return trainer.train().losses, block_gradients


# %%
deep_results = dict(zip(deep_specs, map_in_processes(train_deep, deep_specs)))
deep = {name: history for name, (history, _) in deep_results.items()}
gradients = {name: block_gradients for name, (_, block_gradients) in deep_results.items()}
assert all(len(history) == len(gradients[name]) == DEPTH_ITERS for name, history in deep.items())

# %%
fig, ax = plt.subplots(figsize=(6, 3.5))
for name, history in deep.items():
    ax.plot(range(19, DEPTH_ITERS), running_mean(history, 20), label=name,
            ls="--" if "warmup" in name else "-")
ax.axhline(math.log(3), color="k", ls=":", lw=0.8, label="ln 3 (uniform guess)")
ax.set(yscale="log", xlabel="iteration", ylabel="loss (20-step mean)", title=f"lr {HIGH_LR:g}, no warmup unless marked")
ax.legend(fontsize=8)
plt.show()

# %% tags=["nbval-ignore-output"]
final = {name: sum(history[-50:]) / 50 for name, history in deep.items()}
for name, value in final.items():
    print(f"{name:>24}: mean loss of the last 50 steps {value:.3f}")
assert final["post, 12 layers"] > 0.95 * math.log(3)                                # stuck at a uniform guess
assert all(final[name] < 0.5 for name in final if name != "post, 12 layers")        # everyone else learns

# %% [markdown]
# At 3 and 6 layers post-LN handles the high learning rate; at 12 it does not learn at all: its
# loss returns to ln 3, the loss of predicting each digit with probability 1/3 whatever the
# input. Pre-LN at 12 layers trains, and so does the same 12-layer post-LN model with 100 steps
# of warmup. That is the classic picture: post-LN is fine when shallow, and needs warmup (or a
# smaller learning rate) when deep.
#
# ### Where the gradient goes
#
# The recorded gradient norms show what happened. Left: at the very first step, at
# initialisation. Right: forty steps later (steps 40-49, averaged).

# %%
def profile(name, steps):
    """Mean gradient norm of each block over `steps`."""
    return torch.tensor([gradients[name][s] for s in steps]).mean(0)


watch = ("post, 12 layers", "post, 12 layers, warmup", "pre, 12 layers")
fig, axes = plt.subplots(1, 2, figsize=(8, 3.5), sharey=True)
for ax, steps, title in ((axes[0], [0], "step 0 (initialisation)"), (axes[1], range(40, 50), "steps 40-49")):
    for name in watch:
        ax.plot(range(1, 13), profile(name, steps), marker="o", ms=3, label=name, ls="--" if "warmup" in name else "-")
    ax.set(yscale="log", xlabel="block (1 = nearest the input)", xticks=range(1, 13), title=title)
axes[0].set_ylabel("gradient norm of the block")
axes[1].legend(fontsize=8)
plt.show()

# %% [markdown]
# At initialisation the two placements look alike: every block gets a gradient of similar size,
# within a small factor from bottom to top. (This is *not* the picture in Xiong et al., whose
# post-LN gradients grow toward the output at initialisation: their analysis uses Xavier
# initialisation, where a sublayer's output is as large as its input. GPT-2's initialisation,
# chapter 3, makes each sublayer's output tiny, so at step 0 each post-LN block
# `LN(x + small)` is almost the identity, and the LayerNorms have nothing to undo.)
#
# Forty steps later at the high learning rate, the post-LN model without warmup has cut itself
# in two: the gradient reaching the lowest blocks is many orders of magnitude below the top
# blocks'. The blocks near the input no longer learn, the ones near the output can no longer see
# the input, and the best they can do is the uniform guess. Pre-LN's and the warmed-up post-LN's
# lowest blocks still receive gradients as large as (here larger than) their top blocks'.

# %% tags=["nbval-ignore-output"]
ratio = {name: (profile(name, range(40, 50))[-1] / profile(name, range(40, 50))[0]).item() for name in watch}
ratio_init = {name: (profile(name, [0])[-1] / profile(name, [0])[0]).item() for name in watch}
for name in watch:
    print(f"{name:>24}: last/first block gradient norm {ratio_init[name]:.2g} at step 0, {ratio[name]:.2g} at steps 40-49")
assert all(0.1 < ratio_init[name] < 10 for name in watch)                  # no vanishing at initialisation
assert ratio["post, 12 layers"] > 1e6                                       # the bottom is cut off
assert ratio["pre, 12 layers"] < 1 and ratio["post, 12 layers, warmup"] < 1  # the bottom still learns

# %% [markdown]
# Why would the bottom be cut off? In post-LN the skip path passes through a LayerNorm after
# every addition, `y = LN(x + f(x))`. The LayerNorm divides by the standard deviation of
# `x + f(x)`. While `f(x)` is small next to `x` (at init), that is a division by about 1 and the
# skip path is intact. Adam, though, moves every weight by about the learning rate per step,
# whatever its gradient, so at lr 1e-2 the sublayers' outputs grow fast. Once `f(x)` is several
# times larger than `x`, each LayerNorm shrinks what came through the skip path by that factor,
# and a 12-layer model has 24 of them in a row. We can measure the size of each sublayer's
# output relative to its input (for post-LN the input *is* the residual stream) at initialisation
# and at step 20, by retraining the two 12-layer post-LN models for 20 steps (cheap) and reading
# every sublayer with forward hooks:

# %% tags=["nbval-ignore-output"]
@torch.no_grad()
def branch_to_stream(model, x):
    """For each sublayer of a post-LN model: ||sublayer output|| / ||its input (the stream)||."""
    sizes, hooks = [], []
    for block in model.blocks:
        for sublayer in (block.attn, block.mlp):
            hooks.append(sublayer.register_forward_hook(
                lambda module, inputs, output: sizes.append((output.norm() / inputs[0].norm()).item())))
    was_training = model.training
    model.eval()
    try:
        model(x)
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    return torch.tensor(sizes)


probe, _ = task.get_batch("train", 256, torch.Generator(device=device).manual_seed(0))
share = {}
for name in ("post, 12 layers", "post, 12 layers, warmup"):
    norm, n_layer, warmup = deep_specs[name]
    trainer = train_sort(norm, n_layer, DEPTH_ITERS, learning_rate=HIGH_LR, warmup_iters=warmup)
    at_init = branch_to_stream(trainer.model, probe)
    trainer.train(max_iters=20)
    share[name] = (at_init, branch_to_stream(trainer.model, probe))
    print(f"{name:>24}: median ||f(x)|| / ||x|| {at_init.median():.3f} at init, {share[name][1].median():.2f} after 20 steps")

# %%
assert all(at_init.max() < 0.05 for at_init, _ in share.values())   # at init every block is nearly the identity
assert share["post, 12 layers"][1].median() > 0.5                   # no warmup: the sublayers have caught up with the stream
assert share["post, 12 layers, warmup"][1].median() < share["post, 12 layers"][1].median() / 3  # warmup: still small

# %% [markdown]
# That is the mechanism, measured: without warmup the sublayers' outputs outgrow the stream
# within twenty steps, the LayerNorms after them then squeeze the skip path at every block, and
# the gradient to the lower blocks fades away. Warmup keeps the first steps small, so the
# sublayers grow while the rest of the model adapts, and by the time the learning rate is high
# the model is in a region where it can take it. Pre-LN never squeezes its skip path at all: the
# LayerNorm sits on the branch, and the stream is a plain sum.
#
# Putting the two halves of the chapter together:
#
# - the notes' block lost its residual connections; that, not the LayerNorm's position, is what
#   kept its loss at 0.1-0.2 on a 3-layer model;
# - true post-LN trains this small model as well as pre-LN, at the demo's gentle learning rate;
# - as depth and learning rate grow, post-LN needs warmup and pre-LN does not. GPT-2 (48 layers in
#   its largest size) moved the LayerNorm to the input of each sub-block and added one after the
#   last block, which is the `pre` block and `final_norm` of our model.
#
# ## What to try
#
# - Restore the residual path in the notes' block but keep its LayerNorm placement, i.e. write
#   `x = x + attn(x); x = x + ln1(x); ...` in a small `Block` subclass and train it. Where does its
#   curve land, next to `notes-bug` and `post`?
# - Train `post, 12 layers` at the demo's learning rate (5e-4) with no warmup. Is warmup still
#   needed? Find the largest learning rate at which it still learns.
# - Re-run the gradient-profile cell with the notes' block at 12 layers. Without a residual path,
#   does its gradient vanish toward the input even at initialisation?
# - Re-initialise the 12-layer models with `torch.nn.init.xavier_normal_` on every Linear weight
#   (Xiong et al.'s setting) and redraw the step-0 gradient profiles. Do you now see post-LN's
#   gradient growing toward the output?
# - Set `MINGPT_BOOK_SIZE=full` and re-run: with 600 steps, does the collapsed 12-layer post-LN run
#   ever recover?
