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
# # 8. How hard is sorting?
#
# The notes' cooking log of 2022-10-02 records an experiment "with various dataset
# complexity":
#
# > - `gpt-nano` setup 32 epoch works until vocab_size and seq_len = 32
# > - `gpt-mini` setup, 96 epoch works for vocab, seq_len = 64. Train longer... Stopped here,
# >   training time is growing exponentially.
#
# That is a real question about learning: as the sort task gets bigger (more symbols, longer
# sequences), how much more training does a GPT need to solve it, and does the cost really grow
# exponentially? This chapter measures what a 2-core CPU can measure, several seeds per task,
# and says where the data stops.
#
# ## What you need from earlier chapters
#
# - Chapter 4's `SortTask`: a problem of length $L$ over $V$ symbols, a fixed hash that holds a
#   quarter of all problems out as the test split, and minGPT's *repeat boost* (a draw with more
#   than $L // 2$ distinct digits is rejected half the time). `sort_accuracy` scores a model.
# - Chapter 5's `Trainer` and its callbacks; chapter 5 also showed that the demo touches 100% test
#   accuracy and falls back.
# - Chapter 6's `run_many` (from `mingpt_lite.experiments`) trains several runs side by side;
#   here it also keeps a resumable results file.
# - Chapter 1's attention weights (`model(x, return_attention=True)` returns them for every
#   layer), to look inside a trained model.

# %%
import json
import math
import statistics
import time
from functools import partial
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from mingpt_lite.data import SortTask
from mingpt_lite.experiments import PEAK_LR, repeat_boost_active, solve
from mingpt_lite.experiments import run_many
from mingpt_lite.notebook import start_chapter

device = start_chapter(seed=0)
GRID_FILE = Path("data") / "sorting_grid.json"

# %% [markdown]
# ## How big is the task?
#
# A sort problem of length $L$ over $V$ symbols is one of $V^L$ sequences. That number is
# exponential in the length: at $V = L = 32$ (the notes' gpt-nano limit) it is about $10^{48}$,
# at $V = L = 64$ about $10^{115}$. A model that had to see every problem, or a fixed share of
# them, would need exponentially more training; a model that learns *how to sort* would not. The
# work per example grows only polynomially: the sequence is $2L - 1$ tokens.

# %%
for V, L in [(3, 6), (3, 8), (3, 12), (8, 8), (32, 32), (64, 64)]:
    task = SortTask(length=L, num_digits=V)
    print(f"V = {V:2d}, L = {L:2d}: {float(task.num_problems):9.3g} distinct problems, "
          f"{task.block_size:3d} tokens per example, repeat boost {'active' if repeat_boost_active(L, V) else 'inactive'}")

# %% [markdown]
# ## What "solved" means
#
# ![One cell of the grid: a task of length L over V symbols has V**L problems, a quarter held out; every 25 steps the model is scored on held-out problems; the learning rate starts to cool at the first 99%; the task counts as solved at the first of four 100% evaluations in a row](figures/08_solve_rule.svg)
#
# Measuring "steps until solved" needs three decisions, made once for every task:
#
# 1. **What is tested.** Every 25 steps the model is scored on test problems: all of them when the
#    test split has at most 1,000, else 500 drawn afresh each time. Scoring is teacher-forced (one
#    forward pass; a problem counts when the argmax is right at every answer position, which is
#    exactly when greedy generation reproduces the answer).
# 2. **When it is stable.** Solved means 100% at four evaluations in a row; the reported step is
#    the first of the four. After the run, the verdict is checked once more by real greedy
#    generation (the whole test split when small, else 2,000 further test problems).
# 3. **How the learning rate behaves.** With a constant learning rate these small models keep
#    flipping the last few hard problems between right and wrong for thousands of steps. So the
#    schedule reacts: 50 warmup steps, the peak learning rate (5e-3 for gpt-nano) until the first
#    99% at step $s$, then a linear decay to 2% of the peak over another $s$ steps.
#
# The rule is a Trainer callback, `SolveWatcher` in `mingpt_lite.experiments`; its heart is
# four lines run at every evaluation:
#
# ```python
# self.streak = self.streak + 1 if accuracy == 1.0 else 0
# if self.streak == self.patience:                       # four in a row: solved at the first of them
#     self.solved_at = step - (self.patience - 1) * trainer.config.log_interval
#     trainer.stop()
# ```
#
# `solve(model, length, num_digits, seed)` builds a fresh model (dropout off: the task has no noise
# to overfit), trains it with the watcher attached, and returns a plain record.
#
# ## One task, live: minGPT's demo over four seeds
#
# [minGPT](https://github.com/karpathy/minGPT)'s demo task, $L = 6$ and $V = 3$, trained four times with four seeds,
# side by side:

# %% tags=["nbval-ignore-output"]
LIVE_SEEDS = (5, 6, 7, 8)
started = time.perf_counter()
live = run_many(partial(solve, "gpt-nano", 6, 3, return_model=True), LIVE_SEEDS, progress=False)
records = [record for record, _ in live]
print(f"4 runs in {time.perf_counter() - started:.0f} s")
for r in records:
    print(f"seed {r['seed']}: solved at step {r['solved_at']}, greedy generation sorts "
          f"{r['greedy_accuracy']:.0%} of all {r['checked']} test problems")

# %%
solved = [r for r in records if r["solved_at"] is not None]
assert len(solved) >= 3 and all(r["checked_all"] and r["greedy_accuracy"] == 1.0 for r in solved)
print("at least 3 of the 4 seeds stably solved within 2,000 steps; each of those sorts every test problem")

# %%
fig, ax = plt.subplots(figsize=(6, 3.5))
for r, color in zip(records, ("C0", "C1", "C2", "C3")):
    steps, accuracy = zip(*r["history"])
    ax.plot(steps, accuracy, "o-", ms=2.5, color=color, label=f"seed {r['seed']}")
    if r["solved_at"] is not None:
        ax.axvline(r["solved_at"], color=color, ls="--", lw=0.8)
ax.set(xlabel="step", ylabel="test accuracy (teacher-forced)", ylim=(0, 1.02),
       title="gpt-nano, L = 6, V = 3: dashed, solved from here")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# When the chapter was recorded, all four seeds solved the demo task within 2,000 steps, and greedy
# generation then sorted every one of the test split's 196 problems. On PyTorch's portable CPU
# kernels with one thread, one of the four seeds did not reach four perfect evaluations in a row
# within 2,000 steps, so what the cell above asserts is what held in both settings: at least three
# of four seeds solve it, and every seed that does sorts the whole test split. How many steps it
# takes is not one number either. The five seeds of the same task in the committed grid
# below needed 350 to 925 steps, a factor of 2.6 between the fastest and the slowest seed. (The live
# steps printed above change with the CPU's kernels and the thread count, so they are not
# compared; the grid is data from one machine.)
#
# ## The grid, precomputed
#
# More tasks and more seeds than fit a chapter's two minutes were run once with a resumable
# command and committed as data. The file records every command that added to it, the machine,
# the CPU kernels and the date:

# %%
grid = json.loads(GRID_FILE.read_text())
for about in grid["about"]:
    print(f"{about['date']}, {about['cpu']} ({about['cpu_count']} cores), torch {about['torch']}, "
          f"kernels {about['cpu_capability']}:\n    {about['command']}")
cells = {}
for run in grid["runs"]:
    r = run["result"]
    cells.setdefault((r["model"], r["length"], r["num_digits"], r["boost"]), []).append(r)

# %%
def describe(runs):
    """'median [min-max]' of the solve steps, and how many runs were solved."""
    steps = sorted(r["solved_at"] for r in runs if r["solved_at"] is not None)
    if not steps:
        return f"{'not solved':>24}"
    return f"{statistics.median(steps):7.0f} [{steps[0]:4d}-{steps[-1]:4d}] {len(steps)}/{len(runs)}"


print(f"{'model':>9} {'L':>3} {'V':>3} {'boost':>5} {'problems':>9} | {'steps: median [range] solved':>28} | "
      f"{'greedy check':>12}")
for key in sorted(cells, key=lambda k: (k[0], not k[3], k[2], k[1])):
    model, L, V, boost = key
    runs = cells[key]
    greedy = min(r["greedy_accuracy"] for r in runs)
    print(f"{model:>9} {L:3d} {V:3d} {'on' if boost else 'off':>5} {float(V ** L):9.3g} | {describe(runs):>28} | "
          f"{'>=':>3} {greedy:.4f}")

# %% [markdown]
# What the grid holds, and where it stops: gpt-nano with $V = 3$ at $L = 4$, 5 and 6 with five seeds
# each and $L = 8$ with one, the repeat boost on as in minGPT; and
# $L = 4$ and 5 with the boost off, three seeds each (the next section). Every run was solved
# within its 4,000-step cap, and greedy generation then sorted every test problem it was checked on
# (the whole test split up to $L = 6$, 2,000 sampled ones at $L = 8$). The medians grow with the
# length, and the seeds of neighbouring lengths barely overlap.
#
# That is all the CPU allowed. The grid was computed on a shared 2-core machine with about twenty
# other processes running, where one gpt-nano step took 0.5-1 s of wall time instead of about
# 20 ms on an idle core. The planned extensions (more seeds at $L = 8$; $L = 12$ and 16; $V = 6$;
# $V = L = 8$ and 16) were not reached, and the notes' regime, $V = L = 32$ with gpt-nano and 64
# with gpt-mini, lies far beyond the data: nothing in this chapter measures training there. The
# file resumes: the same `sort-grid` command with more `--lengths`, `--vocabs`, `--cells` or
# `--seeds` adds only the missing runs.

# %%
def steps_of(L, V, boost=True, model="gpt-nano"):
    """The solve steps of every solved seed of one task in the committed grid."""
    return [r["solved_at"] for r in cells.get((model, L, V, boost), []) if r["solved_at"] is not None]


lengths3 = sorted({L for (m, L, V, b) in cells if m == "gpt-nano" and V == 3 and steps_of(L, 3, b)})
fig, ax = plt.subplots(figsize=(6, 3.5))
for boost, color, shift in ((True, "C0", -0.08), (False, "C1", 0.08)):
    Ls = [L for L in lengths3 if steps_of(L, 3, boost)]
    for L in Ls:
        ax.plot([L + shift] * len(steps_of(L, 3, boost)), steps_of(L, 3, boost), "o", color=color, alpha=0.5, ms=4)
    ax.plot([L + shift for L in Ls], [statistics.median(steps_of(L, 3, boost)) for L in Ls], "-", color=color,
            label=f"V = 3, repeat boost {'on' if boost else 'off'}: seeds (dots), median (line)")
ax.set(yscale="log", xlabel="length L", ylabel="steps to stable 100%", xticks=lengths3,
       title="gpt-nano on the sort task, every seed")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## Polynomial or exponential?
#
# If the cost grew exponentially in the length, $\text{steps} \approx a \cdot b^L$, then
# $\log(\text{steps})$ would be a straight line in $L$; if polynomially, $\text{steps} \approx a
# \cdot L^p$, a straight line in $\log L$. Over a short range of lengths any smooth curve is nearly
# straight either way, so a good fit proves little. Two sharper tests:
#
# - **Held-out extrapolation.** Fit both models on every length but the longest, predict the
#   longest, and compare each prediction with what the seeds actually did there.
# - **Fit error against noise.** The seeds of one task scatter by some amount in $\log(\text{steps})$;
#   a model whose fit error is no larger than that scatter cannot be rejected by these data.
#
# The fits use every seed of the $V = 3$ tasks (the setting with the most lengths), each run a point.

# %%
def fit_both(points):
    """Least squares of log(steps) on log(L) (power law) and on L (exponential): {name: (slope, intercept)}."""
    L = np.array([p[0] for p in points], dtype=float)
    y = np.log([p[1] for p in points])
    return {"power": tuple(np.polyfit(np.log(L), y, 1)), "exponential": tuple(np.polyfit(L, y, 1))}


def predict(model, coefficients, L):
    slope, intercept = coefficients
    return math.exp(slope * (math.log(L) if model == "power" else L) + intercept)


FIT_BOOST = len([L for L in lengths3 if len(steps_of(L, 3, False)) >= 2]) < 3   # off, where the grid has enough
print(f"fitting the V = 3 runs with the repeat boost {'on' if FIT_BOOST else 'off'}")
fit_lengths = [L for L in lengths3 if steps_of(L, 3, FIT_BOOST)]
points = [(L, s) for L in fit_lengths for s in steps_of(L, 3, FIT_BOOST)]
fits = fit_both(points)
noise = statistics.mean(statistics.pstdev(np.log(steps_of(L, 3, FIT_BOOST))) for L in fit_lengths
                        if len(steps_of(L, 3, FIT_BOOST)) > 1)           # lengths with more than one seed
for model, coefficients in fits.items():
    residual = math.sqrt(statistics.mean((math.log(s) - math.log(predict(model, coefficients, L))) ** 2 for L, s in points))
    shape = f"L^{coefficients[0]:.2f}" if model == "power" else f"{math.exp(coefficients[0]):.2f}^L"
    print(f"{model:>11}: steps ~ {shape}, rms error {residual:.2f} in log steps")
print(f"seed-to-seed scatter within a task: {noise:.2f} in log steps (mean standard deviation)")

longest = fit_lengths[-1]
held = fit_both([(L, s) for L, s in points if L != longest])
actual = steps_of(longest, 3, FIT_BOOST)
print(f"fitted on L < {longest}, predicting L = {longest} (seeds did {min(actual)}-{max(actual)}):")
for model, coefficients in held.items():
    print(f"{model:>11}: predicts {predict(model, coefficients, longest):6.0f}")

# %% [markdown]
# Both fits are as good as each other, and as good as the noise allows: their errors (0.32 for the
# power law, $L^{2.9}$, and 0.35 for the exponential, $1.67^L$, in log steps) are close to the
# scatter between the seeds of a single task (0.28). Held out, both over-predict $L = 8$ (about
# 1,300 and 2,000 steps against the 650 of its single seed), the exponential more so; one seed at
# one length cannot decide between them. Between $L = 4$ and 8 the two fitted curves never differ by
# more than 0.15 in log steps, about half the scatter of one task; they would part by more than
# twice that scatter only from about $L = 11$ on (exercise 8.3). So, plainly: **these data cannot
# tell polynomial from exponential growth.** The old version of this chapter concluded that the
# exponential is "the size of the problem space, not the training cost"; its own fits could not
# support that, and neither can these. What the data do show is a weaker statement: from $L = 4$ to
# 8 the number of distinct problems grows 81-fold while the steps grew about 5-fold, so the model
# certainly does not need to see a fixed share of all problems; but a 5-fold growth over four
# extra symbols is itself what an exponential of base 1.5 would give.
#
# ## The repeat-boost confound
#
# minGPT's sampler (the `SortDataset` of its [demo notebook](https://github.com/karpathy/minGPT/blob/master/demo.ipynb),
# which chapter 4's `SortTask` follows) rejects half of the draws that have more than $L // 2$ distinct digits, so that
# problems with many repeats turn up more often. With three symbols a problem has at most three
# distinct digits, so the rule can reject anything only while $3 > L // 2$: at $L = 4$ and $5$, never
# from $L = 6$ on. The training distribution therefore changes exactly between the lengths where
# the old single-seed grid's steps jumped. The test is to train the same tasks with the rule
# switched off (`SortTask(boost_probability=0)`, `solve(..., boost=False)`) and compare:

# %%
print(f"{'L':>3} {'boost active':>12} | {'boost on':>28} | {'boost off':>28}")
for L in lengths3:
    on, off = cells.get(("gpt-nano", L, 3, True), []), cells.get(("gpt-nano", L, 3, False), [])
    if on and off:
        print(f"{L:3d} {str(repeat_boost_active(L, 3)):>12} | {describe(on):>28} | {describe(off):>28}")

# %% [markdown]
# At $L = 5$ switching the boost off changed nothing measurable: 225-275 steps over three seeds,
# against 200-300 over five with it on. At $L = 4$ it mattered, but in the direction opposite to a
# confound that would explain the jump: without the boost one of three seeds never reached four
# perfect evaluations in a row within its 4,000 steps (it kept missing one of the 23 test problems)
# and another needed 575 steps, against 75-225 for all five seeds with the boost on. From $L = 6$ on
# the rule cannot fire with three symbols, so on and off draw exactly the same batches. So the
# repeat boost does not explain why $L = 6$ takes more steps than $L = 5$: it has no measurable
# effect at $L = 5$ and none at all from $L = 6$. At $L = 4$ it seems to help (problems with repeated
# symbols are rare in uniform draws, and the boost shows them more often), though that rests on
# three seeds and one run that did not finish. The old chapter's jump between $L = 5$ and 6 was
# mostly seed noise: with five seeds the medians rise smoothly (see the table).
#
# ## Does the model learn a procedure?
#
# The old version of this chapter said the model "learns a procedure (count each symbol, then write
# the counts out in order)" without checking. Chapter 1's tool can check one consequence of it: the
# attention weights. If an answer position found the next symbol by looking up the occurrences of
# symbols in the problem, some head should put nearly all of its weight on the problem's positions
# that hold the symbol being written. For each live model, every test problem, every layer and head,
# we measure at the answer positions the share of the attention on the problem that goes to
# positions holding the digit about to be written, next to the share those positions have of the
# problem (what uniform attention would give):

# %%
task = SortTask(length=6, num_digits=3)
L = task.length
problems = task.all_problems("test")
x, _ = task.examples(problems)
written = problems.sort(dim=1).values                               # the digit predicted at each answer row
on_target = (problems[:, None, :] == written[:, :, None]).float()   # (N, answer row, problem position)
uniform = on_target.mean().item()                                   # share of the problem holding that digit


def attention_on_written_digit(model):
    """{(layer, head): share of the answer rows' attention on the problem that lands on the digit written}."""
    model.eval()
    with torch.no_grad():
        _, attention = model(x, return_attention=True)
    shares = {}
    for layer, weights in enumerate(attention):
        for head in range(weights.size(1)):
            w = weights[:, head, L - 1 : 2 * L - 1, :L]                 # answer rows -> problem positions
            shares[layer, head] = ((w * on_target).sum(-1) / w.sum(-1).clamp_min(1e-9)).mean().item()
    return shares


# %% tags=["nbval-ignore-output"]
focus = {record["seed"]: attention_on_written_digit(model) for record, model in live}
print(f"uniform attention would give {uniform:.2f}")
for seed, shares in focus.items():
    print(f"seed {seed}: " + ", ".join(f"L{layer}H{head} {share:.2f}" for (layer, head), share in shares.items()))

# %%
strongest = max(share for shares in focus.values() for share in shares.values())
assert strongest < 0.9             # no head looks (almost) only at the digit being written
print(f"{len(focus)} models: no head puts 90% of its attention on the digit being written")

# %% [markdown]
# No head does. In the model we looked at while writing this section (seed 5), the heads of the
# first layer put about 65% of their attention on the problem onto the digit being written, against
# the 45% uniform attention would give; the deeper layers put *less* than uniform there. A lookup
# of "where is the next symbol" would show up as a head with most of its weight on those positions,
# and none has it in any of the four models. That does not rule out a counting procedure carried
# out by the MLPs on what attention averages, but nothing here shows one either, so the old claim is
# dropped: how the model sorts is not established by this chapter.
#
# ## Where the notes' "exponential" came from, and where our data stops
#
# Three things grow at once when the notes go from $V = L = 32$ on gpt-nano to $V = L = 64$ on
# gpt-mini, and they multiply:
#
# - **steps**: by whatever the growth above is;
# - **work per step**: the sequence is $2L - 1$ tokens; the MLPs' and projections' work grows
#   linearly with it and attention's quadratically;
# - **the model**: gpt-mini's blocks do far more arithmetic per token than gpt-nano's.
#
# The last two are arithmetic, not measurement. Multiply-adds per training example, forward pass,
# from the configurations themselves (weights times tokens, plus attention's scores and averages):

# %%
from mingpt_lite import GPTConfig

def forward_macs(preset, L, V):
    """Multiply-adds of one forward pass over one example of the length-L task (weights + attention)."""
    config = GPTConfig.from_preset(preset, vocab_size=V, block_size=2 * L - 1)
    T, C = 2 * L - 1, config.n_embd
    per_token = config.n_layer * 12 * C * C + C * V          # qkv+proj (4C^2), MLP (8C^2), head
    attention = config.n_layer * T * T * C                   # scores and weighted sums (causal: about half)
    return T * per_token + attention


reference = forward_macs("gpt-nano", 6, 3)
for preset, L, V in [("gpt-nano", 6, 3), ("gpt-nano", 12, 3), ("gpt-nano", 32, 32), ("gpt-mini", 64, 64)]:
    print(f"{preset}, L = {L:2d}, V = {V:2d}: {forward_macs(preset, L, V) / reference:6.0f} x the demo's work per example")

# %% [markdown]
# Going from minGPT's demo to the notes' $V = L = 32$ on gpt-nano multiplies the work per example
# by about 6, and to $V = L = 64$ on gpt-mini by about 400, before the number of steps grows at all.
# A product of such factors, read off a wall clock while $L$ and $V$ grow together, easily looks
# "exponential". Whether the *steps* grow exponentially in the notes' regime, our data cannot say:
# it stops far below it.
#
# ## What you learned
#
# - "Solved" needs a definition: held-out problems, several evaluations in a row at 100%, a check by
#   greedy generation, and a learning rate that cools once the model is close.
# - A training outcome is a distribution: one seed per task said little; several seeds per task
#   give a spread, and conclusions must be larger than it.
# - Over lengths 4 to 8 a power law and an exponential fit the steps equally well, within the seeds'
#   scatter: the data cannot tell polynomial from exponential growth, and they stop far below the
#   notes' regime.
# - A sampler detail (minGPT's repeat boost) changes the training distribution exactly where it is
#   active; an experiment has to switch it off to see whether it matters.
# - Attention weights can test a claim about *how* a model solves a task, instead of asserting it.
#
# ## Exercises
#
# Worked answers: [the worked solution](solutions/08_sorting_difficulty.ipynb).
#
# ### Exercise 8.1 (implement): the solve rule
#
# Write `solved_at(history, patience=4)`: given a run's evaluations as a list of
# `(step, accuracy)` pairs, return the step of the first evaluation of the first `patience`
# evaluations in a row at 100%, or `None`. Check it:
# `from mingpt_lite.exercises import check; check("8.1", solved_at)`.
#
# ### Exercise 8.2 (implement): where is the repeat boost active?
#
# Write `boost_active(length, num_digits)` that says whether minGPT's repeat boost can reject any
# draw of a task (read `SortTask.sample_problems`), then `check("8.2", boost_active)`. For which
# lengths is it active with $V = 3$? With $V = 32$?
#
# ### Exercise 8.3 (explain): why can't the fits decide?
#
# Using the numbers of the fitting section: why do a power law and an exponential fit lengths 4 to
# 8 about equally well, and what data would tell them apart? Estimate, from the seeds' scatter,
# how far apart in $L$ the lengths must reach before the two models' predictions differ by more
# than that scatter.
