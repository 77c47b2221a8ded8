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
# # 13. From minGPT to a modern GPT
#
# **The question:** what has changed in GPT models since GPT-2, and which of those
# changes pay off on a small model under a fixed time budget?
#
# minGPT's model is GPT-2's, from 2019. [nanoGPT](https://github.com/karpathy/nanoGPT)'s README
# now sends readers on to [nanochat](https://github.com/karpathy/nanochat), whose GPT changes
# half a dozen pieces: rotary position embeddings instead of a position table, RMSNorm instead
# of LayerNorm (also on queries and keys), a squared-ReLU MLP, no biases, an untied output
# head, and the Muon optimizer for the hidden matrices. This appendix adds each of those to
# `mingpt_lite` as a `GPTConfig` option (off by default, so every earlier chapter is
# unchanged), explains what it does with a small check you can run, and then measures what
# each one buys on Tiny Shakespeare under an equal time budget.
#
# ## What you need from earlier chapters
#
# - Chapter 01 builds `CausalSelfAttention` (queries, keys, scores); rotary embeddings and
#   QK-norm change what happens to q and k just before the scores.
# - Chapter 02 builds LayerNorm, the GELU MLP and the block; RMSNorm and the new MLPs replace
#   those pieces.
# - Chapter 04 splits parameters into AdamW groups; Muon is a different update for one of them.
# - Chapter 07 builds the KV cache and `cached_logits`; we check the cache still equals a full
#   forward with the new options.
# - Chapter 09 trains a character model on Tiny Shakespeare; the ablation here uses the same
#   data and `CharDataset`.

# %%
import json
import math
from pathlib import Path

import torch

from mingpt_lite import GPT, GPTConfig
from mingpt_lite.attention import apply_rotary, rotary_tables, rotate_explicit
from mingpt_lab.bench.char import ABLATION, RECIPES, ablation_table
from mingpt_lite.blocks import swiglu_hidden
from mingpt_lite.generation import cached_logits
from mingpt_lite.norms import RMSNorm, rms_norm_explicit
from mingpt_lite.optim import newton_schulz_orthogonalize
from mingpt_lite.notebook import start_chapter

device = start_chapter(seed=0)
# Every cell below runs on the CPU whatever `device` is: the checks compare in float64 (which
# Apple's MPS lacks) and the trained models' results are read from committed data.

# %% [markdown]
# The whole picture first: GPT-2's block on the left, a modern block on the right, with the
# sizes of the model trained at the end of this chapter (width C = 128, 4 heads of D = 32,
# context T = 64). Every dashed box is one option below.
#
# ![GPT-2's block beside a modern block: RMSNorm for LayerNorm, rotary embeddings instead of a position table, QK-norm, a squared-ReLU MLP, no biases](figures/13_modern_block.svg)
#
# Each option is a field of `GPTConfig`; the defaults are minGPT's:

# %%
classic = GPTConfig(vocab_size=65, block_size=64, n_layer=4, n_head=4, n_embd=128, dropout=0.0)
modern = GPTConfig(vocab_size=65, block_size=64, n_layer=4, n_head=4, n_embd=128, dropout=0.0,
                   normalization="rmsnorm", position="rotary", mlp="relu2", qk_norm=True, bias=False)
for field in ("normalization", "position", "mlp", "qk_norm", "bias"):
    print(f"{field:>13}: {getattr(classic, field)!s:>9} -> {getattr(modern, field)}")

# %% [markdown]
# ## RMSNorm
#
# LayerNorm ([Ba et al. 2016](https://arxiv.org/abs/1607.06450)) subtracts each vector's mean,
# divides by its standard deviation, then scales and shifts. RMSNorm
# ([Zhang & Sennrich 2019](https://arxiv.org/abs/1910.07467)) keeps only the rescaling:
#
# $$\mathrm{RMSNorm}(x) = \frac{x}{\sqrt{\frac{1}{C}\sum_i x_i^2 + \epsilon}} \odot g$$
#
# The paper's argument: what makes LayerNorm help is re-scaling invariance, not re-centring,
# and dropping the mean saves a reduction. Our `RMSNorm` uses PyTorch's fused `F.rms_norm`;
# `rms_norm_explicit` is the formula above, line for line. They agree, and the output's
# root mean square is 1 while its mean is not 0:

# %%
torch.manual_seed(0)
x = torch.randn(2, 6, 128, dtype=torch.float64) + 0.5            # (B, T, C), not centred
norm = RMSNorm(128).double()
by_formula = x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5)
torch.testing.assert_close(norm(x), by_formula, rtol=1e-12, atol=1e-12)
torch.testing.assert_close(rms_norm_explicit(x, norm.weight), by_formula, rtol=1e-12, atol=1e-12)
rms = norm(x).pow(2).mean(-1).sqrt()
print(f"RMS of the output: {rms.min():.4f} .. {rms.max():.4f}; mean of the output: {norm(x).mean(-1).mean():.2f}")
assert torch.allclose(rms, torch.ones_like(rms), atol=1e-4) and norm(x).mean(-1).mean() > 0.3

# %% [markdown]
# ## Rotary position embeddings
#
# GPT-2 adds a learned vector per position to each token's embedding, so position is mixed
# into everything from the first layer on, and there is nothing to learn for positions past
# `block_size`. Rotary embeddings ([Su et al. 2021, RoFormer](https://arxiv.org/abs/2104.09864))
# instead *rotate* each query and key, pair of channels by pair of channels, by an angle
# proportional to its position $m$: pair $j$ turns by $m\,\theta_j$ with
# $\theta_j = 10000^{-2j/D}$. A rotation by $m\theta$ followed by the inverse of a rotation by
# $n\theta$ is a rotation by $(m-n)\theta$, so
#
# $$\langle R_m q, R_n k\rangle = \langle q, R_{n-m}\, k\rangle,$$
#
# and the attention score between two positions depends on their *distance*, not on where
# they are. `rotate_explicit` is the definition (each pair as a complex number times
# $e^{im\theta_j}$); `apply_rotary` is the fast version the model uses. Below, one query and one
# key are placed at every position of a 64-long sequence; every diagonal of the score matrix
# (a fixed distance $m - n$) is constant:

# %%
D = 32
q, k = torch.randn(D, dtype=torch.float64), torch.randn(D, dtype=torch.float64)
positions = torch.arange(64)
Q, K = rotate_explicit(q.expand(64, D), positions), rotate_explicit(k.expand(64, D), positions)
cos, sin = rotary_tables(64, D)
torch.testing.assert_close(apply_rotary(q.expand(64, D), cos.double(), sin.double()), Q, rtol=1e-6, atol=1e-6)
scores = Q @ K.T                                                   # scores[m, n] = <R_m q, R_n k>
spread = max((torch.diagonal(scores, -d).max() - torch.diagonal(scores, -d).min()).item() for d in range(64))
assert spread < 1e-9
print(f"every diagonal is constant to 1e-9; scores at distance 0, 1, 5: "
      f"{scores[10, 10]:.3f}, {scores[11, 10]:.3f}, {scores[15, 10]:.3f}")

# %% [markdown]
# A rotary model has no position table (how many parameters that saves is exercise 13.3), and its keys go into the
# KV cache already rotated: a cached key's position never changes, so the cache of chapter 07
# works unchanged. The check of chapter 07, for the fully modern model:

# %%
torch.manual_seed(0)
model = GPT(modern).double()
idx = torch.randint(0, 65, (2, 64))
torch.testing.assert_close(cached_logits(model, idx, prefill=5), model.eval()(idx), rtol=1e-9, atol=1e-9)
print(f"parameters: classic {GPT(classic).num_parameters(include_head=True):,}, "
      f"modern {model.num_parameters(include_head=True):,}")

# %% [markdown]
# ## ReLU² and SwiGLU
#
# GPT-2's MLP widens to 4C, applies GELU ([Hendrycks & Gimpel 2016](https://arxiv.org/abs/1606.08415))
# and projects back. Two later activations:
#
# - **ReLU²**, $\max(0, x)^2$, found by the program search of Primer
#   ([So et al. 2021](https://arxiv.org/abs/2109.08668)); nanochat uses it. Same shapes and
#   parameters as GPT-2's MLP; only the function changes.
# - **SwiGLU** ([Shazeer 2020](https://arxiv.org/abs/2002.05202)), $W_2(\mathrm{SiLU}(W_g x) \odot W_u x)$:
#   a gate decides, per hidden unit, how much of a second projection passes. It has three
#   matrices instead of two, so the hidden width shrinks to about $\frac{2}{3}\cdot 4C$ to keep
#   the parameter count (LLaMA's choice):

# %%
for C in (48, 128, 768):
    gelu_params = 2 * C * 4 * C
    swiglu_params = 3 * C * swiglu_hidden(C)
    print(f"C={C:>3}: GELU MLP {gelu_params:>9,} weights, SwiGLU (hidden {swiglu_hidden(C)}) {swiglu_params:>9,}")
    assert abs(swiglu_params / gelu_params - 1) < 0.03

# %% [markdown]
# ## QK-norm
#
# A score is a dot product of a query and a key; if their norms grow during training, scores
# grow, and the softmax saturates into a one-hot choice with vanishing gradients (the reason
# for chapter 01's $1/\sqrt{D}$). QK-norm normalises each head's query and key before the dot
# product ([Dehghani et al. 2023](https://arxiv.org/abs/2302.05442), who needed it to train a
# 22B-parameter vision transformer at all). With RMS-normalised q and k (gain 1), a score is at
# most $\|q\|\,\|k\|/\sqrt{D} = \sqrt{D}$, whatever the inputs:

# %%
big = 50 * torch.randn(1, 4, 64, D, dtype=torch.float64)           # (B, H, T, D), huge activations
plain = (big @ big.transpose(-2, -1) / math.sqrt(D)).abs().max()
unit = rms_norm_explicit(big)
normed = (unit @ unit.transpose(-2, -1) / math.sqrt(D)).abs().max()
print(f"largest |score| without QK-norm {plain:.0f}, with it {normed:.2f} (bound sqrt(D) = {math.sqrt(D):.2f})")
assert normed <= math.sqrt(D) + 1e-9 < plain

# %% [markdown]
# ## No biases, and the head
#
# `bias=False` removes every Linear and LayerNorm bias; it is nanoGPT's default, and PaLM
# ([Chowdhery et al. 2022](https://arxiv.org/abs/2204.02311)) reports that it increased
# training stability for large models. `tie_weights`
# shares the token embedding with the output head ([Press & Wolf 2017](https://arxiv.org/abs/1608.05859)):
# the same vector that represents a token scores it as the next token. GPT-2 and nanoGPT tie;
# minGPT and nanochat do not. Both were in `GPTConfig` before this chapter. For our model:

# %%
def n_params(**options):
    return GPT(GPTConfig(**{**vars(classic), **options})).num_parameters(include_head=True)

print(f"classic {n_params():,}; no biases {n_params(bias=False):,}; tied {n_params(tie_weights=True):,}")
assert n_params() - n_params(tie_weights=True) == 65 * 128

# %% [markdown]
# ## Muon
#
# AdamW (chapter 04) updates every parameter by its own normalised gradient. Muon
# ([Jordan et al. 2024](https://kellerjordan.github.io/posts/muon/)) treats a hidden weight
# *matrix* as a whole: it takes the momentum of the gradient and replaces it by the nearest
# orthogonal matrix, i.e. $U V^\top$ of its singular value decomposition $U S V^\top$, so that
# every direction of the update moves by about the same amount instead of a few dominant ones.
# An SVD per step would be slow; five Newton–Schulz iterations, a fixed polynomial of
# $G G^\top$, get close enough: they push every singular value above a small threshold into
# roughly [0.7, 1.2] and leave the ones far below it (pure noise) small. `configure_muon` uses it for the blocks' matrices and AdamW for the
# embeddings, the head, gains and biases (as nanochat does). What the iteration does to a
# gradient-like matrix with eight strong directions of very unequal size, plus weak noise:

# %%
G = torch.randn(128, 8) @ torch.randn(8, 384) + 0.01 * torch.randn(128, 384)  # nearly rank 8
before = torch.linalg.svdvals(G)
after = torch.linalg.svdvals(newton_schulz_orthogonalize(G))
print(f"singular values before: {before[0]:.1f} ... {before[7]:.1f} ... {before[-1]:.3f}")
print(f"after 5 Newton-Schulz steps: {after[0]:.2f} ... {after[7]:.2f} ... {after[-1]:.2f}")
assert before[0] / before[-1] > 100 and after.max() < 1.3 and after[:8].min() > 0.6

# %% [markdown]
# ## What each change buys: the ablation
#
# Now the measurement. Every variant below trains on Tiny Shakespeare for the **same time
# budget**, 10 seconds of single-threaded CPU time (the wall-clock time on an idle core; a
# process's CPU time is stretched much less than wall time when other jobs share the machine,
# and the cosine schedule follows that clock, so each variant gets a complete schedule in
# whatever number of steps it manages). The base is nanoGPT's model (GPT-2's block with a tied head and no biases) with the
# optimizer settings of the `fast-cosine` recipe (batch 16, AdamW at 3e-3 cosine to
# 1e-4, 30 warmup steps); then each change is switched on alone, then all of the fast recipe's
# options together. The loss is
# the same estimator for every model: the mean next-character loss over the whole validation
# split in consecutive 64-character windows. Three seeds per variant.
#
# This takes a few minutes of CPU per seed, too long for this chapter, so it was run once and
# the chapter reads its results (`chapters/data/README.md` says how the file was made):

# %%
results = json.loads(Path("data/13_ablation.json").read_text())
meta = results["meta"]
print(f"{meta['machine']}; torch {meta['torch']}; budget {meta['budget_cpu_s']} CPU s per run; "
      f"updated {meta['updated']}")
rows = ablation_table(results)
base = next(r for r in rows if r["variant"] == "gpt2 (base)")
print(f"{'variant':34s} {'val loss: mean [min, max]':>27s} {'vs base':>8s} {'steps':>6s}")
for r in rows:
    print(f"{r['variant']:34s} {r['mean']:.3f} [{r['min']:.3f}, {r['max']:.3f}]     {r['mean'] - base['mean']:+.3f} "
          f"{r['iters']:6.0f}")
assert all(r["seeds"] >= 3 for r in rows) and len(rows) == len(ABLATION)

# %%
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(7, 3.5))
means = [r["mean"] for r in rows]
spread = [[r["mean"] - r["min"] for r in rows], [r["max"] - r["mean"] for r in rows]]
ax.errorbar(means, range(len(rows)), xerr=spread, fmt="o", capsize=3)
ax.axvline(base["mean"], color="grey", linestyle="--", label="base mean")
ax.set_yticks(range(len(rows)), [r["variant"] for r in rows])
ax.invert_yaxis()
ax.set_xlabel("val loss after 10 CPU s (mean, min-max over seeds)")
ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# How to read the table: the spread over three seeds is the noise floor. A change whose mean
# moves by less than about the width of the base's [min, max] range is not distinguishable from
# no change at this budget. Three single changes beat the base on every seed (their worst seed
# below the base's best): rotary embeddings, ReLU², and an untied head; the cell below asserts
# exactly that list. The fast recipe keeps the first two and, for now, a tied head (step 4 below).
# Note what an equal *time* budget charges: an option that makes each step slower (rotary
# embeddings, QK-norm and Muon all add work per step) must gain more per step than it costs.
# These are results for a 0.8M-parameter character model trained for seconds; several of the
# changes (QK-norm, no biases, Muon) were introduced for stability or efficiency at much larger
# scale, and a null result here says nothing about that.

# %%
by_name = {r["variant"]: r for r in rows}
noise = base["max"] - base["min"]
print(f"seed spread of the base: {noise:.3f}")
better = [r["variant"] for r in rows if r["max"] < base["min"]]
print("better than the base on every seed (worst seed below the base's best):", ", ".join(better) or "none")
assert better == ["+ rotary", "+ relu2", "+ untied head", "fast recipe (all of its options)"]

# %% [markdown]
# ## Assembling the speedrun recipe
#
# The benchmark `mingpt-lite bench char` (in `mingpt_lab.bench`) sets the goal:
# reach nanoGPT's CPU-recipe validation loss (nanoGPT README's "I only have a macbook"
# settings) in at most a third of its wall time, both runs timed as whole processes side by
# side. The fast recipe differs from nanoGPT's in four ways, which the cell below lists:
#
# 1. **Fewer, larger, faster steps.** A character model this small is far from converged after
#    nanoGPT's 2000 steps, but most of the loss drop comes early. A larger learning rate with a
#    shorter warmup and a batch of 16 gets there in a fraction of the steps. The learning rate
#    falls along a straight line to zero rather than a cosine: for short runs that does at least
#    as well ([Bergsma et al. 2025](https://arxiv.org/abs/2502.15938)).
# 2. **Less momentum.** Adam's first moment ([Kingma & Ba 2014](https://arxiv.org/abs/1412.6980),
#    chapter 04) averages the gradients of roughly the last 1/(1 - β1) steps: ten with
#    nanoGPT's β1 = 0.9. In a run of a few hundred steps whose learning rate keeps falling,
#    that average trails behind; the recipe uses β1 = 0.6, an average over about 2.5 steps.
# 3. **Keep the model's width and depth.** Four layers of width 128 is already small; narrower
#    or shallower models ended with a higher loss.
# 4. **Switch on what the ablation supports**: rotary positions and ReLU². LayerNorm stays:
#    RMSNorm gained nothing in the ablation, and on a CPU `F.layer_norm` is one fused kernel
#    while RMSNorm is not. SwiGLU, QK-norm and Muon stay off: the table gives none of them a
#    gain beyond the seed spread at this budget. The untied head did gain, by the smallest
#    margin of the three; the recipe keeps the tied head, and whether untying it also helps
#    the assembled recipe has not been measured.
#
# The trial runs that chose each setting are listed in `chapters/data/README.md`.
#
# One change is not in the recipe but in the package, and every `relu2` model gets it: the
# squared ReLU's backward written by hand (one `addcmul`, 0 + 2 · grad · relu(x), a single
# pass) instead of autograd's chain through `square` and `relu` (four passes over the
# (B, T, 4C) activation). The values are the same (only the signs of zeros can differ), and
# the step is a little faster.

# %%
nano, fast = RECIPES["nanogpt-cpu"], RECIPES["fast"]
for part in ("model", "train"):
    for key in sorted(set(nano[part]) | set(fast[part])):
        a, b = nano[part].get(key, "default"), fast[part].get(key, "default")
        if a != b:
            print(f"{part:5s} {key:14s} nanoGPT: {a!s:12s} fast: {b}")


def characters_read(recipe):
    """Training characters one run reads: steps x batch x block."""
    return recipe["train"]["max_iters"] * recipe["train"]["batch_size"] * recipe["model"]["block_size"]


print(f"characters read: nanoGPT {characters_read(nano):,}, fast {characters_read(fast):,} "
      f"({characters_read(fast) / characters_read(nano):.3f} of nanoGPT's)")
assert characters_read(fast) < characters_read(nano) / 3

# %% [markdown]
# Reading fewer characters is not the same as taking less time in the same proportion: both
# processes pay a fixed cost (starting Python, importing torch, loading the data), rotary
# embeddings make each step a little dearer, and a batch of 16 uses the two cores a little
# better than nanoGPT's 12. So the goal is measured on whole processes, side by side: the
# benchmark runs nanoGPT's own `train.py` after ours for each seed, scores both with the same
# estimator, and records the ratio of wall times. The committed measurement, run twice with the
# same command:

# %%
speedrun = json.loads(Path("data/13_speedrun.json").read_text())
print(speedrun["meta"]["machine"], "|", speedrun["meta"]["date"])
print(f"{'seed':>4} {'ours: val':>10} {'wall s':>7} {'nanoGPT: val':>13} {'wall s':>7} {'time ratio':>10}")
for run in speedrun["result"]["runs"] + speedrun["repeat"]["runs"]:
    ours, peer = run["ours"], run["peer"]
    print(f"{run['seed']:>4} {ours['val_loss']:>10.4f} {ours['wall_s']:>7.1f} {peer['val_loss']:>13.4f} "
          f"{peer['wall_s']:>7.1f} {run['ratio']:>10.3f}")


# %%
def at_or_below_nanogpt(run):
    return run["ours"]["val_loss"] <= run["peer"]["val_loss"]


# the goal, on every seed of both measurements
both = speedrun["result"]["runs"] + speedrun["repeat"]["runs"]
assert len(both) == 6 and sorted({run["seed"] for run in both}) == [0, 1, 2]
assert all(at_or_below_nanogpt(run) and run["ratio"] <= 1 / 3 for run in both)
margin = min(run["peer"]["val_loss"] - run["ours"]["val_loss"] for run in both)
assert 0 < margin < 0.01                      # the loss margin is narrow: under 0.01 nats
print(f"smallest loss margin below nanoGPT: {margin:.4f}; worst time ratio: {max(run['ratio'] for run in both):.3f}")

# %% [markdown]
# So on the seeds it was measured on, the goal is met in both measurements, but narrowly: the
# smallest loss margin is under 0.01 nats. That evidence has two gaps. The recipe was tuned on
# seeds 0-3, so these seeds are not held out; and nanoGPT's `train.py` has no seed option, so its
# three runs above are one run timed three times, and its own spread over seeds is unknown.
#
# The held-out measurement closes both: ours on seeds 4, 5 and 6, never used while tuning, and
# nanoGPT's own `train.py` seeded differently for each of them (`--peer-seeds` runs a copy whose
# only change is the seed line, its default plus the seed), both timed as whole processes, and
# the same command run twice, on another machine than the first measurement:

# %%
heldout = json.loads(Path("data/13_speedrun_heldout.json").read_text())
print(heldout["meta"]["machine"], "|", heldout["meta"]["date"])
print(f"{'seed':>4} {'ours: val':>10} {'wall s':>7} {'nanoGPT: val':>13} {'wall s':>7} {'time ratio':>10}")
held = heldout["result"]["runs"] + heldout["repeat"]["runs"]
for run in held:
    ours, peer = run["ours"], run["peer"]
    print(f"{run['seed']:>4} {ours['val_loss']:>10.4f} {ours['wall_s']:>7.1f} {peer['val_loss']:>13.4f} "
          f"{peer['wall_s']:>7.1f} {run['ratio']:>10.3f}")

# %%
tuned_on = set(heldout["meta"]["tuned_on_seeds"])
assert len(held) == 6 and {run["seed"] for run in held} == {4, 5, 6} and not tuned_on & {4, 5, 6}
assert all(run["peer"]["torch_seed"] == 1337 + run["seed"] for run in held)     # nanoGPT seeded per run
assert all(at_or_below_nanogpt(run) and run["ratio"] <= 1 / 3 for run in held)  # the goal, held out
ours_worst = max(run["ours"]["val_loss"] for run in held)
peer_best = min(run["peer"]["val_loss"] for run in held + both)                 # every nanoGPT run measured
assert ours_worst < peer_best


def loss_range(losses):
    return max(losses) - min(losses)


ours_spread = loss_range([run["ours"]["val_loss"] for run in held])
peer_spread = loss_range([run["peer"]["val_loss"] for run in held])
fixed_seed_run = min(run["peer"]["val_loss"] for run in both)    # nanoGPT's own seed, first measurement
assert peer_spread > ours_spread and fixed_seed_run < min(run["peer"]["val_loss"] for run in held)
print(f"held out: our worst loss {ours_worst:.4f} < nanoGPT's best {peer_best:.4f}; "
      f"time ratios {min(run['ratio'] for run in held):.3f}-{max(run['ratio'] for run in held):.3f}; "
      f"spread over seeds: ours {ours_spread:.4f}, nanoGPT {peer_spread:.4f}")

# %% [markdown]
# On held-out seeds the goal holds in both measurements: every one of our runs is at or below
# nanoGPT's loss for the same seed in under a third of its wall time, and our worst run is below
# every nanoGPT run measured here, its fixed-seed runs of the first measurement included (the
# assert above). nanoGPT's loss moves more from seed to seed than ours does, and its one
# fixed-seed run of the first measurement was better than each of its three held-out seeds: a
# comparison against that single run flattered nanoGPT. Read it with two limits:
#
# - **Three held-out seeds, one recipe, one model size.** The claim is about this recipe on this
#   task; it says nothing about larger models or longer runs.
# - **Another machine gives other numbers.** With another CPU, other kernels or thread counts, both
#   the losses (in the third decimal) and the ratio differ; rerun the command to see yours.
#
# What is left on the table: each process spends part of its fixed cost importing `torch._dynamo`
# (`torch.optim` imports it on first use; nanoGPT pays it too), and in a profile of one step the
# matrix products take about half of the step; most of the other half is elementwise work bound
# by memory traffic (the MLP's activation, attention, the rotary turn) that a compiler could fuse.
# `torch.compile` was not tried for the speedrun: its compile time would count in the process's
# wall time.

# %% [markdown]
# ## What you learned
#
# - RMSNorm is LayerNorm without the centring and the bias: divide by the root mean square,
#   multiply by a gain.
# - Rotary embeddings rotate queries and keys by their positions, so scores depend only on
#   distances; there is no position table, and the KV cache stores keys already rotated.
# - ReLU² changes only the MLP's activation; SwiGLU adds a gate and shrinks the hidden width
#   by 2/3 to keep the parameter count.
# - QK-norm bounds every attention score by $\sqrt{D}$; Muon replaces a hidden matrix's update
#   by its orthogonalised version, computed with five Newton–Schulz steps.
# - Measured on a small character model at an equal time budget with three seeds, only some
#   of these changes help, and an option that slows each step must earn its cost per step.
# - The fast recipe reached nanoGPT's loss in under a third of its wall time on every seed it was
#   measured on: on the seeds it was tuned on by a narrow margin, and on three held-out seeds, with
#   nanoGPT seeded to match, in two measurements, where its worst run was below every nanoGPT run.
#
# ## Exercises
#
# ### Exercise 13.1 (implement): RMSNorm
#
# Write `my_rms_norm(x, weight, eps)` that normalises `x` (..., C) over its last dimension as
# RMSNorm does and scales by `weight` (C,). Check it with
# `from mingpt_lite.exercises import check; check("13.1", my_rms_norm)`.
# [The worked solution](solutions/13_modern_gpt.ipynb).
#
# ### Exercise 13.2 (implement): rotary embeddings
#
# Write `my_rotate(x, positions)` for `x` (..., T, D) and integer `positions` (T,): turn each
# channel pair (x[j], x[j + D/2]) by the angle `position * 10000 ** (-2j / D)`. Then check,
# as this chapter did, that the scores of your rotated vectors depend only on distances, and
# call `check("13.2", my_rotate)`. [The worked solution](solutions/13_modern_gpt.ipynb).
#
# ### Exercise 13.3 (predict): what rotary saves
#
# How many parameters does `position="rotary"` remove from this chapter's model (65
# characters, block_size 64, 4 layers, width 128)? Predict, then count with
# `num_parameters` and call `check("13.3", my_number)`.
# [The worked solution](solutions/13_modern_gpt.ipynb).
#
# ### Exercise 13.4 (explain): sliding past block_size
#
# Chapter 07's generation stops using the KV cache once a sequence passes `block_size`,
# because every cached key was computed with its position embedding. Explain why, for a rotary
# model, shifting *every* position by the same amount leaves all attention scores unchanged,
# and show it on the chapter's modern model by computing one layer's scores with positions
# 0..15 and 40..55. [The worked solution](solutions/13_modern_gpt.ipynb).
