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
# # Solutions to chapter 13: From minGPT to a modern GPT
#
# Each solution runs, asserts its answer, and passes the exercise's checker where there is one.
# [Back to the chapter](../13_modern_gpt.ipynb).

# %%
import torch

from mingpt_lite import GPT, GPTConfig
from mingpt_lite.attention import apply_rotary
from mingpt_lite.exercises import check
from mingpt_lite.notebook import start_chapter

device = start_chapter(seed=0)

# %% [markdown]
# ## Exercise 13.1
#
# The mean of the squares over the last dimension (keeping it, to broadcast), plus eps, its
# square root, divide, then scale. No mean is subtracted and there is no bias.

# %%
def my_rms_norm(x, weight, eps):
    return x / torch.sqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps) * weight

assert check("13.1", my_rms_norm)

# %% [markdown]
# ## Exercise 13.2
#
# With $a = x_j$, $b = x_{j+D/2}$ and the angle $\phi = m\,\theta_j$, the rotated pair is
# $(a\cos\phi - b\sin\phi,\; a\sin\phi + b\cos\phi)$.

# %%
def my_rotate(x, positions, base=10000.0):
    D = x.size(-1)
    theta = base ** (-torch.arange(0, D, 2, dtype=torch.float64) / D)       # (D/2,)
    angle = positions.double()[:, None] * theta                             # (T, D/2)
    a, b = x[..., : D // 2], x[..., D // 2 :]
    cos, sin = angle.cos().to(x.dtype), angle.sin().to(x.dtype)
    return torch.cat([a * cos - b * sin, a * sin + b * cos], dim=-1)

q, k = torch.randn(16, dtype=torch.float64), torch.randn(16, dtype=torch.float64)
pos = torch.arange(20)
scores = my_rotate(q.expand(20, 16), pos) @ my_rotate(k.expand(20, 16), pos).T
for d in range(20):
    diagonal = torch.diagonal(scores, -d)
    assert torch.allclose(diagonal, diagonal[0].expand_as(diagonal))          # constant at each distance
assert check("13.2", my_rotate)

# %% [markdown]
# ## Exercise 13.3
#
# The only parameters that depend on positions are the learned table, one (block_size, n_embd)
# matrix for the whole model: 64 × 128 = 8,192. The rotation's cos/sin tables are buffers
# computed from the positions, not learned.

# %%
sizes = dict(vocab_size=65, block_size=64, n_layer=4, n_head=4, n_embd=128, dropout=0.0)
my_number = GPT(GPTConfig(**sizes)).num_parameters(include_head=True) - \
    GPT(GPTConfig(**sizes, position="rotary")).num_parameters(include_head=True)
print(my_number)
assert my_number == 64 * 128
assert check("13.3", my_number)

# %% [markdown]
# ## Exercise 13.4
#
# A score is $\langle R_m q, R_n k\rangle = \langle q, R_{n-m} k\rangle$: the two rotations
# combine into one by the difference of the angles. Adding the same $s$ to both positions
# leaves $n - m$, and so every score, unchanged; and nothing else in a rotary model sees
# positions (there is no table added to the embeddings). So keys cached at their absolute
# positions stay valid however far the sequence has moved, which is what lets rotary models
# keep a sliding cache. A learned table gives no such guarantee: the vector added at
# position $m + s$ has no fixed relation to the one at $m$, and nothing exists past
# `block_size`. (Whether the model's *predictions* stay good at distances it never saw in
# training is a separate question.) The check, on a layer of a rotary model:

# %%
torch.manual_seed(0)
model = GPT(GPTConfig(**{**sizes, "block_size": 64}, position="rotary", normalization="rmsnorm",
                      qk_norm=True, bias=False)).double().eval()
attn = model.blocks[0].attn
h = model.blocks[0].norm1(model.token_embedding(torch.randint(0, 65, (1, 16))))
q, k, _ = attn.qkv(h).split(128, dim=2)
q = attn.q_norm(q.view(1, 16, 4, 32).transpose(1, 2))
k = attn.k_norm(k.view(1, 16, 4, 32).transpose(1, 2))

def scores_at(start):
    cos, sin = attn.rotary_cos[start : start + 16].double(), attn.rotary_sin[start : start + 16].double()
    return apply_rotary(q, cos, sin) @ apply_rotary(k, cos, sin).transpose(-2, -1)

shift_gap = (scores_at(40) - scores_at(0)).abs().max().item()
print(f"largest change of any score when every position moves by 40: {shift_gap:.1e}")
assert shift_gap < 1e-5
