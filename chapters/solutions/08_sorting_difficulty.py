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
# # Solutions to chapter 8: How hard is sorting?
#
# Worked solutions to the exercises of [chapter 08](../08_sorting_difficulty.ipynb). Code answers
# assert themselves, including passing their checker; the explain question is answered from the
# chapter's committed grid (no training here, a few seconds).

# %%
import json
import math
import statistics
from pathlib import Path

import numpy as np

from mingpt_lite.exercises import check
from mingpt_lite.notebook import start_chapter

device = start_chapter(seed=0)

# %% [markdown]
# ## Exercise 8.1
#
# Count perfect evaluations in a row, reset the count at any miss, and when it reaches `patience`
# return the step of the evaluation `patience - 1` places back, the first of the streak.

# %%
def solved_at(history, patience=4):
    """Step of the first of the first `patience` evaluations in a row at 100%, or None."""
    streak = 0
    for i, (_, accuracy) in enumerate(history):
        streak = streak + 1 if accuracy == 1.0 else 0
        if streak == patience:
            return history[i - patience + 1][0]
    return None


assert solved_at([(25, 1.0), (50, 0.99), (75, 1.0), (100, 1.0), (125, 1.0), (150, 1.0)]) == 75
assert check("8.1", solved_at)

# %% [markdown]
# ## Exercise 8.2
#
# `sample_problems` rejects (with probability `boost_probability`) a draw whose
# `count_distinct(digits) <= length // 2` is false, i.e. one with more than `length // 2` distinct
# digits. A problem has at most `min(length, num_digits)` distinct digits, so the rule can reject
# something exactly when `min(length, num_digits) > length // 2`.

# %%
def boost_active(length, num_digits):
    """Whether minGPT's repeat boost can reject any draw of SortTask(length, num_digits)."""
    return min(length, num_digits) > length // 2


assert check("8.2", boost_active)
active3 = [L for L in range(2, 65) if boost_active(L, 3)]
inactive32 = [L for L in range(2, 65) if not boost_active(L, 32)]
print(f"V = 3: active for L in {active3}; V = 32: inactive only for L >= {inactive32[0]}")
assert active3 == [2, 3, 4, 5] and inactive32[0] == 64

# %% [markdown]
# With three symbols the boost acts only on the shortest tasks (up to length 5); with 32 it acts at
# every length below 64, including the notes' $V = L = 32$. So in the notes' regime, unlike in the
# three-symbol grid, every task trains on the boosted distribution.
#
# ## Exercise 8.3
#
# Model answer. Over lengths 4 to 8, $\log L$ runs from 1.39 to 2.08: on so short an interval a
# straight line in $\log L$ (power law) and a straight line in $L$ (exponential) bend away from
# each other by less than the seeds' own scatter, so both fit within the noise and the data cannot
# choose. Their predictions part only when extrapolated: the exponential multiplies the steps by a
# fixed factor per extra symbol, the power law by a factor that shrinks toward 1. The numbers,
# from the committed grid: fit both on the V = 3 runs of lengths 4 to 8, then find the smallest
# length at which the two fitted curves differ by more than twice the seeds' scatter (in log
# steps). That is where data must reach to tell them apart; the chapter's held-out lengths 12 and
# 16 are beyond it.

# %%
grid = json.loads(Path("../data/sorting_grid.json").read_text())
runs = [r["result"] for r in grid["runs"]]
by_cell = {}
for r in runs:
    if r["model"] == "gpt-nano" and r["num_digits"] == 3 and r["solved_at"] is not None:
        by_cell.setdefault((r["length"], r["boost"]), []).append(r["solved_at"])
boost = max((False, True), key=lambda b: len({L for (L, bb) in by_cell if bb == b}))   # the better-covered setting
points = [(L, s) for (L, b), steps in by_cell.items() if b == boost and L <= 8 for s in steps]
L = np.array([p[0] for p in points], dtype=float)
y = np.log([p[1] for p in points])
power = np.polyfit(np.log(L), y, 1)
exponential = np.polyfit(L, y, 1)
scatter = statistics.mean(statistics.pstdev(np.log(v)) for (Lc, b), v in by_cell.items()
                          if b == boost and Lc <= 8 and len(v) > 1)
lengths = sorted({int(v) for v in L})
gap = {n: abs(np.polyval(power, math.log(n)) - np.polyval(exponential, n)) for n in range(lengths[0], 65)}
apart = next((n for n in range(lengths[-1], 65) if gap[n] > 2 * scatter), None)
print(f"repeat boost {'on' if boost else 'off'}, lengths {lengths}, {len(points)} runs")
print(f"power law L^{power[0]:.2f}, exponential {math.exp(exponential[0]):.2f}^L; seed scatter {scatter:.2f} in log steps")
print(f"largest gap between the fitted curves inside the data: {max(gap[n] for n in lengths):.2f}")
print(f"first length where they differ by more than twice the scatter: {apart}")
assert max(gap[n] for n in lengths) < 2 * scatter     # inside the measured range the two are not separable
longest = max(Lc for (Lc, b) in by_cell if b == boost)
assert apart is not None and apart <= longest         # ... and the grid's longer lengths reach past that point
print(f"the grid's V = 3 runs reach L = {longest}: the held-out test in the chapter can separate the two")
