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
# - Chapter 6's `run_many` (from `mingpt_lab.experiments`) trains several runs side by side;
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

from mingpt_lite.data import SortTask, repeat_boost_active
from mingpt_lite.notebook import spread, start_chapter

from mingpt_lab.experiments.results import run_many
from mingpt_lab.experiments.sorting import PEAK_LR, solve

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
# ![One cell of the grid: a task of length L over V symbols has V**L problems, a quarter held out; every 25 steps the model is scored on held-out problems; the learning rate starts to cool at the first 99%, at step s, and reaches 2% of its peak s steps later; the task counts as solved at the first of four 100% evaluations in a row](figures/08_solve_rule.svg)
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
# The rule is a Trainer callback, `SolveWatcher` in `mingpt_lite.callbacks`; its heart is
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
# below needed 350 to 925 steps, more than a factor of two between the fastest and the slowest seed. (The live
# steps printed above change with the CPU's kernels and the thread count, so they are not
# compared; the grid is data from one machine.)
#
# ## The grid, precomputed
#
# More tasks and more seeds than fit a chapter's two minutes were run once and committed as
# data (`chapters/data/README.md` says how). The file records the machine, the CPU kernels and
# the date of every batch of runs:

# %%
grid = json.loads(GRID_FILE.read_text())
print("recorded on:", sorted({f"{a['cpu']} ({a['cpu_count']} cores), torch {a['torch']}, {a['date']}"
                              for a in grid["about"]}))
cells = {}
for run in grid["runs"]:
    r = run["result"]
    cells.setdefault((r["model"], r["length"], r["num_digits"], r["boost"]), []).append(r)

# %%
def describe(runs):
    """'median [min-max]' of the solve steps, and how many runs were solved."""
    steps = sorted(r["solved_at"] for r in runs if r["solved_at"] is not None)
    if not steps:
        return f"{'not solved':>19} 0/{len(runs)}"
    return f"{statistics.median(steps):7.0f} [{steps[0]:4d}-{steps[-1]:4d}] {len(steps)}/{len(runs)}"


print(f"{'model':>9} {'L':>3} {'V':>3} {'boost':>5} {'problems':>9} {'cap':>5} | {'steps: median [range] solved':>28} | "
      f"{'greedy check':>12}")
for key in sorted(cells, key=lambda k: (k[0], not k[3], k[2], k[1])):
    model, L, V, boost = key
    runs = cells[key]
    greedy = min(r["greedy_accuracy"] for r in runs)
    cap = max(r["max_iters"] for r in runs)
    print(f"{model:>9} {L:3d} {V:3d} {'on' if boost else 'off':>5} {float(V ** L):9.3g} {cap:5d} | "
          f"{describe(runs):>28} | {'>=':>3} {greedy:.4f}")

# %% [markdown]
# What the grid holds: gpt-nano with $V = 3$ at $L = 4$, 5, 6, 8 and 12 with five seeds each and at
# $L = 16$ with three (a 6,000-step cap from $L = 12$ on), the repeat boost on as in minGPT; $L = 4$
# and 5 with the boost off, three seeds each; and the notes' own diagonal, $V = L = 8$, 16 and 32,
# three seeds each with a 4,000-step cap (the next section). Greedy generation checks every
# verdict, on the whole test split up to $L = 6$ and on 2,000 fixed test problems beyond. Every
# $V = 3$ run was solved within its cap. Their medians grow from $L = 4$ to 6 and then stop growing
# (the section after next).
#
# Steps to solve do not depend on the wall clock or the machine's load, only on the seed and the
# arithmetic (how and where the runs were made is in `chapters/data/README.md`).

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
# ## The notes' regime: $V = L = 8$, 16 and 32
#
# The notes grew the task along the diagonal, the vocabulary and the length together, and said
# gpt-nano "works until vocab_size and seq_len = 32". The grid follows them with three seeds per
# cell and the solve rule above (gpt-nano, batch 64 as in minGPT's demo, a peak learning rate of
# 5e-3, ten times the demo's 5e-4), capped at 4,000 steps, that is $4000 \cdot 64 = 256{,}000$ training examples.
# At these sizes the test split cannot be listed ($16^{16} \approx 1.8 \times 10^{19}$ problems), so each evaluation draws 500
# fresh test problems and the final greedy check uses 2,000 fixed ones. The evaluations show how far
# each run got (an error rate of 0 cannot be drawn on a log scale, so it is drawn at $10^{-3}$, below
# the $1/500$ an evaluation can resolve):

# %%
diagonal = sorted(L for (m, L, V, b) in cells if m == "gpt-nano" and L == V and b)
fig, ax = plt.subplots(figsize=(6.5, 3.6))
for L, color in zip(diagonal, ("C0", "C1", "C3")):
    for i, r in enumerate(sorted(cells["gpt-nano", L, L, True], key=lambda r: r["seed"])):
        steps, accuracy = zip(*r["history"])
        ax.plot(steps, [max(1 - a, 1e-3) for a in accuracy], color=color, lw=0.9, alpha=0.7,
                label=f"V = L = {L}" if i == 0 else None)
ax.axhline(1e-3, color="gray", lw=0.6, ls=":")
ax.text(4050, 1.1e-3, "no error\nin 500", fontsize=7, va="bottom")
ax.set(yscale="log", xlabel="step", ylabel="share of test problems not sorted",
       title="gpt-nano on the notes' diagonal, three seeds per size")
ax.legend(fontsize=8)
plt.show()

# %%
def first_99(run):
    """The step of a run's first evaluation at 99% or more (None if it never got there)."""
    return next((step for step, accuracy in run["history"] if accuracy >= 0.99), None)


print(f"{'V = L':>5} | {'solved':>6} | {'first 99% at':>14} | {'evals at 100%':>13} | {'last 500 steps':>14} | greedy on 2,000")
for L in diagonal:
    runs = cells["gpt-nano", L, L, True]
    solved = sum(r["solved_at"] is not None for r in runs)
    perfect = [sum(a == 1.0 for _, a in r["history"]) for r in runs]
    late = [statistics.mean(a for step, a in r["history"] if step > r["steps_run"] - 500) for r in runs]
    reached_99 = [step for step in map(first_99, runs) if step is not None]      # runs that never did: None
    print(f"{L:5d} | {solved:>4}/{len(runs)} | {spread(reached_99, 'd', empty='never'):>14} | "
          f"{spread(perfect, 'd'):>13} | {spread(late, '.3f'):>14} | "
          f"{spread([r['greedy_accuracy'] for r in runs], '.4f')}")

# %%
by_size = {L: cells["gpt-nano", L, L, True] for L in diagonal}
assert diagonal == [8, 16, 32] and all(len(runs) == 3 for runs in by_size.values())
assert all(r["solved_at"] is not None for r in by_size[8])                  # V = L = 8: every seed solved
assert all(r["solved_at"] is None and r["steps_run"] == 4000 for L in (16, 32) for r in by_size[L])
assert min(first_99(r) for r in by_size[16]) > 2 * max(first_99(r) for r in by_size[8])
assert all(first_99(r) is None for r in by_size[32])                       # 32: never 99% in 4,000 steps
assert min(r["greedy_accuracy"] for r in by_size[16]) > max(r["greedy_accuracy"] for r in by_size[32]) > 0.9

# %% [markdown]
# Along the diagonal the cost rises steeply, and the cap is reached. At $V = L = 8$ every seed
# solved the task, after 1,350 to 1,775 steps. At 16 no seed did within 4,000 steps: each first
# reached 99% on an evaluation after 2,325 to 3,225 steps (against 675 to 950 at 8), touched 100%
# on one to four evaluations but never four in a row, and the final greedy check sorted 99.45% to
# 99.8% of 2,000 problems. At 32 no seed reached 99% at all: the best evaluations were 97% to 98%,
# and greedy generation sorted 91.5% to 97.6%. So within that cap of training examples gpt-nano nearly
# learns $V = L = 32$ and does not master it. The notes' "works until 32" is consistent with a longer
# run; their "32 epoch" is not defined in the notes, so we cannot say how long theirs was. From 8 to
# 16 the step of the first 99% grew a few-fold (the table above) while the number of distinct problems grew by a
# factor of $10^{12}$: whatever the model learns, it is not a table of problems. How the steps grow
# beyond that, these runs cannot say: only the smallest size finished, and 16 and 32 are cut off by
# the cap. Running 16 and 32 to completion (the same command with a larger `--max-iters`) is the
# next measurement; at about 210 ms per step for $V = L = 32$ here, it is hours of CPU.

# %% [markdown]
# ## Polynomial or exponential?
#
# If the cost grew exponentially in the length, $\text{steps} \approx a \cdot b^L$, then
# $\log(\text{steps})$ would be a straight line in $L$; if polynomially, $\text{steps} \approx a
# \cdot L^p$, a straight line in $\log L$. Over a short range of lengths any smooth curve is nearly
# straight either way, so a good fit proves little. Two sharper tests:
#
# - **Held-out extrapolation.** Fit both models on the short lengths only (4 to 8), predict the
#   long ones (12 and 16), and compare each prediction with what the seeds actually did there.
#   Between 4 and 8 the two curves hardly differ; by 16 they predict steps a factor of about
#   three apart, more than the seeds scatter.
# - **Fit error against noise.** The seeds of one task scatter by some amount in $\log(\text{steps})$;
#   a model whose fit error is no larger than that scatter cannot be rejected by these data.
#
# The fits use every seed of the $V = 3$ tasks with minGPT's repeat boost on (the setting with the
# most lengths), each run a point.

# %%
def fit_both(points):
    """Least squares of log(steps) on log(L) (power law) and on L (exponential): {name: (slope, intercept)}."""
    L = np.array([p[0] for p in points], dtype=float)
    y = np.log([p[1] for p in points])
    return {"power": tuple(np.polyfit(np.log(L), y, 1)), "exponential": tuple(np.polyfit(L, y, 1))}


def predict(model, coefficients, L):
    slope, intercept = coefficients
    return math.exp(slope * (math.log(L) if model == "power" else L) + intercept)


def rms_log_error(model, coefficients, points):
    return math.sqrt(statistics.mean((math.log(s) - math.log(predict(model, coefficients, L))) ** 2 for L, s in points))

# %%
short = [L for L in lengths3 if L <= 8]
long = [L for L in lengths3 if L > 8]
short_points = [(L, s) for L in short for s in steps_of(L, 3)]
long_points = [(L, s) for L in long for s in steps_of(L, 3)]
noise = statistics.mean(statistics.pstdev(np.log(steps_of(L, 3))) for L in lengths3 if len(steps_of(L, 3)) > 1)
fits = fit_both(short_points)
print(f"fitted on L = {short} ({len(short_points)} runs); seed-to-seed scatter within a task: {noise:.2f} in log steps")
held_out_error = {}
for model, coefficients in fits.items():
    shape = f"L^{coefficients[0]:.2f}" if model == "power" else f"{math.exp(coefficients[0]):.2f}^L"
    held_out_error[model] = rms_log_error(model, coefficients, long_points)
    print(f"{model:>11}: steps ~ {shape}, rms error {rms_log_error(model, coefficients, short_points):.2f} on the fit, "
          f"{held_out_error[model]:.2f} held out")
for L in long:
    actual = steps_of(L, 3)
    print(f"L = {L}: the seeds did {min(actual)}-{max(actual)} (median {statistics.median(actual):.0f}); predicted: "
          + ", ".join(f"{model} {predict(model, c, L):.0f}" for model, c in fits.items()))

# %%
assert len(long_points) >= 6 and all(len(steps_of(L, 3)) == len(cells["gpt-nano", L, 3, True]) for L in long)  # all solved
assert abs(rms_log_error("power", fits["power"], short_points)
           - rms_log_error("exponential", fits["exponential"], short_points)) < noise / 2    # the fits tie on 4-8
assert held_out_error["exponential"] > held_out_error["power"] + noise               # held out, the exponential is worse
assert all(max(steps_of(L, 3)) < min(predict(m, c, L) for m, c in fits.items()) for L in long)  # both over-predict
medians = {L: statistics.median(steps_of(L, 3)) for L in lengths3}
assert medians[16] < 2 * medians[8] and medians[12] < 2 * medians[8]                    # flat from 8 to 16

# %% [markdown]
# On lengths 4 to 8 the two fits tie: their rms errors in log steps differ by less than half the
# scatter between the seeds of one task (printed above), so these lengths alone cannot tell
# polynomial from exponential growth. The longer lengths can, and they reject both curves: fitted
# on 4 to 8, both over-predict every seed at $L = 12$ and 16, and held out, the exponential misses
# by more than the power law, by more than the seed scatter. What the data show for three symbols
# is that the steps grow from $L = 4$ to 6 and then stop growing: the median at $L = 16$ is under
# twice the median at $L = 8$ (the medians are in the table above), while the number of distinct
# problems grows from $3^4 = 81$ to $3^{16} \approx 43$ million.
# So, for $V = 3$: **the training cost is not exponential in the length; from 8 to 16 it is about
# flat.**
#
# Two caveats about the bend between $L = 6$ and 8. The repeat boost acts only at $L \le 5$ (next
# section). And the evaluation changes at $L = 8$: up to $L = 6$ it scores the whole test split, the
# same 196 problems (at $L = 6$) every time, so a few hard problems must all come out right four
# times in a row; from $L = 8$ on it scores 500 fresh problems, which miss rare hard ones more
# often. Neither explains away the flat run from 8 to 16, where both are the same. The notes saw
# their growth along the diagonal, where the vocabulary grows with the length; there our runs hit
# the cap (previous section), and how the steps grow stays open.
#
# ## The repeat-boost confound
#
# minGPT's sampler (the `SortDataset` of its [demo notebook](https://github.com/karpathy/minGPT/blob/master/demo.ipynb),
# which chapter 4's `SortTask` follows) rejects half of the draws that have more than $L // 2$ distinct digits, so that
# problems with many repeats turn up more often. With three symbols a problem has at most three
# distinct digits, so the rule can reject anything only while $3 > L // 2$: at $L = 4$ and $5$, never
# from $L = 6$ on. The training distribution therefore changes exactly between $L = 5$ and 6,
# where the steps grow. The test is to train the same tasks with the rule
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
# three seeds and one run that did not finish. With five seeds the medians rise smoothly from
# $L = 4$ to 6 (see the table): there is no jump at $L = 6$ for the boost to explain.
#
# ## Does the model learn a procedure?
#
# A tempting story is that the model "learns a procedure" (count each symbol, then write the
# counts out in order). Chapter 1's tool can check one consequence of it: the attention weights. If an answer position found the next symbol by looking up the occurrences of
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
# out by the MLPs on what attention averages, but nothing here shows one either, so this chapter
# claims no procedure: how the model sorts is not established here.
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
# "exponential". The steps themselves, measured: with three symbols they level off from $L = 8$
# to 16; along the notes' diagonal they grow steeply from $V = L = 8$ to 16, and at 32 our
# 4,000-step runs end short of a solution, so their growth there is not measured.
#
# ## What you learned
#
# - "Solved" needs a definition: held-out problems, several evaluations in a row at 100%, a check by
#   greedy generation, and a learning rate that cools once the model is close.
# - A training outcome is a distribution: one seed per task said little; several seeds per task
#   give a spread, and conclusions must be larger than it.
# - Over lengths 4 to 8 a power law and an exponential fit the steps equally well, within the seeds'
#   scatter; held-out longer lengths (12 and 16) can decide, and with three symbols they reject
#   both: the steps stop growing. Along the notes' diagonal ($V = L$) the steps grow steeply, and a
#   capped run says only "more than the cap".
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
# how far in $L$ the data must reach before the two models' predictions differ by more than twice
# that scatter, and check that the grid's held-out lengths reach that far.
