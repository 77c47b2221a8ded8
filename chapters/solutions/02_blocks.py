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
# # Solutions to chapter 2: Pre-LN blocks and the whole GPT
#
# Worked solutions to the exercises of [chapter 02](../02_blocks.ipynb). Every code answer
# asserts itself, including passing its checker; the explain question gets a model answer
# backed by numbers computed here. Everything runs in float64 on the CPU in a few seconds.

# %%
import dataclasses

import torch

from mingpt_lite import GPT, GPTConfig
from mingpt_lite.blocks import Block
from mingpt_lite.exercises import check
from mingpt_lite.notebook import start_chapter

device = start_chapter(seed=0)
generator = torch.Generator().manual_seed(0)

# %% [markdown]
# ## Exercise 2.1
#
# Mean and variance over the last axis only, kept as (..., 1) so they broadcast back over the
# channels; the variance divides by $C$ (`unbiased=False`); $\epsilon$ goes inside the square root.

# %%
def my_layer_norm(x, weight, bias, eps=1e-5):
    """LayerNorm over the last axis of x (..., C), then the gain `weight` and the shift `bias` (C,)."""
    mean = x.mean(dim=-1, keepdim=True)                # (..., 1)
    var = x.var(dim=-1, keepdim=True, unbiased=False)  # (..., 1), divided by C
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


x = torch.randn(3, 4, 8, generator=generator, dtype=torch.float64)
reference = torch.nn.LayerNorm(8).double()
torch.testing.assert_close(my_layer_norm(x, reference.weight, reference.bias), reference(x), rtol=0, atol=1e-12)
assert check("2.1", my_layer_norm)

# %% [markdown]
# ## Exercise 2.2
#
# Per block: attention holds $3C^2 + C^2$ weights and, with biases, $3C + C$ biases; the MLP
# $4C^2 + 4C^2$ weights and $4C + C$ biases; the two LayerNorms $C$ gains each, plus $C$ shifts
# each with biases. Outside the blocks: the two embeddings, the final LayerNorm, and the head
# unless it is the embedding's own tensor.

# %%
def my_count(vocab_size, block_size, n_layer, n_embd, bias=True, tie_weights=False):
    """Distinct parameters of a mingpt_lite GPT, head included (a tied head shares the embedding)."""
    C = n_embd
    norm = C + (C if bias else 0)                      # gain, and shift when bias=True
    attention = 4 * C * C + (4 * C if bias else 0)     # qkv (C -> 3C) and residual_proj (C -> C)
    mlp = 8 * C * C + (5 * C if bias else 0)           # expand (C -> 4C) and residual_proj (4C -> C)
    block = 2 * norm + attention + mlp
    head = 0 if tie_weights else vocab_size * C
    return (vocab_size + block_size) * C + n_layer * block + norm + head


for bias in (True, False):
    for tie in (False, True):
        config = GPTConfig(vocab_size=65, block_size=32, n_layer=2, n_head=4, n_embd=32, bias=bias, tie_weights=tie)
        assert my_count(65, 32, 2, 32, bias, tie) == GPT(config).num_parameters(include_head=True)
print(f"GPT-2 untied with biases: {my_count(50257, 1024, 12, 768):,}; "
      f"tied (as GPT-2 ships): {my_count(50257, 1024, 12, 768, tie_weights=True):,}")
assert my_count(50257, 1024, 12, 768, tie_weights=True) == 124_439_808  # minGPT's own gpt2 count (it prints 124.44M)
assert check("2.2", my_count)

# %% [markdown]
# The tied GPT-2 count is exactly minGPT's own count for `gpt2` without its head (it prints it
# rounded, `number of parameters: 124.44M`): with a
# tied head, "without the head" and "with the head" are the same number.
#
# ## Exercise 2.3
#
# **Prediction.** Twelve blocks of $12C^2 + 13C$ against one embedding of $50257\,C$:
#
# $$12\,(12C^2 + 13C) > 50257\,C \iff 144\,C + 156 > 50257 \iff C > 347.9,$$
#
# so the smallest width is $C = 348$. The blocks grow with $C^2$ and the embedding only with
# $C$, so past that width the blocks win for good. (Leaving out the $13C$ of biases and
# LayerNorms gives 350; comparing with the embedding *and* the untied head gives 697.)

# %%
def block_parameters(n_embd):
    """Parameters of one real mingpt_lite Block of this width (n_head=1 divides every width)."""
    config = GPTConfig(vocab_size=16, block_size=8, n_layer=12, n_head=1, n_embd=n_embd)
    return sum(p.numel() for p in Block(config).parameters())


for C in (347, 348):
    blocks, embedding = 12 * block_parameters(C), 50257 * C
    print(f"n_embd={C}: 12 blocks {blocks:,}  token embedding {embedding:,}  blocks larger: {blocks > embedding}")
assert 12 * block_parameters(347) <= 50257 * 347 and 12 * block_parameters(348) > 50257 * 348
assert check("2.3", 348)

# %% [markdown]
# ## Exercise 2.4
#
# 24 blocks of each kind, every one with its own jiggled weights (the chapter's `jiggle`:
# noise of 0.1 on every parameter, so gains are near 1 and shifts near 0), the same input, and
# the mean norm of a position's vector after each block. The weights are random, so we repeat
# it for five seeds and show the first in full.

# %%
torch.set_num_threads(1)  # 480 sublayers on (2, 5, 8) tensors: a second thread would only wait
small = GPTConfig(vocab_size=16, block_size=8, n_layer=8, n_head=2, n_embd=8, dropout=0.0)


def stream_sizes(norm, seed, depth=24):
    """Mean norm of a position's vector: at the input, then after each of `depth` jiggled blocks."""
    torch.manual_seed(seed)  # Block() draws its initial weights from the global generator
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 5, 8, generator=g, dtype=torch.float64)
    sizes = [x.norm(dim=-1).mean().item()]
    for _ in range(depth):
        block = Block(dataclasses.replace(small, norm=norm)).double().eval()
        with torch.no_grad():
            for p in block.parameters():
                p.add_(0.1 * torch.randn(p.shape, generator=g, dtype=p.dtype))
            x = block(x)
        sizes.append(x.norm(dim=-1).mean().item())
    return sizes

# %%
seeds = range(5)
runs = {(norm, seed): stream_sizes(norm, seed) for norm in ("pre", "post") for seed in seeds}
shown = range(0, 25, 3)  # the input, then every third block
print("seed 0, after block: " + " ".join(f"{i:6d}" for i in shown))
for norm in ("pre", "post"):
    print(f"{norm + '-LN':20s} " + " ".join(f"{runs[norm, 0][i]:6.2f}" for i in shown))

# %%
growth = [runs["pre", s][-1] / runs["pre", s][0] for s in seeds]   # last / input
post_sizes = [v for s in seeds for v in runs["post", s][1:]]       # after every block
print(f"over {len(seeds)} seeds: pre-LN stream grew {min(growth):.1f}x to {max(growth):.1f}x in 24 blocks; "
      f"post-LN stream stayed between {min(post_sizes):.2f} and {max(post_sizes):.2f} (sqrt(8) = {8 ** 0.5:.2f})")
assert min(growth) > 2
assert all(abs(v / 8 ** 0.5 - 1) < 0.2 for v in post_sizes)

# %% [markdown]
# **Model answer.** In the post-LN stack the last thing every block does is a LayerNorm *on the
# stream*, so whatever came in, each position leaves with mean 0 and variance 1 over its 8
# channels (then a gain near 1 and a shift near 0): its norm is pinned near $\sqrt{C} =
# \sqrt 8 \approx 2.83$ after every block, within 20% for every seed above. In the pre-LN stack
# nothing ever normalises the stream itself: each sublayer reads a normalised *copy* and *adds*
# its output, so the stream is the input plus 48 updates, and its norm grows with depth (not at
# every single block, since an update can point against the stream, but by a factor of 2 or
# more over 24 blocks for each of the five seeds; with only eight blocks one seed in ten grew
# by just 1.1x, so the depth matters for seeing it reliably). The growth is the price of the clean identity path.
# That is why a pre-LN GPT needs one more LayerNorm between the last block and the head: the
# head would otherwise see vectors whose scale depends on the depth and on training, while a
# post-LN stream arrives already normalised (the 2017 Transformer and GPT-1, both post-LN, have
# no final LayerNorm).
