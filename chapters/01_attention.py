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
# # 1. Attention
#
# **The question:** how does one position of a sequence use the others, and how do we
# know it never peeks at the future?
#
# A GPT reads a sequence of tokens and, at every position, guesses the next one. Each
# position carries a vector, and the only place where one position learns anything about
# another is **attention**. Everything else in the model (LayerNorm, the MLP, the
# embeddings) works on one position at a time.
#
# The form used here, scaled dot-product attention with several heads, comes from the
# Transformer paper ([Vaswani et al. 2017, "Attention Is All You
# Need"](https://arxiv.org/abs/1706.03762), section 3.2), and GPT uses it unchanged; our code
# follows the `CausalSelfAttention` of [minGPT](https://github.com/karpathy/minGPT)
# (`mingpt/model.py`). [The Annotated Transformer](https://nlp.seas.harvard.edu/annotated-transformer/)
# walks through the same paper line by line, if you want a second telling.
#
# Attention is a weighted average. Position $t$ looks at the vectors of the positions it
# is allowed to see, decides how much each one matters to it, and takes the average of
# what they offer with those weights. This chapter builds that idea up from a plain
# Python loop to the batched, multi-head, masked form that `mingpt_lite` uses, and proves
# at each step that the faster form computes the same numbers as the slower one:
#
# 1. a weighted average written as a loop, then as two matrix products;
# 2. why the scores are divided by $\sqrt{d}$;
# 3. the causal mask, which keeps a position from reading the future;
# 4. several heads side by side;
# 5. pictures of attention weights;
# 6. the chapter's function against `mingpt_lite` and PyTorch's fused kernel, and the
#    future-leak test on the whole model.
#
# Nothing here trains. Where we compare two implementations we work in float64 on the
# CPU, so the tolerances can be tight enough to catch a real mistake.

# %% [markdown]
# ## What you need from earlier chapters
#
# Only the preface's `start_chapter` (seeds and device). This is the first chapter that builds
# something, so it borrows twice from the next one, and says so where it happens: `GPTConfig`
# (the model's settings, from chapter 02's `mingpt_lite.config`) to size an attention layer, and
# `GPT` (the whole model, built in chapter 02) in sections 6 and 7, used only as a closed box that
# turns token ids into logits with our attention inside every block.

# %%
import math

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from mingpt_lite import GPT, GPTConfig  # both built in chapter 02; used here as described above
from mingpt_lite.attention import CausalSelfAttention, explicit_attention
from mingpt_lite.notebook import start_chapter

device = start_chapter(seed=0)
generator = torch.Generator().manual_seed(0)  # every random tensor below comes from here

# %% [markdown]
# ## 1. A weighted average, written as a loop
#
# Take a toy sequence of $T = 6$ positions, each a vector of $C = 8$ numbers. In a real
# model these would be token embeddings; here they are random.
#
# Every position plays three roles, each through its own linear map:
#
# - a **query** $q_t$: what position $t$ is looking for;
# - a **key** $k_s$: what position $s$ has to offer, to be matched against queries;
# - a **value** $v_s$: what position $s$ hands over if it is chosen.
#
# The match between $t$ and $s$ is the dot product $q_t \cdot k_s$, a *score*. A softmax
# over $s$ turns the scores into weights that are positive and sum to one, and the output
# at $t$ is the weighted average of the values:
#
# $$y_t = \sum_s w_{ts}\, v_s, \qquad w_{ts} = \frac{\exp(q_t\cdot k_s)}{\sum_{s'} \exp(q_t \cdot k_{s'})}.$$
#
# The whole computation, with this section's sizes ($T = 6$ positions, $C = 8$ input channels,
# queries, keys and values of width $D = 4$), fits in one picture. The scores in it are
# already divided by $\sqrt{D}$, which section 3 explains; the numbers are made up for the drawing.
#
# ![x of shape (6, 8) is multiplied by three (8, 4) matrices to give q, k and v, each (6, 4); q times k transposed, divided by the square root of D, gives a (6, 6) matrix of scores; a softmax along each row turns them into weights whose rows sum to one; the weights times v give y, of shape (6, 4), each row a weighted average of the rows of v](figures/01_attention_weighted_average.svg)

# %%
T, C, D = 6, 8, 4  # positions, input channels, query/key/value size
x = torch.randn(T, C, generator=generator, dtype=torch.float64)    # (T, C)
w_query = torch.randn(C, D, generator=generator, dtype=torch.float64) / math.sqrt(C)
w_key = torch.randn(C, D, generator=generator, dtype=torch.float64) / math.sqrt(C)
w_value = torch.randn(C, D, generator=generator, dtype=torch.float64) / math.sqrt(C)
q, k, v = x @ w_query, x @ w_key, x @ w_value                      # each (T, D)
assert q.shape == k.shape == v.shape == (T, D)


# %%
def attend_loop(q, k, v):
    """Weighted average, one position and one term at a time. q, k, v: (T, D) -> (T, D)."""
    T = q.size(0)
    out = torch.zeros_like(v)
    for t in range(T):
        scores = torch.stack([q[t] @ k[s] for s in range(T)])  # (T,) how well each s matches t
        weights = torch.softmax(scores, dim=0)                # (T,) positive, sums to 1
        for s in range(T):
            out[t] += weights[s] * v[s]
    return out


y_loop = attend_loop(q, k, v)
print(y_loop.shape)

# %% [markdown]
# ## 2. The same computation as matrices
#
# All $T \times T$ scores at once are one matrix product, $S = Q K^\top$: row $t$ holds
# query $t$'s score against every key. A softmax along each row gives the weight matrix
# $W$, and $Y = W V$ takes all the weighted averages at once. Two matrix products and a
# softmax replace $T^2$ Python steps, and they batch over any leading dimensions for free.

# %%
scores = q @ k.T                         # (T, T): scores[t, s] = q_t . k_s
weights = torch.softmax(scores, dim=-1)  # (T, T): each row sums to 1
y_matrix = weights @ v                   # (T, D)

torch.testing.assert_close(y_matrix, y_loop, rtol=0, atol=1e-12)
torch.testing.assert_close(weights.sum(dim=-1), torch.ones(T, dtype=torch.float64))
print("loop and matrix form agree to 1e-12")

# %% [markdown]
# ## 3. Why the scores are divided by $\sqrt{d}$
#
# If the entries of $q$ and $k$ are independent with mean 0 and variance 1, their dot
# product is a sum of $d$ terms of variance 1, so its variance is $d$ and its typical size
# $\sqrt{d}$. The bigger the head, the further apart the scores of different keys, and the
# softmax (which exponentiates them) then puts nearly all the weight on the single largest
# score. Two things go wrong in that regime:
#
# - the average stops being an average: each position copies one other position,
#   chosen by noise at initialisation;
# - the softmax's gradient, $\mathrm{diag}(w) - w w^\top$, is almost zero when $w$ is
#   nearly one-hot, so the scores barely learn.
#
# Dividing the scores by $\sqrt{d}$ brings their variance back to 1 whatever the head size.
# This is the "scaled" in the Transformer paper's "scaled dot-product attention"; its footnote 4
# gives the same variance argument ([Vaswani et al. 2017](https://arxiv.org/abs/1706.03762),
# section 3.2.1). First the variance itself:

# %%
for d in (4, 64, 1024):
    q_d = torch.randn(10_000, d, generator=generator)
    k_d = torch.randn(10_000, d, generator=generator)
    dots = (q_d * k_d).sum(dim=-1)  # 10,000 independent dot products
    print(f"d={d:5d}  var(q.k)={dots.var():8.1f}  var(q.k/sqrt(d))={(dots / math.sqrt(d)).var():.2f}")
    assert abs(dots.var() / d - 1) < 0.1 and abs((dots / math.sqrt(d)).var() - 1) < 0.1

# %% [markdown]
# Now the softmax itself. For each head size $d$, one query scores 16 random keys; we
# average over 1,000 such queries the largest weight (1/16 would be a uniform average,
# 1 a hard choice) and the entropy of the weights ($\ln 16 \approx 2.77$ for uniform,
# 0 for a hard choice), once with raw scores and once with scaled ones. We also measure
# the size of the softmax's Jacobian, which is what the gradient has to pass through.

# %%
def softmax_statistics(d, scaled, n_queries=1000, n_keys=16):
    """Mean max weight, mean entropy and mean Jacobian norm of softmax(q.k [/ sqrt(d)])."""
    q_d = torch.randn(n_queries, 1, d, generator=generator)
    k_d = torch.randn(n_queries, n_keys, d, generator=generator)
    s = (q_d @ k_d.transpose(1, 2)).squeeze(1)  # (n_queries, n_keys)
    if scaled:
        s = s / math.sqrt(d)
    w = torch.softmax(s, dim=-1)
    entropy = -(w * w.clamp_min(1e-30).log()).sum(dim=-1)
    jacobian = torch.diag_embed(w) - w.unsqueeze(2) * w.unsqueeze(1)  # (n_queries, n_keys, n_keys)
    return w.max(dim=-1).values.mean().item(), entropy.mean().item(), jacobian.norm(dim=(1, 2)).mean().item()


head_sizes = [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
raw = [softmax_statistics(d, scaled=False) for d in head_sizes]
scaled = [softmax_statistics(d, scaled=True) for d in head_sizes]
for d, r, s in zip(head_sizes[::3], raw[::3], scaled[::3]):
    print(f"d={d:5d}  max weight raw {r[0]:.3f} scaled {s[0]:.3f}   "
          f"entropy raw {r[1]:.3f} scaled {s[1]:.3f}   |jacobian| raw {r[2]:.3f} scaled {s[2]:.3f}")

# %%
fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(10, 3.2))
ax1.plot(head_sizes, [r[0] for r in raw], "o-", label="q·k")
ax1.plot(head_sizes, [s[0] for s in scaled], "o-", label="q·k / √d")
ax1.axhline(1 / 16, color="gray", ls=":", label="uniform (1/16)")
ax1.set(xscale="log", xlabel="head size d", ylabel="largest weight", ylim=(0, 1.02))
ax1.legend(fontsize=8)
ax2.plot(head_sizes, [r[1] for r in raw], "o-", label="q·k")
ax2.plot(head_sizes, [s[1] for s in scaled], "o-", label="q·k / √d")
ax2.axhline(math.log(16), color="gray", ls=":", label="uniform (ln 16)")
ax2.set(xscale="log", xlabel="head size d", ylabel="entropy of the weights (nats)", ylim=(0, 3))
ax2.legend(fontsize=8)
ax3.plot(head_sizes, [r[2] for r in raw], "o-", label="q·k")
ax3.plot(head_sizes, [s[2] for s in scaled], "o-", label="q·k / √d")
ax3.set(xscale="log", xlabel="head size d", ylabel="norm of the softmax Jacobian", ylim=(0, 0.4))
ax3.legend(fontsize=8)
fig.suptitle("Softmax over 16 random keys: raw scores saturate as d grows")
fig.tight_layout()
plt.show()

# %% [markdown]
# Without scaling, the largest weight climbs towards 1 and the entropy falls towards 0 as
# the head grows: the softmax is saturating. With scaling, both stay flat at every size.
# The right panel shows the price of saturation: every gradient that flows back into the
# scores is multiplied by the softmax's Jacobian, and without scaling its size shrinks as
# $d$ grows, to about a fifth of the scaled softmax's at $d = 1024$. The assertions pin all
# three curves down.

# %%
raw_max, raw_entropy, raw_jac = zip(*raw)
scaled_max, scaled_entropy, scaled_jac = zip(*scaled)
assert all(b > a for a, b in zip(raw_max, raw_max[1:]))      # saturates steadily with d
assert raw_max[-1] > 0.9 and raw_entropy[-1] < 0.25          # nearly one-hot at d = 1024
assert max(scaled_max) < 0.3                                 # scaled: still a real average
assert max(scaled_entropy) - min(scaled_entropy) < 0.1       # ...and the same at every d
assert raw_jac[-1] < scaled_jac[-1] / 4                      # saturated softmax: small gradient

# %% [markdown]
# From now on the scores are always $q\cdot k / \sqrt{d}$. (GPT-2 and
# [minGPT](https://github.com/karpathy/minGPT) use exactly this scale; PyTorch's
# [`scaled_dot_product_attention`](https://pytorch.org/docs/stable/generated/torch.nn.functional.scaled_dot_product_attention.html)
# uses it by default.)
#
# ## 4. The causal mask
#
# A language model is trained to predict token $t+1$ from tokens $0..t$, at every position
# of the sequence at once. If position $t$ could attend to position $t+1$, it could simply
# read the answer, the training loss would drop to nothing, and the model would be useless
# at generation time, when the future does not exist yet. So position $t$ may only attend
# to positions $s \le t$.
#
# In the loop this is just a shorter inner range:

# %%
def causal_attend_loop(q, k, v):
    """Scaled weighted average over the past and present only. q, k, v: (T, D) -> (T, D)."""
    T, D = q.shape
    out = torch.zeros_like(v)
    for t in range(T):
        scores = torch.stack([q[t] @ k[s] / math.sqrt(D) for s in range(t + 1)])  # (t+1,)
        weights = torch.softmax(scores, dim=0)
        for s in range(t + 1):
            out[t] += weights[s] * v[s]
    return out


# %% [markdown]
# In the matrix form we still compute every score, then overwrite the ones above the
# diagonal (key after query) with $-\infty$ *before* the softmax. Since $e^{-\infty} = 0$,
# those weights come out exactly zero and the remaining ones are renormalised to sum to
# one, which is precisely the loop over $s \le t$. (Zeroing weights *after* the softmax
# would leave rows that no longer sum to one.)
#
# ![The (6, 6) score matrix; every entry above the diagonal, where the key position s is later than the query position t, is replaced by minus infinity; after the row-wise softmax those entries are exactly 0, row 0 puts all its weight on itself and row 5 spreads it over all six positions](figures/01_causal_mask.svg)

# %%
def attend(q, k, v, causal=True):
    """Scaled dot-product attention, matrix form. q, k, v: (..., T, D) -> ((..., T, D), weights (..., T, T))."""
    T, D = q.shape[-2:]
    scores = q @ k.transpose(-2, -1) / math.sqrt(D)                 # (..., T, T)
    if causal:
        allowed = torch.ones(T, T, dtype=torch.bool, device=q.device).tril()  # row t: True for s <= t
        scores = scores.masked_fill(~allowed, float("-inf"))
    weights = torch.softmax(scores, dim=-1)                         # (..., T, T)
    return weights @ v, weights                                     # (..., T, D)


y_causal, w_causal = attend(q, k, v)
torch.testing.assert_close(y_causal, causal_attend_loop(q, k, v), rtol=0, atol=1e-12)
assert torch.all(w_causal.triu(diagonal=1) == 0)      # nothing above the diagonal, exactly
assert torch.all(w_causal[0, 0] == 1)                # position 0 can only look at itself
torch.testing.assert_close(w_causal.sum(-1), torch.ones(T, dtype=torch.float64))
print(w_causal.numpy().round(2))

# %% [markdown]
# The printed weights are lower-triangular: row $t$ spreads its attention over columns
# $0..t$. Our `attend` is, line for line, what `mingpt_lite.attention.explicit_attention`
# does, and both equal PyTorch's fused
# [`F.scaled_dot_product_attention(..., is_causal=True)`](https://pytorch.org/docs/stable/generated/torch.nn.functional.scaled_dot_product_attention.html),
# which on the kernels that support it never builds the $T\times T$ matrix in memory (the
# FlashAttention idea, [Dao et al. 2022](https://arxiv.org/abs/2205.14135)):

# %%
qb, kb, vb = (torch.randn(2, 3, 10, 16, generator=generator, dtype=torch.float64) for _ in range(3))  # (B, H, T, D)
y_ours, w_ours = attend(qb, kb, vb)
y_pkg, w_pkg = explicit_attention(qb, kb, vb, mask=torch.ones(10, 10, dtype=torch.bool).tril())
y_torch = F.scaled_dot_product_attention(qb, kb, vb, is_causal=True)
torch.testing.assert_close(y_ours, y_pkg, rtol=0, atol=1e-12)
torch.testing.assert_close(w_ours, w_pkg, rtol=0, atol=1e-12)
torch.testing.assert_close(y_ours, y_torch, rtol=0, atol=1e-12)
print("attend == explicit_attention == scaled_dot_product_attention (float64, atol 1e-12)")

# %% [markdown]
# ## 5. Several heads
#
# One softmax per position means one question per position: "which earlier positions
# look like what I want?". A token often needs several answers at once (the previous
# token, the subject of the sentence, the last opening bracket). **Multi-head** attention
# splits the $C$ channels into $H$ groups of $D = C/H$ and runs an independent attention in
# each group, with its own queries, keys and values. The outputs of the heads are laid side
# by side again and mixed by one more linear map, the output projection.
#
# Splitting costs nothing: one linear layer produces queries, keys and values for all heads
# together, a `view` cuts the channel axis into (head, channel), and a `transpose` moves the
# head axis next to the batch axis, so every head becomes just another batch entry of
# `attend`. Merging undoes the two steps. With $B = 2$ sequences, $T = 6$ positions,
# $C = 8$ channels and $H = 2$ heads of $D = 4$, the sizes used below:
#
# ![x of shape (B, T, C) = (2, 6, 8), channels 0-3 in one colour and 4-7 in another, becomes through view and transpose a (2, 2, 6, 4) tensor: for each of the two sequences, head 0 holds channels 0-3 and head 1 channels 4-7 as separate (6, 4) matrices; attention runs on each of the four (T, D) problems; transpose and reshape put the heads side by side again into (2, 6, 8)](figures/01_head_split.svg)

# %%
def split_heads(t, n_head):
    """(B, T, C) -> (B, H, T, D): heads become a batch dimension."""
    B, T, C = t.shape
    return t.view(B, T, n_head, C // n_head).transpose(1, 2)


def merge_heads(t):
    """(B, H, T, D) -> (B, T, H*D): heads side by side again."""
    B, H, T, D = t.shape
    return t.transpose(1, 2).reshape(B, T, H * D)


B, T, C, H = 2, 6, 8, 2
xb = torch.randn(B, T, C, generator=generator, dtype=torch.float64)
assert split_heads(xb, H).shape == (B, H, T, C // H)
assert torch.equal(merge_heads(split_heads(xb, H)), xb)  # a pure rearrangement
assert torch.equal(split_heads(xb, H)[:, 1], xb[..., 4:8])  # head 1 owns channels 4..7

# %% [markdown]
# With the helpers, the whole layer fits in a few lines. The weights are passed in
# explicitly, in `nn.Linear`'s layout (`out_features × in_features`), so we can hand it the
# weights of `mingpt_lite`'s module and compare.

# %%
def causal_self_attention(x, w_qkv, b_qkv, w_out, b_out, n_head):
    """Multi-head causal self-attention: x (B, T, C) -> (y (B, T, C), weights (B, H, T, T))."""
    C = x.size(-1)
    q, k, v = (x @ w_qkv.T + b_qkv).split(C, dim=-1)                  # each (B, T, C)
    q, k, v = (split_heads(t, n_head) for t in (q, k, v))             # each (B, H, T, D)
    y, weights = attend(q, k, v)                                      # (B, H, T, D), (B, H, T, T)
    return merge_heads(y) @ w_out.T + b_out, weights                  # (B, T, C)


# %% [markdown]
# Is batching the heads really the same as running them one by one? Here is the slow
# version: a loop over heads, each attending over its own slice of channels.

# %%
w_qkv = torch.randn(3 * C, C, generator=generator, dtype=torch.float64) / math.sqrt(C)
b_qkv = torch.randn(3 * C, generator=generator, dtype=torch.float64) * 0.1
w_out = torch.randn(C, C, generator=generator, dtype=torch.float64) / math.sqrt(C)
b_out = torch.randn(C, generator=generator, dtype=torch.float64) * 0.1

y_heads, w_heads = causal_self_attention(xb, w_qkv, b_qkv, w_out, b_out, n_head=H)
q_all, k_all, v_all = (xb @ w_qkv.T + b_qkv).split(C, dim=-1)
per_head = []
for h in range(H):
    cols = slice(h * C // H, (h + 1) * C // H)  # this head's channels
    per_head.append(attend(q_all[..., cols], k_all[..., cols], v_all[..., cols])[0])  # (B, T, D)
y_one_by_one = torch.cat(per_head, dim=-1) @ w_out.T + b_out  # (B, T, C)
torch.testing.assert_close(y_heads, y_one_by_one, rtol=0, atol=1e-12)
print("batched heads == one head at a time")

# %% [markdown]
# ### Against `mingpt_lite`
#
# `mingpt_lite.attention.CausalSelfAttention` holds the same two linear maps, named
# `qkv` and `residual_proj` (it writes into the residual stream, which chapter 02 introduces).
# It takes its sizes from a `GPTConfig` (chapter 02's settings object; here we fill in only the
# vocabulary, block size, heads and width). It has two
# paths: `attention="explicit"` writes out scores, mask and softmax like our `attend`, and
# is the one taken whenever `return_weights=True`; `attention="fast"` calls
# `scaled_dot_product_attention`. We copy its weights into our function and ask for
# agreement of outputs and weights, in float64, on both paths. Dropout is set to zero:
# it is random, and it is off at evaluation time anyway.

# %%
config = GPTConfig(vocab_size=16, block_size=T, n_layer=1, n_head=H, n_embd=C, dropout=0.0)
module = CausalSelfAttention(config).double().eval()
with torch.no_grad():  # give the biases non-zero values so they are tested too
    module.qkv.bias.normal_(generator=generator)
    module.residual_proj.bias.normal_(generator=generator)

y_pkg, w_pkg = module(xb, return_weights=True)  # explicit path, (B, T, C) and (B, H, T, T)
y_fast = module(xb)                             # config.attention == "fast": the fused kernel
y_ours, w_ours = causal_self_attention(
    xb, module.qkv.weight, module.qkv.bias, module.residual_proj.weight, module.residual_proj.bias, n_head=H
)
assert w_pkg.shape == (B, H, T, T)
torch.testing.assert_close(y_ours, y_pkg, rtol=0, atol=1e-12)
torch.testing.assert_close(w_ours, w_pkg, rtol=0, atol=1e-12)
torch.testing.assert_close(y_ours, y_fast, rtol=0, atol=1e-12)
print("chapter == CausalSelfAttention (explicit, with weights) == CausalSelfAttention (fast)")

# %% [markdown]
# From here on the book uses `mingpt_lite`'s module. The fast path is the default because
# the fused kernel is quicker and, on GPUs, never stores the $T\times T$ weights; the
# explicit path stays for reading, for `return_weights`, and as the reference in the tests.
#
# ## 6. Looking at attention
#
# A weight matrix is easiest to read as a picture: row $t$ is a query position, column $s$
# a key position, and the colour how much of $t$'s output comes from $s$.
#
# **A head built by hand.** Let every character of a short text be a one-hot vector and use
# it, scaled up, as both query and key. A query then scores high only against keys holding
# the same character, so each position attends to the earlier occurrences of its own
# character (and itself). Trained models learn heads that match on content in this way (the
# ["induction heads"](https://transformer-circuits.pub/2022/in-context-learning-and-induction-heads/index.html)
# of interpretability work, Olsson et al. 2022, look for earlier copies of the current token
# and then attend to whatever followed them).
#
# **A GPT at initialisation.** Here we borrow chapter 02's `GPT`: we only need a freshly built
# model and the weights of its first attention layer, which `return_attention=True` hands back.
# All its weights start small (std 0.02, the initialisation chapter 03 explains), so every score
# is close to zero and the softmax is close to uniform: an untrained GPT's attention is nearly the
# plain average over the prefix, $w_{ts} \approx 1/(t+1)$, the weighted average of section 1
# with all weights equal.

# %%
text = "the cat sat on the mat"
chars = sorted(set(text))
ids = torch.tensor([chars.index(c) for c in text])              # (T,)
one_hot = F.one_hot(ids, len(chars)).double()                   # (T, V)
sharpness = 6.0
_, match_weights = attend(sharpness * one_hot, sharpness * one_hot, one_hot)  # (T, T)

same_char = (ids[:, None] == ids[None, :]).tril()               # (T, T): earlier-or-same, same char
mass_on_matches = (match_weights * same_char).sum(dim=-1)        # (T,)
assert mass_on_matches.min() > 0.999
print(f"smallest share of a row on same-character positions: {mass_on_matches.min():.4f}")

# %%
tiny = GPT(GPTConfig.from_preset("gpt-nano", vocab_size=len(chars), block_size=32, dropout=0.0)).to(device).eval()
with torch.no_grad():
    _, attention = tiny(ids[None].to(device), return_attention=True)  # list over layers of (1, H, T, T)
init_weights = attention[0][0, 0].cpu().double()                      # layer 0, head 0: (T, T)
Tt = len(text)
prefix_mean = torch.ones(Tt, Tt, dtype=torch.float64).tril() / torch.arange(1, Tt + 1)[:, None]
assert len(attention) == tiny.config.n_layer and attention[0].shape == (1, 3, Tt, Tt)
torch.testing.assert_close(init_weights, prefix_mean, rtol=0.1, atol=0)  # within 10% of 1/(t+1)
print(f"largest relative gap to 1/(t+1): {((init_weights - prefix_mean).abs() / prefix_mean.clamp_min(1e-9)).max():.4f}")

# %%
fig, axes = plt.subplots(1, 2, figsize=(8, 4), layout="constrained")
for ax, w, title in [(axes[0], match_weights, "hand-built head: same character"),
                     (axes[1], init_weights, "untrained gpt-nano, layer 0 head 0")]:
    image = ax.imshow(w.numpy(), cmap="viridis", vmin=0, vmax=1)
    labels = [c if c != " " else "_" for c in text]  # "_" marks a space
    ax.set_xticks(range(Tt), labels, fontsize=7)
    ax.set_yticks(range(Tt), labels, fontsize=7)
    ax.set(xlabel="key position s", ylabel="query position t", title=title)
    ax.title.set_fontsize(9)
fig.colorbar(image, ax=axes, shrink=0.8, label="weight")
plt.show()

# %% [markdown]
# On the left, the row of the `t` in "cat" splits its weight between the `t` of "the" and
# itself, and each space (`_`) attends equally to itself and all earlier spaces. On the right, the triangle fades
# from top to bottom as each row's weight is spread over more positions. Both are
# lower-triangular: the mask at work.
#
# ## 7. The future-leak test
#
# The mask is one line of code, and leaving it out breaks nothing visible: the model trains,
# and the training loss even looks wonderful. So we test its consequence on the whole model,
# in two ways.
#
# 1. **Change a future token.** Replace the token at position $t+1$; the logits at positions
#    $0..t$ must not change at all.
# 2. **Follow the gradient.** Take the logits at position $t$ and backpropagate to the token
#    embeddings; the gradient with respect to every embedding after $t$ must be exactly zero.
#
# The second test catches leaks the first could miss by luck. We capture the token
# embeddings with a forward hook on `token_embedding`, so the model itself is untouched.
#
# The test needs a whole model, so we borrow chapter 02's `GPT` once more, as a closed box:
# token ids in, logits out, our attention (with its mask) inside each of its blocks. Its option
# `norm` places the LayerNorm in three different ways, which chapter 02 explains; here it only
# matters that the mask must hold whichever wiring surrounds it, so we test all three, on both
# attention paths.

# %%
def future_leak_report(model, idx, t):
    """For a model in eval mode, return (max change of logits[:, :t+1] when token t+1 changes,
    max |d logits[:, t] / d embedding[:, t+1:]|, max |d logits[:, t] / d embedding[:, :t+1]|)."""
    changed = idx.clone()
    changed[:, t + 1] = (idx[:, t + 1] + 1) % model.config.vocab_size  # a different token at t+1
    with torch.no_grad():
        logit_change = (model(changed)[:, : t + 1] - model(idx)[:, : t + 1]).abs().max().item()

    captured = {}

    def keep_embedding(module, inputs, output):
        output.retain_grad()
        captured["embedding"] = output  # (B, T, C) token embeddings

    hook = model.token_embedding.register_forward_hook(keep_embedding)
    try:
        model(idx)[:, t].sum().backward()  # logits at position t only
    finally:
        hook.remove()
    grad = captured["embedding"].grad  # (B, T, C)
    return logit_change, grad[:, t + 1 :].abs().max().item(), grad[:, : t + 1].abs().max().item()

# %%
idx = torch.randint(0, 10, (2, 12), generator=generator)  # (B, T)
for attention_path in ("fast", "explicit"):
    for norm in ("pre", "post", "notes-bug"):  # the three LayerNorm placements chapter 02 explains
        cfg = GPTConfig.from_preset("gpt-nano", vocab_size=10, block_size=12, dropout=0.0,
                                    attention=attention_path, norm=norm)
        model = GPT(cfg).double().eval()
        for t in (0, 5, 10):
            logit_change, future_grad, past_grad = future_leak_report(model, idx, t)
            assert logit_change == 0.0 and future_grad == 0.0 and past_grad > 0
    print(f"{attention_path:8s} attention, all three norms: past logits unchanged, "
          f"future gradient exactly 0 (t = 0, 5, 10)")

# %% [markdown]
# The assertions demand *exact* zeros, not small numbers: a masked weight is exactly zero,
# so nothing of the future enters the computation at all. (`past_grad > 0` makes sure the
# hook really captured the embeddings, so the test cannot pass by measuring nothing.)
#
# A test is only worth something if it fails when the property is broken. Switch the mask
# off in a copy of the model (every entry of its causal-mask buffer set to True, on the
# explicit path that reads it) and run the same test:

# %%
leaky = GPT(GPTConfig.from_preset("gpt-nano", vocab_size=10, block_size=12, dropout=0.0, attention="explicit"))
leaky = leaky.double().eval()
for block in leaky.blocks:
    block.attn.causal_mask.fill_(True)  # every position may now see every other
logit_change, future_grad, past_grad = future_leak_report(leaky, idx, t=5)
assert logit_change > 0 and future_grad > 0
print(f"leaky model: past logits moved by {logit_change:.2e}, future gradient up to {future_grad:.2e}")

# %% [markdown]
# The leak is found by both halves of the test. `mingpt_lite`'s unit tests repeat the check
# (tests/test_model.py), so a change to the package that opens a leak fails there too.
#
# ## What you learned
#
# - Attention is a weighted average of values; the weights are a softmax of query–key
#   scores. The loop and the matrix form $\mathrm{softmax}(QK^\top/\sqrt{d})\,V$ agree.
# - Dividing by $\sqrt{d}$ keeps the scores at unit variance, so the softmax neither
#   saturates nor kills its own gradient as heads grow.
# - The causal mask sets future scores to $-\infty$ *before* the softmax; the future-leak
#   test (a changed future token, and an exactly zero gradient) proves on the whole model that
#   no position reads ahead, and it fails when the mask is removed.
# - Multi-head attention is a reshape: (B, T, C) → (B, H, T, D), heads become a batch
#   dimension, and the merge undoes it exactly.
# - Our function equals `mingpt_lite`'s `CausalSelfAttention` on both paths and PyTorch's
#   `scaled_dot_product_attention`, to $10^{-12}$ in float64.
#
# ## Exercises
#
# Each exercise has [a worked solution](solutions/01_attention.ipynb). Where the answer is code
# or a number, a checker tells you whether it is right, and if not, what is wrong:
# `from mingpt_lite.exercises import check; check("1.1", my_attention)`.
#
# ### Exercise 1.1 (implement): causal attention from scratch
#
# Without looking back at `attend`, write `my_attention(q, k, v)` for `q`, `k`, `v` of shape
# (..., T, D) that returns the output (..., T, D) of causal scaled dot-product attention (you
# may also return `(output, weights)`). Check it with
# `from mingpt_lite.exercises import check; check("1.1", my_attention)`: the checker runs it
# on one (6, 4) sequence and on a (2, 3, 7, 4) batch, compares with
# `mingpt_lite.attention.explicit_attention`, and names the usual mistakes (a leak of future
# positions, a missing $1/\sqrt{d}$, the softmax over the wrong axis, masking after the softmax,
# code that works only without a batch). [Worked solution](solutions/01_attention.ipynb).
#
# ### Exercise 1.2 (predict): how far does a one-step leak reach?
#
# Break the mask of an explicit-attention gpt-nano (3 layers, `block_size=12`) so that each
# position may also see the *next* one: copy `torch.ones(12, 12, dtype=torch.bool).tril(diagonal=1)`
# into every block's `attn.causal_mask`. Before running anything, predict: the tokens at which
# future positions can change the logits at position 2? Write your answer as a list and call
# `check("1.2", my_list)`. Then confirm it yourself by backpropagating from the logits at
# position 2 to the token embeddings, as `future_leak_report` does, and listing the positions
# with a non-zero gradient. [Worked solution](solutions/01_attention.ipynb).
#
# ### Exercise 1.3 (change): a previous-token head
#
# Change the hand-built head of section 6 so that every position $t \ge 1$ attends to the
# *previous* position $t-1$ instead of to earlier copies of its own character (position 0 can
# only attend to itself). Hint: use one-hot *positions* instead of one-hot characters, and
# shift the queries by one. Pass your (T, T) weights to `check("1.3", weights)`.
# [Worked solution](solutions/01_attention.ipynb).
#
# ### Exercise 1.4 (explain): why $\sqrt{d}$ and not $d$?
#
# Section 3 divides the scores by $\sqrt{d}$. Someone proposes dividing by $d$, "to be safe".
# Change the scale in `softmax_statistics` and measure the largest weight and the entropy for
# $d$ from 2 to 1024. What happens as $d$ grows, why, and why is it just as bad for a model as
# no scaling at all? [Worked solution](solutions/01_attention.ipynb).
