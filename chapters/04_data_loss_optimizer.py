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
# # 4. Data, loss and optimizer
#
# **The question:** what does the model learn from, what does it minimise, and which
# parameters should the optimizer pull toward zero?
#
# The notes' mental framework puts *dataset*, *loss function* and *optimizer* in three
# separate rows, and then observes that minGPT bundles two of them into the model: the
# forward pass computes the loss when given targets, and the model has a
# `configure_optimizers` method (both in
# [minGPT's `model.py`](https://github.com/karpathy/minGPT/blob/master/mingpt/model.py)).
# The notes ask whether the loss "should be a separate
# entity" and whether "optimizer configuration should be separated as well". In
# `mingpt_lite` the answer is yes to both: the model maps token ids to logits and nothing
# more, `lm_loss` is a plain function in `loss.py`, and the weight-decay groups are computed
# by `parameter_groups` in `optim.py`, which works on any `nn.Module`.
#
# This chapter takes the three in order: the sort task minGPT's demo trains on (and how its
# examples are masked and split), the loss written out by hand, and AdamW's parameter groups.
#
# ## What you need from earlier chapters
#
# - Chapter 02 builds `GPT` and `GPTConfig`. Here we only use a gpt-nano to produce logits for
#   the loss, and to list its parameters for the optimizer.
# - Chapter 03 explains why a freshly initialised model's loss sits near ln V (here ln 3), and
#   introduces `ResidualProjection`, a subclass of `nn.Linear`, which the weight-decay rule
#   treats as the Linear layer it is.

# %%
import math
import os
import subprocess
import sys

import matplotlib.pyplot as plt
import torch
import torch.nn as nn
import torch.nn.functional as F

from mingpt_lite import GPT, GPTConfig, configure_adamw, lm_loss, parameter_groups
from mingpt_lite.data import SortTask
from mingpt_lite.loss import IGNORE_INDEX
from mingpt_lite.notebook import start_chapter

device = start_chapter(seed=0)

# %% [markdown]
# ## The sort task
#
# [minGPT's demo](https://github.com/karpathy/minGPT/blob/master/demo.ipynb) teaches a tiny
# GPT to sort: it reads six digits from {0, 1, 2} and must write
# them back in ascending order. A GPT only ever predicts the next token, so the problem and
# its answer are concatenated into one sequence of 12 tokens, the model reads the first 11,
# and at every position the target is the token that comes next. That is why the task's
# vocabulary is 3 and its `block_size` is 2 · 6 − 1 = 11. One example, drawn:
#
# ![One sort example: the problem 2 0 1 0 2 1 and its sorted answer 0 0 1 1 2 2 make a
# 12-token sequence; x is its first 11 tokens, y its last 11, aligned by position t = 0..10;
# the first 5 targets are -1 (ignored) and the last 6, the sorted answer, are
# scored](figures/04_sort_alignment.svg)

# %%
task = SortTask(length=6, num_digits=3)
generator = torch.Generator().manual_seed(0)
x, y = task.get_batch("train", 4, generator)           # each (B, T) = (4, 11)
assert x.shape == y.shape == (4, task.block_size) and task.vocab_size == 3

def show(row):
    """A sequence of token ids as text, with the ignored target -1 shown as '.'."""
    return " ".join("." if t == IGNORE_INDEX else str(t) for t in row.tolist())

for xi, yi in zip(x, y):
    print(f"x: {show(xi)}\ny: {show(yi)}\n")

# %% [markdown]
# Read a pair column by column: the model sees `x[:t+1]` and must produce `y[t]`. The first
# six tokens of `x` are the problem; from position 5 on (after the model has seen the whole
# problem) each target is the next digit of the sorted answer, and `x` continues with the
# answer shifted by one (teacher forcing). The checks:

# %%
problem, answer = x[:, : task.length], y[:, task.length - 1 :]           # (4, 6) and (4, 6)
assert torch.equal(answer, problem.sort(dim=1).values)                     # the answer is the sorted problem
assert torch.equal(x[:, task.length :], answer[:, :-1])                    # x continues with the answer, one step behind
assert (y[:, : task.length - 1] == IGNORE_INDEX).all()                     # the first 5 targets are masked

# %% [markdown]
# ### Why the input half is masked
#
# The first five targets would ask the model to predict the *next digit of the problem*,
# and the problem's digits are random. No model can do much better than a uniform guess
# there, which costs about $\ln 3 \approx 1.10$ per position. We can see the effect without training
# anything: an "oracle" that sorts perfectly (a huge logit on the right digit at every answer
# position) and guesses uniformly on the problem.

# %%
oracle_logits = torch.zeros(4, task.block_size, task.vocab_size)           # uniform everywhere ...
oracle_logits[:, task.length - 1 :] = 30.0 * F.one_hot(answer, 3)          # ... except: certain and right on the answer
unmasked_targets = torch.cat([problem, answer], dim=1)[:, 1:]              # every next token, nothing ignored
masked_loss = lm_loss(oracle_logits, y).item()
unmasked_loss = lm_loss(oracle_logits, unmasked_targets).item()
print(f"perfect sorter, masked targets: {masked_loss:.4f}; unmasked: {unmasked_loss:.4f} "
      f"(5/11 · ln 3 = {5 / 11 * math.log(3):.4f})")
assert masked_loss < 1e-6
assert abs(unmasked_loss - 5 / 11 * math.log(3)) < 1e-4

# %% [markdown]
# Without the mask, a perfect sorter would report a loss of about 0.5 instead of 0. minGPT's
# demo reaches 0.00042 at its last iteration; unmasked, that progress would sit invisibly on
# top of an irreducible floor. Worse, the gradient from those positions asks the model to
# learn the random generator's digit statistics, which has nothing to do with sorting and
# competes for the same small capacity. At test time the problem is always given, never
# generated, so nothing is lost by not learning it. The mask is the value -1, which the loss
# treats as "no target here" (next section).
#
# ### A split that stays put
#
# There are only 3⁶ = 729 distinct problems, and minGPT's demo draws 2,000 batches of 64, so
# every training problem is seen a couple of hundred times. Accuracy on problems drawn from the
# same pool would measure memory, not sorting; the only meaningful test uses problems that are
# *never* drawn for training. So the split is by problem, not by sample, and it must never move.
#
# minGPT holds out 25% of the distinct problems as a test set: a problem is test if
# `hash(pickle.dumps(digits)) % 4 == 0`. Python's `hash` of a `bytes` object is *salted per
# process* (it changes with
# [`PYTHONHASHSEED`](https://docs.python.org/3/using/cmdline.html#envvar-PYTHONHASHSEED), random
# by default, to defend against hash flooding). So within one run the split is consistent, but the next run, or a second process
# that loads a checkpoint to evaluate it, uses a different split. We run minGPT's rule in two
# fresh interpreters with two hash seeds, over all 3⁶ = 729 problems in lexicographic order:

# %%
def run_python(code, hash_seed):
    """Run `code` in a fresh interpreter with PYTHONHASHSEED=hash_seed; return the ints it prints."""
    env = {**os.environ, "PYTHONHASHSEED": str(hash_seed)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return set(map(int, out.stdout.split()))

MINGPT_TEST_SPLIT = (
    "import itertools, pickle\n"
    "problems = itertools.product(range(3), repeat=6)\n"
    "print(*[i for i, p in enumerate(problems) if hash(pickle.dumps(list(p))) % 4 == 0])"
)
test_a, test_b = run_python(MINGPT_TEST_SPLIT, 1), run_python(MINGPT_TEST_SPLIT, 2)
moved = len(test_a - test_b) / len(test_a)
assert test_a != test_b and moved > 0.5

# %% [markdown]
# The exact counts depend on the Python version and build (its hash function), so the next
# cell's output is not compared when the notebook is re-run; the assertion above is.

# %% tags=["nbval-ignore-output"]
print(f"minGPT's test split: {len(test_a)} problems in process A, {len(test_b)} in process B, "
      f"{len(test_a & test_b)} in both")
print(f"{moved:.0%} of A's test problems are training problems in B")

# %% [markdown]
# About three quarters of process A's test problems are training problems in process B (two
# independent 25% draws give 75% on average). A model trained in one process and scored in another is
# largely scored on problems it trained on, and the reported "test accuracy" means little.
#
# `SortTask` decides the split with a fixed integer hash (`mingpt_lite.data.mix32`) of the
# digits, computed with tensor arithmetic that has no salt and no dependence on the machine:
# problems whose 32-bit hash falls below 0.25 · 2³² are test. The same two-process experiment:

# %%
LITE_TEST_SPLIT = (
    "from mingpt_lite.data import SortTask\n"
    "task = SortTask(length=6, num_digits=3)\n"
    "print(*task.is_test(task.all_problems()).nonzero().flatten().tolist())"
)
lite_a, lite_b = run_python(LITE_TEST_SPLIT, 1), run_python(LITE_TEST_SPLIT, 2)
here = set(task.is_test(task.all_problems()).nonzero().flatten().tolist())
print(f"mingpt_lite's test split: {len(lite_a)} problems in A, {len(lite_b)} in B, identical: {lite_a == lite_b == here}")
assert lite_a == lite_b == here

# %% [markdown]
# The split has the properties a split needs. Every problem is in exactly one split; the test
# share is close to 25% (a hash threshold gives 25% in expectation, so for 729 problems we
# accept anything within three binomial standard deviations, $\pm 3\sqrt{729 \cdot 0.25 \cdot 0.75} \approx \pm 35$); and sampled batches never
# leave their split:

# %%
train_set, test_set = task.all_problems("train"), task.all_problems("test")
assert len(train_set) + len(test_set) == task.num_problems == 729
assert not task.is_test(train_set).any() and task.is_test(test_set).all()
expected, spread = 0.25 * 729, 3 * math.sqrt(729 * 0.25 * 0.75)
print(f"train {len(train_set)} problems, test {len(test_set)} ({len(test_set) / 729:.1%})")
assert abs(len(test_set) - expected) < spread
x_test, _ = task.get_batch("test", 512, generator)
assert task.is_test(x_test[:, : task.length]).all()

# %% [markdown]
# ### A sampling rule that never fires here
#
# One more detail of the demo, which `SortTask` keeps (`boost_probability=0.5`): half of the
# time, a draw with *more than* `length // 2` distinct digits is rejected and drawn again. The
# comment in [minGPT's demo](https://github.com/karpathy/minGPT/blob/master/demo.ipynb) says
# the rule boosts "the number of examples that have a large number of repeats, as this is what
# the model seems to struggle with". On the demo's own task it does nothing at all: with 3
# symbols a problem has at most 3 distinct digits, and the threshold is 6 // 2 = 3, so no draw
# ever has *more* than three. minGPT's comment describes an effect its demo does not have. We
# count over all 729 problems, and check that sampling with and without the rule gives the very
# same batches:

# %%
distinct = task.count_distinct(task.all_problems())                          # (729,)
fires = int((distinct > task.length // 2).sum())
print(f"distinct digits per problem: at most {int(distinct.max())}; the rule rejects more than "
      f"length // 2 = {task.length // 2}; problems it could reject: {fires} of {task.num_problems}")
assert int(distinct.max()) == 3 and fires == 0
boosted = task.sample_problems("train", 512, torch.Generator().manual_seed(1))
plain = task.sample_problems("train", 512, torch.Generator().manual_seed(1), boost=False)
assert torch.equal(boosted, plain)                                            # same draws, nothing rejected

# %% [markdown]
# The rule matters only with a bigger alphabet, as in chapter 08's experiments. With 6 symbols
# and length 6, most problems have four or more distinct digits. If a share q of uniform draws
# has at most three, the rule keeps all of those and half of the rest, so their share among
# accepted draws becomes q / (q + (1 − q) / 2):

# %%
wide = SortTask(length=6, num_digits=6)
wide_distinct = wide.count_distinct(wide.all_problems())                      # (46656,)
q = (wide_distinct <= wide.length // 2).double().mean().item()
expected_share = q / (q + (1 - q) / 2)
print(f"6 symbols, length 6: {q:.1%} of all problems have at most 3 distinct digits; "
      f"with the rule they make {expected_share:.1%} of the draws")
sampled = wide.sample_problems("train", 20_000, torch.Generator().manual_seed(2))
sampled_share = (wide.count_distinct(sampled) <= wide.length // 2).double().mean().item()
assert abs(sampled_share - expected_share) < 0.02                             # 20,000 draws: s.e. 0.004

# %% [markdown]
# (The sampled share agrees with the formula within 0.02, five standard errors of a share
# measured on 20,000 draws; with generator seeds 0 to 7 it was within 0.005 every time. The
# formula uses all problems while we sample the train split; the two differ only by the luck of
# which problems the hash puts in the test split.)
#
# ## The loss, written out
#
# Cross entropy for next-token prediction: turn each position's logits into log-probabilities
# with `log_softmax`, pick the log-probability of the target token, negate, and average over
# the positions that have a target. Positions whose target is −1 are left out of both the sum
# and the count. Written out:

# %%
def next_token_loss(logits, targets):
    """Mean negative log-likelihood of `targets` (B, T) under `logits` (B, T, V); -1 targets are ignored."""
    log_probs = torch.log_softmax(logits.float(), dim=-1)                    # (B, T, V)
    keep = targets != IGNORE_INDEX                                           # (B, T)
    safe_targets = targets.clamp(min=0)                                      # -1 is not a valid index
    picked = log_probs.gather(-1, safe_targets.unsqueeze(-1)).squeeze(-1)   # (B, T): log p(target)
    return -(picked * keep).sum() / keep.sum()

# %% [markdown]
# We check it against the package's `lm_loss` (which calls `F.cross_entropy` with
# `ignore_index=-1`) on a real model's logits for a batch of sort examples:

# %%
config = GPTConfig.from_preset("gpt-nano", vocab_size=task.vocab_size, block_size=task.block_size)
torch.manual_seed(0)
model = GPT(config).to(device)
x, y = task.get_batch("train", 64, generator)
x, y = x.to(device), y.to(device)
logits = model(x)                                                             # (B, T, V) = (64, 11, 3)
ours, theirs = next_token_loss(logits, y), lm_loss(logits, y)
print(f"written out {ours.item():.4f}   lm_loss {theirs.item():.4f}")
torch.testing.assert_close(ours, theirs)

# %% [markdown]
# Note the denominator: the mean is over the 6 answer positions of each example, not all 11.
# Dividing by every position would shrink the loss by 6/11 and make it depend on how much of
# a sequence happens to be masked:

# %%
keep = y != IGNORE_INDEX
summed = F.cross_entropy(logits.reshape(-1, 3), y.reshape(-1), ignore_index=IGNORE_INDEX, reduction="sum")
wrong_mean = summed / y.numel()                                               # divided by all B * T positions
print(f"averaged over all positions instead: {wrong_mean.item():.4f} = 6/11 of {ours.item():.4f}")
assert keep.sum(dim=1).eq(task.length).all()
torch.testing.assert_close(wrong_mean, ours * 6 / 11)

# %% [markdown]
# Ignored positions must also contribute no *gradient*. The gradient of the mean cross
# entropy with respect to the logits has a closed form: at a kept position it is
# (softmax(logits) − one_hot(target)) / (number of kept positions), and at an ignored position
# it is exactly zero. We compare autograd's gradient with that formula:

# %%
leaf_logits = logits.detach().requires_grad_()                               # (B, T, V)
lm_loss(leaf_logits, y).backward()
grad = leaf_logits.grad
formula = (torch.softmax(leaf_logits.detach(), -1) - F.one_hot(y.clamp(min=0), 3)) * keep.unsqueeze(-1) / keep.sum()
torch.testing.assert_close(grad, formula)
assert (grad[:, : task.length - 1] == 0).all()                                 # masked positions: exactly zero
assert (grad[:, task.length - 1 :].abs().sum(-1) > 0).all()                   # every answer position: non-zero
print(f"gradient at ignored positions: max |g| = {grad[:, :task.length - 1].abs().max().item():.1f}")

# %% [markdown]
# One edge case to know about: a batch in which *every* target is −1 has no loss at all, and
# the mean is 0/0. `F.cross_entropy` (and so `lm_loss`) then returns `nan`. The sort task
# never produces such a batch, but a data pipeline that masks prompts could.
#
# ## AdamW and its parameter groups
#
# Adam keeps two running averages per parameter, of the gradient (m) and of its square (v),
# and steps by m / sqrt(v): a per-parameter step size that does not depend on the gradient's
# scale. AdamW adds *decoupled* weight decay: the parameter is shrunk directly, independently of
# the gradient ([Loshchilov & Hutter 2019](https://arxiv.org/abs/1711.05101); classic L2
# regularisation instead adds wd · p to the gradient, which Adam's normalisation then
# distorts). The paper also keeps its decay rate λ apart from Adam's step size α (both follow
# the schedule's multiplier). PyTorch's `AdamW`, which minGPT and nanoGPT use and so do we,
# couples them: each step shrinks the parameter by the factor (1 − lr · weight_decay). Adam itself is
# [Kingma & Ba 2014](https://arxiv.org/abs/1412.6980). One step written out, for one tensor:

# %%
def adamw_step(p, grad, m, v, t, lr, weight_decay, betas=(0.9, 0.95), eps=1e-8):
    """One AdamW update of tensor p (in place), with moment buffers m, v and step count t (from 1)."""
    p.mul_(1 - lr * weight_decay)                        # decoupled decay: a pull toward zero
    m.mul_(betas[0]).add_((1 - betas[0]) * grad)         # running mean of the gradient
    v.mul_(betas[1]).add_((1 - betas[1]) * grad**2)      # running mean of its square
    m_hat, v_hat = m / (1 - betas[0] ** t), v / (1 - betas[1] ** t)   # bias correction
    p.sub_(lr * m_hat / (v_hat.sqrt() + eps))

g = torch.Generator().manual_seed(1)
p_ours = torch.randn(5, 4, generator=g)
p_torch = nn.Parameter(p_ours.clone())
optimizer = torch.optim.AdamW([p_torch], lr=1e-2, weight_decay=0.1, betas=(0.9, 0.95))
m, v = torch.zeros_like(p_ours), torch.zeros_like(p_ours)
for t in range(1, 4):
    grad = torch.randn(5, 4, generator=g)
    adamw_step(p_ours, grad, m, v, t, lr=1e-2, weight_decay=0.1)
    p_torch.grad = grad.clone()
    optimizer.step()
torch.testing.assert_close(p_ours, p_torch.detach())
print("three steps by hand == torch.optim.AdamW")

# %% [markdown]
# ### Which parameters should decay?
#
# AdamW applies its decay to every parameter it is given, so *which* parameters to give it with
# a non-zero weight decay is our choice: PyTorch's optimizers take a list of *parameter groups*,
# each with its own settings. Loshchilov & Hutter
# ([2019](https://arxiv.org/abs/1711.05101)) study the decay itself, not which tensors get it;
# the split below is the GPT codebases' convention.
#
# Weight decay is a prior that says "smaller is simpler". That makes sense for the big
# matrices that mix features (every Linear weight): it discourages any single weight from
# growing large to memorise something. It does not make sense everywhere:
#
# - **LayerNorm gains** have a neutral value of 1, not 0. Pulling them toward 0 pulls the
#   model toward switching its channels off.
# - **Biases** (and LayerNorm biases) are one number per channel: they shift, they do not
#   mix, and there are few of them. Decaying them constrains almost nothing; by convention
#   they are left alone.
# - **Embeddings** are a lookup table. A row receives gradient only when its token is in the
#   batch, but decay shrinks *every* row on *every* step. A rare token's row is pulled toward
#   zero between its appearances, so its size ends up reflecting how rare the token is.
#
# The last point is easy to see with the real optimizer: an embedding table where only token 0
# ever appears. The row of token 1 never receives a gradient, and under decay it still shrinks,
# by exactly (1 − lr · wd) per step:

# %%
def unseen_row_norm(weight_decay, steps=100, lr=1e-2):
    """Norm ratio (after/before) of an embedding row whose token never appears, after `steps` AdamW steps."""
    torch.manual_seed(0)
    table = nn.Embedding(2, 8)
    before = table.weight[1].norm().item()
    opt = torch.optim.AdamW(table.parameters(), lr=lr, weight_decay=weight_decay)
    for _ in range(steps):
        opt.zero_grad()
        table(torch.zeros(4, dtype=torch.long)).pow(2).sum().backward()      # only token 0 is used
        opt.step()
    return table.weight[1].norm().item() / before

decayed, kept = unseen_row_norm(0.1), unseen_row_norm(0.0)
print(f"after 100 steps the unseen row keeps {decayed:.4f} of its norm with decay, {kept:.4f} without")
assert abs(decayed - (1 - 1e-2 * 0.1) ** 100) < 1e-5 and kept == 1.0

# %% [markdown]
# At nanoGPT's GPT-2 settings (peak lr 6e-4, weight decay 0.1, 600,000 steps) a row that is
# never looked up shrinks by that factor at every one of those steps (how much of it survives
# a long run is exercise 4.3). Rows that are looked up do get
# pushed back, but for rare tokens the pull never stops. minGPT therefore decays only Linear
# weights (`configure_optimizers` in [its `model.py`](https://github.com/karpathy/minGPT/blob/master/mingpt/model.py));
# [nanoGPT](https://github.com/karpathy/nanoGPT) uses a shorter rule, "decay every parameter with two or more dimensions",
# which also decays the embeddings (and, with a tied head, the shared matrix). With a large
# corpus most tokens appear often enough that this works well in practice; it is a choice,
# not a bug. `mingpt_lite.optim.parameter_groups` offers both.
#
# First both rules written out on our model (untied head, the sort-task gpt-nano):

# %%
def mingpt_rule(model):
    """minGPT: only the weight of a Linear layer decays (ResidualProjection is a Linear)."""
    return {id(m.weight) for m in model.modules() if isinstance(m, nn.Linear)}

def dim_rule(model):
    """nanoGPT: every parameter with at least two dimensions decays."""
    return {id(p) for p in model.parameters() if p.dim() >= 2}

for rule, explicit in (("mingpt", mingpt_rule), ("dim", dim_rule)):
    decay_group, no_decay_group = parameter_groups(model, weight_decay=0.1, rule=rule)
    assert {id(p) for p in decay_group["params"]} == explicit(model)
    assert decay_group["weight_decay"] == 0.1 and no_decay_group["weight_decay"] == 0.0
print("both rules written out == parameter_groups")

# %% [markdown]
# Now the counts, for the untied model and for the same model with a tied head
# (`tie_weights=True`: the lm head *is* the token embedding, one tensor with two owners).

# %%
def group_counts(model, rule):
    """(tensors, parameters) in the decay and in the no-decay group."""
    decay_group, no_decay_group = parameter_groups(model, weight_decay=0.1, rule=rule)
    return [(len(g["params"]), sum(p.numel() for p in g["params"])) for g in (decay_group, no_decay_group)]

counts = {}
for tied in (False, True):
    torch.manual_seed(0)
    m = GPT(GPTConfig.from_preset("gpt-nano", vocab_size=3, block_size=11, tie_weights=tied))
    unique = {id(p): p for p in m.parameters()}
    for rule in ("mingpt", "dim"):
        counts[tied, rule] = group_counts(m, rule)
        (n_d, p_d), (n_n, p_n) = counts[tied, rule]
        assert n_d + n_n == len(unique) and p_d + p_n == sum(p.numel() for p in unique.values())

print(f"{'head':7s} {'rule':7s} {'decay tensors':>14s} {'decay params':>13s} {'no-decay tensors':>17s} {'no-decay params':>16s}")
for (tied, rule), ((n_d, p_d), (n_n, p_n)) in counts.items():
    print(f"{'tied' if tied else 'untied':7s} {rule:7s} {n_d:14d} {p_d:13,d} {n_n:17d} {p_n:16,d}")

# %% [markdown]
# Reading the table:
#
# - **Untied, minGPT's rule**: 13 decayed tensors (the four Linear weights of each of the 3
#   blocks, plus the head) with 83,088 parameters; 28 tensors with 2,640 parameters are not
#   decayed (12 Linear biases, 12 LayerNorm tensors in the blocks, the final LayerNorm's 2, and
#   the 2 embedding tables). minGPT's `configure_optimizers` builds exactly these groups but
#   prints neither count (nanoGPT's prints both); the next cell asserts them.
# - **Untied, dim rule**: the only difference is that the two embedding tables (3 × 48 token
#   rows and 11 × 48 positions, $3 \cdot 48 + 11 \cdot 48 = 672$ parameters) move to the decay group. The head was already
#   decayed by both rules, since it is a Linear weight *and* a matrix.
# - **Tied**: the head and the token embedding are one tensor, counted once in every row
#   (the model's total is 144 smaller than untied). Under minGPT's rule that tensor has two owners
#   who disagree, a Linear (decay) and an Embedding (no decay); `parameter_groups` lets
#   "no decay" win, so the shared matrix is not decayed. Under the dim rule it is a matrix and
#   decays, as in nanoGPT.

# %%
assert counts[False, "mingpt"] == [(13, 83_088), (28, 2_640)]
embedding_params = 3 * 48 + 11 * 48
assert counts[False, "dim"] == [(13 + 2, 83_088 + embedding_params), (28 - 2, 2_640 - embedding_params)]
assert counts[True, "mingpt"] == [(12, 83_088 - 144), (28, 2_640)]
assert counts[True, "dim"] == [(14, 83_088 + embedding_params - 144), (26, 2_640 - embedding_params)]

# %% [markdown]
# For a 3-token vocabulary the embeddings are a rounding error, so the choice of rule hardly
# matters for the sort task. It matters a great deal at GPT-2's vocabulary of 50,257 tokens,
# where the token embedding (which GPT-2 also uses as its head) is 38.6 million of 124 million
# parameters. We count the groups of a few sizes without allocating any weights, by building
# the models on PyTorch's `meta` device (shapes only, no data):

# %%
sizes = {
    "gpt-nano\nV=3, T=11": GPTConfig.from_preset("gpt-nano", vocab_size=3, block_size=11),
    "gpt-mini\nV=65, T=128": GPTConfig.from_preset("gpt-mini", vocab_size=65, block_size=128),
    "gpt2, tied head\nV=50257, T=1024": GPTConfig.from_preset("gpt2", vocab_size=50257, block_size=1024, tie_weights=True),
}
shares = {}
for name, size_config in sizes.items():
    with torch.device("meta"):
        meta_model = GPT(size_config)
    total = sum(p.numel() for p in meta_model.parameters())                # a tied tensor once
    embeddings = meta_model.token_embedding.weight.numel() + meta_model.position_embedding.weight.numel()
    (_, decayed_mingpt), _ = group_counts(meta_model, "mingpt")
    (_, decayed_dim), _ = group_counts(meta_model, "dim")
    assert decayed_dim - decayed_mingpt == embeddings          # the rules differ by the embeddings only
    shares[name] = (decayed_mingpt / total, embeddings / total, 1 - (decayed_mingpt + embeddings) / total)
    print(f"{name.replace(chr(10), ', '):33s} {total:>12,d} params: Linear weights {shares[name][0]:.1%}, "
          f"embeddings {shares[name][1]:.1%}, biases and LayerNorm {shares[name][2]:.1%}")
assert all(share[2] < 0.03 for share in shares.values())                     # never-decayed: under 3% ...
assert shares["gpt2, tied head\nV=50257, T=1024"][2] < 0.01                  # ... and under 1% at GPT-2's size

# %%
fig, ax = plt.subplots(figsize=(7, 3.5))
names = list(shares)
left = [0.0] * len(names)
parts = [("Linear weights (decayed by both rules)", "tab:blue"),
         ("embeddings (decayed only by the dim rule)", "tab:orange"),
         ("biases, LayerNorm (never decayed)", "tab:gray")]
for k, (label, color) in enumerate(parts):
    widths = [shares[n][k] for n in names]
    ax.barh(names, widths, left=left, color=color, label=label)
    left = [l + w for l, w in zip(left, widths)]
ax.set(xlabel="share of the model's parameters", xlim=(0, 1))
ax.invert_yaxis()
ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
fig.tight_layout()
plt.show()

# %% [markdown]
# At GPT-2 size the two rules disagree about almost a third of the model. Biases and LayerNorm
# parameters, the part both rules agree never to decay, are under 3% of the model at every size
# and under 1% at GPT-2's: the largest share is the smallest model's.
#
# Finally, the optimizer the trainer will use. `configure_adamw` is `torch.optim.AdamW` over
# these two groups, with minGPT's demo settings as defaults (lr 5e-4, betas (0.9, 0.95), weight
# decay 0.1, minGPT's rule); on a GPU it picks PyTorch's fused kernel. Because it only asks
# modules for their type, it works on any model, not just ours:

# %%
optimizer = configure_adamw(model, lr=5e-4, weight_decay=0.1)
assert [g["weight_decay"] for g in optimizer.param_groups] == [0.1, 0.0]
assert [len(g["params"]) for g in optimizer.param_groups] == [13, 28]
toy = nn.Sequential(nn.Embedding(10, 8), nn.LayerNorm(8), nn.Linear(8, 10))
decay_group, no_decay_group = parameter_groups(toy, weight_decay=0.1)
print(f"a toy nn.Sequential: {len(decay_group['params'])} decayed tensor, {len(no_decay_group['params'])} not decayed")
assert [p.shape for p in decay_group["params"]] == [torch.Size([10, 8])]

# %% [markdown]
# ## What you learned
#
# - The sort task becomes next-token prediction by concatenating problem and answer:
#   x = sequence[:-1], y = sequence[1:], and the first length − 1 targets are -1, so a perfect
#   sorter scores 0 instead of 5/11 · ln 3.
# - A test split must be a fixed function of the problem; minGPT's salted `hash` moves about
#   three quarters of its test problems between two processes.
# - minGPT's repeat-boosting rule never fires on its demo task (at most 3 distinct digits,
#   threshold 3); it only acts with a bigger alphabet.
# - The loss is a plain function: its mean runs over the kept positions only, and ignored
#   positions get exactly zero gradient.
# - AdamW decays every parameter in a group by (1 − lr · wd) per step; Linear weights decay
#   under both rules, biases and LayerNorm never, embeddings only under the dim rule, which at
#   GPT-2 size is almost a third of the model.
#
# ## Exercises
#
# Each exercise has [a worked solution](solutions/04_data_loss_optimizer.ipynb), executed and
# checked like the chapter. Where the answer is code or a number, a checker says whether it is right and, if not,
# what is wrong: `from mingpt_lite.exercises import check; check("N.k", my_attempt)`.
#
# ### Exercise 4.1 (implement): inputs and targets of the sort task
#
# Write `my_examples(digits)` that takes problems `digits` of shape (N, length) and returns
# `(x, y)`, each (N, 2 · length − 1): problem and sorted answer concatenated, shifted by one,
# with the targets over the problem set to -1. Work for any length. Check it with
# `from mingpt_lite.exercises import check; check("4.1", my_examples)`.
# [Worked solution](solutions/04_data_loss_optimizer.ipynb).
#
# ### Exercise 4.2 (implement): minGPT's weight-decay groups
#
# Write `my_groups(model)` that returns `(decay, no_decay)`, two lists of parameters, by
# minGPT's rule: only the weights of Linear layers decay; biases, LayerNorm and Embedding
# parameters do not; a tensor shared by a Linear and an Embedding (a tied head) is not decayed;
# every parameter lands in exactly one list. Check it with `check("4.2", my_groups)`; the
# checker tries an untied gpt-nano, a small `nn.Sequential` and a tied gpt-nano.
# [Worked solution](solutions/04_data_loss_optimizer.ipynb).
#
# ### Exercise 4.3 (predict): a row that is never looked up
#
# Under AdamW with a constant learning rate of 6e-4 and weight decay 0.1, what fraction of its
# norm does an embedding row whose token never appears keep after 10,000 steps? Predict the
# number, give it to `check("4.3", my_prediction)`, then run `unseen_row_norm`'s experiment
# for 10,000 steps and compare.
# [Worked solution](solutions/04_data_loss_optimizer.ipynb).
#
# ### Exercise 4.4 (explain): a fixed hash seed
#
# Run `MINGPT_TEST_SPLIT` with `PYTHONHASHSEED=0` in two processes. Why does that make
# minGPT's split reproducible on your machine, and why is setting an environment variable a
# fragile fix? Back your answer with the splits of a few seeds and of two pickle protocols.
# [Worked solution](solutions/04_data_loss_optimizer.ipynb).
