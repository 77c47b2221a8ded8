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
# # Solutions to chapter 1: Attention
#
# Worked solutions to the exercises of [chapter 01](../01_attention.ipynb). Every code answer
# asserts itself, including passing its checker; the explain question gets a model answer
# backed by numbers computed here. Everything runs in float64 on the CPU in a few seconds.

# %%
import math

import torch

from mingpt_lite import GPT, GPTConfig
from mingpt_lite.exercises import check
from mingpt_lite.notebook import start_chapter

device = start_chapter(seed=0)
generator = torch.Generator().manual_seed(0)

# %% [markdown]
# ## Exercise 1.1
#
# Scores for every (query, key) pair, scaled by $1/\sqrt{D}$; $-\infty$ wherever the key comes
# after the query; a softmax along the keys (the last axis, so each query's row sums to one);
# then the weighted average of the values. `transpose(-2, -1)` and `q.shape[-2:]` make the same
# lines work for (T, D) and for (B, H, T, D).

# %%
def my_attention(q, k, v):
    """Causal scaled dot-product attention: q, k, v (..., T, D) -> (output (..., T, D), weights (..., T, T))."""
    T, D = q.shape[-2:]
    scores = q @ k.transpose(-2, -1) / math.sqrt(D)                        # (..., T, T)
    future = torch.ones(T, T, dtype=torch.bool, device=q.device).triu(diagonal=1)  # key after query
    weights = torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1)
    return weights @ v, weights


q, k, v = (torch.randn(5, 3, generator=generator, dtype=torch.float64) for _ in range(3))
y, w = my_attention(q, k, v)
assert torch.all(w.triu(diagonal=1) == 0) and torch.allclose(w.sum(-1), torch.ones(5, dtype=torch.float64))
assert check("1.1", my_attention)

# %% [markdown]
# ## Exercise 1.2
#
# **Prediction.** One layer with the broken mask lets position 2 read position 3. But position
# 3, in the same layer, read position 4, so after layer 1 the vector at position 3 already
# carries something of token 4; layer 2 lets position 2 read it. Each layer opens one more step,
# so after gpt-nano's 3 layers the logits at position 2 depend on the tokens at 3, 4 and 5, and
# on nothing later.

# %%
prediction = [3, 4, 5]
assert check("1.2", prediction)

# %% [markdown]
# **Confirmation**, by the chapter's gradient test: backpropagate from the logits at position 2
# to the token embeddings and list the later positions whose gradient is not exactly zero.

# %%
def reached_positions(model, idx, t):
    """Positions after t whose token embedding gets a non-zero gradient from the logits at t."""
    captured = {}

    def keep(module, inputs, output):
        output.retain_grad()
        captured["embedding"] = output  # (B, T, C)

    hook = model.token_embedding.register_forward_hook(keep)
    try:
        model(idx)[:, t].sum().backward()
    finally:
        hook.remove()
    grad = captured["embedding"].grad[0].abs().amax(dim=-1)  # (T,)
    return [s for s in range(t + 1, idx.size(1)) if grad[s] > 0]

# %%
config = GPTConfig.from_preset("gpt-nano", vocab_size=10, block_size=12, dropout=0.0, attention="explicit")
model = GPT(config).double().eval()
idx = torch.randint(0, 10, (1, 12), generator=generator)
assert reached_positions(model, idx, t=2) == []  # the real mask: nothing from the future
for block in model.blocks:
    block.attn.causal_mask.copy_(torch.ones(12, 12, dtype=torch.bool).tril(diagonal=1))
model.zero_grad()
reach = reached_positions(model, idx, t=2)
print(f"with the one-step-ahead mask, the logits at position 2 depend on positions {reach}")
assert reach == prediction == list(range(3, 3 + config.n_layer))

# %% [markdown]
# So a mask that is wrong by one diagonal leaks `n_layer` positions, and in a 12-layer model
# twelve. The chapter's own test, which changes only the token at $t + 1$, would catch this mask
# too, but the gradient version shows how far the damage goes.
#
# ## Exercise 1.3
#
# The chapter's same-character head used one-hot characters as queries and keys. Use one-hot
# positions instead: key $s$ is the unit vector $e_s$, and query $t$ is $e_{t-1}$, so the only
# key that matches query $t$ is the previous position. Position 0 has no previous position; the
# mask leaves it only itself.

# %%
text = "the cat sat on the mat"
T = len(text)
keys = torch.eye(T, dtype=torch.float64)             # (T, T): key s is e_s
queries = torch.zeros(T, T, dtype=torch.float64)
queries[1:] = keys[:-1]                              # query t is e_{t-1}, query 0 is 0
sharpness = 12.0
y_prev, weights = my_attention(sharpness * queries, sharpness * keys, keys)
print(f"smallest weight on the previous position: {weights.diagonal(offset=-1).min():.4f}")
assert weights.diagonal(offset=-1).min() > 0.99 and weights[0, 0] == 1
assert check("1.3", weights)

# %% [markdown]
# (`my_attention` divides the scores by $\sqrt{T} = \sqrt{22}$, so the sharpness has to be
# larger than the chapter's 6 to give the matching key more than 99% of each row: the score gap
# is $12^2/\sqrt{22} \approx 31$, and $e^{-31}$ times 21 other keys is negligible.)
#
# ## Exercise 1.4
#
# The chapter's statistics, with a choice of scale: $1/\sqrt{d}$ or $1/d$.

# %%
def softmax_statistics(d, scale, n_queries=1000, n_keys=16):
    """Mean largest weight, mean entropy and the typical spread of the scores, for scores q.k * scale."""
    q_d = torch.randn(n_queries, 1, d, generator=generator, dtype=torch.float64)
    k_d = torch.randn(n_queries, n_keys, d, generator=generator, dtype=torch.float64)
    s = (q_d @ k_d.transpose(1, 2)).squeeze(1) * scale  # (n_queries, n_keys)
    w = torch.softmax(s, dim=-1)
    entropy = -(w * w.log()).sum(dim=-1)
    return w.max(dim=-1).values.mean().item(), entropy.mean().item(), s.std().item()


print(f"{'d':>5s}  {'max weight':>21s}  {'entropy (nats)':>21s}  {'score std':>19s}")
print(f"{'':5s}  {'1/sqrt(d)':>10s} {'1/d':>10s}  {'1/sqrt(d)':>10s} {'1/d':>10s}  {'1/sqrt(d)':>9s} {'1/d':>9s}")
results = {}
for d in (2, 8, 64, 1024):
    results[d] = (softmax_statistics(d, 1 / math.sqrt(d)), softmax_statistics(d, 1 / d))
    (m1, e1, s1), (m2, e2, s2) = results[d]
    print(f"{d:5d}  {m1:10.3f} {m2:10.3f}  {e1:10.3f} {e2:10.3f}  {s1:9.2f} {s2:9.3f}")

sqrt_scaled, d_scaled = results[1024]
assert d_scaled[0] < 1 / 16 * 1.1 and d_scaled[1] > math.log(16) - 0.01   # uniform at d = 1024
assert abs(sqrt_scaled[2] - 1) < 0.1 and abs(d_scaled[2] * math.sqrt(1024) - 1) < 0.1  # std 1 vs 1/sqrt(d)
assert all(r[0][0] > 0.15 for r in results.values())   # 1/sqrt(d): a real choice at every d (uniform is 0.0625)
assert all(b[1][1] > a[1][1] for a, b in zip(results.values(), list(results.values())[1:]))  # 1/d: flatter as d grows

# %% [markdown]
# **Model answer.** With scores divided by $d$, the variance of $q\cdot k$ (which is $d$) becomes
# $d/d^2 = 1/d$: at $d = 1024$ the scores of the 16 keys differ by about $1/\sqrt{1024} = 0.03$
# (measured above), the softmax of nearly equal numbers is nearly uniform, the largest weight is
# about $1/16$ and the entropy is $\ln 16 \approx 2.77$, the maximum. The head can no longer
# choose: whatever its queries and keys say, it averages all the positions it may see. That is
# the mirror image of no scaling, where the softmax is nearly one-hot and chooses by noise; in
# both cases the weights stop depending on how well a query matches a key. To escape, training
# would have to grow the queries and keys by a factor $\sqrt{d}$, and the gradient that could do
# it is itself small: $\partial s/\partial q = k/d$ has size $\sqrt{d}/d = 1/\sqrt{d}$, against
# 1 with the $\sqrt{d}$ scale. Only $1/\sqrt{d}$ keeps the scores at unit spread for every head
# size, which is why the spread column of the table reads 1 for it at every $d$.
