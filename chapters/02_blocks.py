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
# # 2. Pre-LN blocks and the whole GPT
#
# **The question:** what does a whole GPT add around attention, where does the
# LayerNorm go, and where do the parameters sit?
#
# Chapter 01 built the one layer in which positions exchange information. A transformer
# **block** wraps that layer together with three more pieces: a LayerNorm that keeps the
# numbers at a sensible scale, an MLP that works on each position alone, and the
# **residual stream**, the running sum that every layer reads from and adds to. Stack a
# few blocks between an embedding and an output head and you have GPT
# ([Radford et al. 2018](https://cdn.openai.com/research-covers/language-unsupervised/language_understanding_paper.pdf),
# whose blocks are the 2017 Transformer's decoder), and with the LayerNorms moved, GPT-2
# ([Radford et al. 2019](https://cdn.openai.com/better-language-models/language_models_are_unsupervised_multitask_learners.pdf)),
# which minGPT and this package follow.
#
# This chapter writes each piece as a small function, checks it against `mingpt_lite`
# (and PyTorch), and then puts them together:
#
# 1. LayerNorm;
# 2. GELU, in its exact and its tanh form, and why GPT-2's choice matters;
# 3. the MLP;
# 4. the residual stream;
# 5. pre-LN and post-LN blocks side by side, and the block from the author's notes;
# 6. the full GPT;
# 7. counting parameters, by formula and by model, against minGPT's presets.
#
# All comparisons run in float64 on the CPU, where tolerances can be tight.

# %% [markdown]
# ## What you need from earlier chapters
#
# Chapter 01's attention: `explicit_attention` (scores, $1/\sqrt{d}$, mask, softmax, weighted
# sum), the head split (B, T, C) → (B, H, T, D), and `CausalSelfAttention`, which chapter 01
# proved equal to its own function. This chapter uses them unchanged as one of a block's two
# sublayers. The models built here get their initial weights from `mingpt_lite.init`, which
# chapter 03 explains; here the values do not matter, because every comparison overwrites them
# with noise first.

# %%
import dataclasses
import math

import matplotlib.pyplot as plt
import torch
import torch.nn as nn
import torch.nn.functional as F

from mingpt_lite import GPT, GPTConfig, PRESETS
from mingpt_lite.attention import explicit_attention
from mingpt_lite.blocks import MLP, Block
from mingpt_lite.notebook import start_chapter

device = start_chapter(seed=0)
generator = torch.Generator().manual_seed(0)  # every random tensor below comes from here


def jiggle(module, scale=0.1):
    """Add noise to every parameter, so that LayerNorm gains are not all 1 and biases not all 0:
    a comparison can then catch a parameter that was forgotten or used in the wrong place."""
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn(p.shape, generator=generator, dtype=p.dtype))
    return module


# %% [markdown]
# ## 1. LayerNorm
#
# The residual stream is a sum of many contributions, and its scale drifts as layers add
# to it. A layer that receives inputs of unpredictable size is hard to train: a weight that
# suits one scale is wrong for another. **LayerNorm** fixes the scale at the input of each
# sublayer ([Ba et al. 2016](https://arxiv.org/abs/1607.06450)). For every position
# separately, it takes the $C$ channels of that position,
# subtracts their mean, divides by their standard deviation, and then applies a learned
# per-channel gain $\gamma$ and shift $\beta$:
#
# $$\mathrm{LN}(x) = \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}}\,\gamma + \beta,\qquad
# \mu = \frac1C\sum_c x_c,\quad \sigma^2 = \frac1C\sum_c (x_c-\mu)^2 .$$
#
# The statistics come from one position's own channels, never from other positions or
# other sequences in the batch (that is BatchNorm, [Ioffe and Szegedy 2015](https://arxiv.org/abs/1502.03167)).
# So a LayerNorm behaves the same at
# batch size 1, during generation, and cannot leak information across positions.

# %%
def layer_norm(x, weight, bias, eps=1e-5):
    """Normalise each position's C channels to mean 0 and variance 1, then scale and shift. x: (..., C)."""
    mean = x.mean(dim=-1, keepdim=True)                 # (..., 1)
    var = x.var(dim=-1, keepdim=True, unbiased=False)   # (..., 1): divide by C, not C - 1
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


B, T, C = 2, 5, 8
x = 3.0 + 4.0 * torch.randn(B, T, C, generator=generator, dtype=torch.float64)  # off-centre, wide
torch_ln = jiggle(nn.LayerNorm(C).double())
torch.testing.assert_close(layer_norm(x, torch_ln.weight, torch_ln.bias), torch_ln(x), rtol=0, atol=1e-12)

plain = layer_norm(x, torch.ones(C), torch.zeros(C))  # gain 1, shift 0: the bare normalisation
torch.testing.assert_close(plain.mean(-1), torch.zeros(B, T, dtype=torch.float64), rtol=0, atol=1e-12)
torch.testing.assert_close(plain.var(-1, unbiased=False), torch.ones(B, T, dtype=torch.float64), rtol=0, atol=1e-5)
print("layer_norm == nn.LayerNorm; every position now has mean 0 and variance 1 over its channels")

# %% [markdown]
# The variance divides by $C$, not by $C-1$. With PyTorch's default `x.var()` (which
# divides by $C - 1$) the result is off by a factor $\sqrt{(C-1)/C}$, about 6% at $C = 8$:
# small enough to train fine, large enough to break the import of someone else's weights.

# %%
wrong = (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, keepdim=True) + 1e-5)  # unbiased variance
gap = (wrong / plain).mean().item()
assert abs(gap - math.sqrt((C - 1) / C)) < 1e-4
print(f"unbiased variance shrinks every output by the factor {gap:.4f} = sqrt(7/8)")

# %% [markdown]
# ## 2. GELU, exact and tanh
#
# The MLP needs a nonlinearity. GPT uses GELU, $\mathrm{GELU}(x) = x\,\Phi(x)$, where $\Phi$
# is the standard normal's cumulative distribution: a smooth ReLU that lets a little
# negative signal through near zero. The GELU paper
# ([Hendrycks and Gimpel 2016](https://arxiv.org/abs/1606.08415)) also offered a cheaper
# approximation built on tanh instead of the error function, and GPT-2 was trained with that
# approximation:
#
# $$\mathrm{GELU}_{\tanh}(x) = \tfrac12\,x\left(1 + \tanh\!\left[\sqrt{2/\pi}\,\left(x + 0.044715\,x^3\right)\right]\right).$$

# %%
def gelu_exact(x):
    """x * Phi(x), with Phi the standard normal CDF."""
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def gelu_tanh(x):
    """The tanh approximation of GELU that GPT-2 was trained with."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


xs = torch.linspace(-5, 5, 2001, dtype=torch.float64)
torch.testing.assert_close(gelu_exact(xs), F.gelu(xs), rtol=0, atol=1e-12)
torch.testing.assert_close(gelu_tanh(xs), F.gelu(xs, approximate="tanh"), rtol=0, atol=1e-12)
difference = gelu_tanh(xs) - gelu_exact(xs)                                 # (2001,)
worst = xs[difference.abs().argmax()].abs().item()
print(f"largest |tanh - exact| = {difference.abs().max():.2e} at |x| = {worst:.2f}")
assert 1e-4 < difference.abs().max() < 1e-3 and 2 < worst < 3.5

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8, 3.2))
ax1.plot(xs, F.relu(xs), color="gray", ls=":", label="ReLU")
ax1.plot(xs, gelu_exact(xs), label="GELU exact, x·Φ(x)")
ax1.plot(xs, gelu_tanh(xs), ls="--", label="GELU tanh (GPT-2)")
ax1.set(xlim=(-4, 3), ylim=(-0.5, 3), xlabel="x", title="the curves")
ax1.legend(fontsize=8)
ax2.plot(xs, difference * 1e4)
ax2.axhline(0, color="gray", lw=0.5)
ax2.set(xlabel="x", ylabel="tanh − exact  (× 1e-4)", title="their difference")
fig.tight_layout()
plt.show()

# %% [markdown]
# On the left the two curves are indistinguishable; on the right their difference peaks at
# about $5\times10^{-4}$, near $|x| \approx 2.7$, a value that a trained network's
# pre-activations reach routinely (a freshly initialised one, with its weights of std 0.02,
# stays near zero, where the two curves agree far more closely). For training from scratch the
# choice hardly matters ([nanoGPT](https://github.com/karpathy/nanoGPT) uses the exact form). For **importing weights** it does: GPT-2's weights were fitted to
# the function its network computed, tanh GELU included. Load them into a model with the
# exact GELU and every unit of every MLP moves by up to $5\times10^{-4}$; the changes pass
# through all the later layers, and the logits no longer match GPT-2's to the tolerance a
# conversion test needs. Chapter 10 measures this on a GPT-2-sized model. `mingpt_lite`'s
# MLP therefore uses the tanh form:

# %%
small = GPTConfig(vocab_size=16, block_size=8, n_layer=2, n_head=2, n_embd=8, dropout=0.0)
assert isinstance(MLP(small).gelu, nn.GELU) and MLP(small).gelu.approximate == "tanh"

# %% [markdown]
# ## 3. The MLP
#
# Attention moves information between positions; the MLP then processes what each position
# has gathered, one position at a time. It widens the $C$ channels to $4C$, applies GELU,
# and projects back to $C$. The second linear layer is called `residual_proj` in
# `mingpt_lite`, because its output is added into the residual stream (chapter 3 gives
# such layers a smaller initial scale).

# %%
def mlp(x, p):
    """Position-wise MLP with the weights in p: x (..., C) -> (..., 4C) -> GELU -> (..., C)."""
    hidden = gelu_tanh(x @ p["expand.weight"].T + p["expand.bias"])      # (..., 4C)
    return hidden @ p["residual_proj.weight"].T + p["residual_proj.bias"]  # (..., C)


mlp_module = jiggle(MLP(small).double()).eval()
mlp_params = dict(mlp_module.named_parameters())
assert mlp_params["expand.weight"].shape == (4 * 8, 8)  # nn.Linear stores (out, in)
torch.testing.assert_close(mlp(x, mlp_params), mlp_module(x), rtol=0, atol=1e-12)
print("mlp == mingpt_lite.blocks.MLP")

# %% [markdown]
# "Position-wise" is a claim we can check: shuffle the positions of the input, and the
# output is shuffled the same way; no position's result depends on another position.
# (Attention fails this test by design: it is the layer whose output at one position
# depends on the others.)

# %%
shuffle = torch.randperm(T, generator=generator)
torch.testing.assert_close(mlp_module(x[:, shuffle]), mlp_module(x)[:, shuffle], rtol=0, atol=1e-12)
print("MLP(shuffled x) == shuffled MLP(x)")

# %% [markdown]
# ## 4. The residual stream
#
# Think of the model's state as one tensor of shape (B, T, C) that flows from the
# embeddings to the output head: the **residual stream**. A block does not replace it. Each
# sublayer reads a normalised copy of the stream and *adds* its result back:
#
# $$x \leftarrow x + \mathrm{Attn}(\mathrm{LN}_1(x)), \qquad x \leftarrow x + \mathrm{MLP}(\mathrm{LN}_2(x)).$$
#
# After $L$ blocks the stream is the embedding plus the sum of $2L$ updates. Here is the
# whole model drawn that way, with the sizes of the gpt-nano that section 6 builds
# ($V = 10$, $T = 16$, $C = 48$, $L = 3$):
#
# ![gpt-nano as one residual stream: token ids (2, 16) go through the token embedding (10, 48) and are added to the position embedding (16, 48); the stream of shape (2, 16, 48) runs from bottom to top through three blocks; in each block an attention sublayer and an MLP sublayer (48 to 192 to 48) each read the stream through their own LayerNorm and add their result back at a plus node; after the last block a final LayerNorm and the head (C, V) give logits of shape (2, 16, 10)](figures/02_residual_stream.svg)
#
# The idea of adding a layer's output to its input instead of replacing it is the residual
# connection of ResNets ([He et al. 2016](https://arxiv.org/abs/1512.03385)). Two things
# follow. The gradient of the output with respect to the stream always contains the
# identity, so a gradient reaches the first layer without passing through every layer's
# weights. And a block whose sublayers output nothing is exactly the identity: the model
# can start as (almost) the identity and learn to add what helps. We check the second point
# on `mingpt_lite`'s `Block` with both output projections zeroed:

# %%
def zero_outputs(block):
    """Zero the two projections that write into the stream: both sublayers then output exactly 0."""
    with torch.no_grad():
        for proj in (block.attn.residual_proj, block.mlp.residual_proj):
            proj.weight.zero_()
            proj.bias.zero_()
    return block


idle_pre = zero_outputs(jiggle(Block(small).double())).eval()  # small.norm is "pre", the default
assert torch.equal(idle_pre(x), x)  # the stream passes through untouched, bit for bit
print("pre-LN block with silent sublayers == identity")

# %% [markdown]
# ## 5. Where the LayerNorm goes: pre-LN, post-LN, and the notes' block
#
# The 2017 Transformer ([Vaswani et al. 2017](https://arxiv.org/abs/1706.03762)) and GPT put
# the LayerNorm *after* the addition (**post-LN**): it normalises the stream itself after
# every sublayer. GPT-2 moved it *before* the sublayer (**pre-LN**; "layer normalization was
# moved to the input of each sub-block", section 2.3 of
# [Radford et al. 2019](https://cdn.openai.com/better-language-models/language_models_are_unsupervised_multitask_learners.pdf)):
# only the copy that enters the sublayer is normalised, and the stream is left as a clean sum,
# with one last LayerNorm at the very end of the model. The two wirings, with the sizes of the
# comparison below ($x$ of shape (2, 5, 8), an MLP of width $4C = 32$):
#
# ![Two blocks side by side. Pre-LN: the residual stream runs straight up; each sublayer branches off, passes through its LayerNorm (LN1 before attention, LN2 before the MLP) and is added back at a plus node, so the stream is never normalised inside the block. Post-LN: attention reads the stream directly and is added back, then LN1 sits on the stream itself; the MLP likewise, followed by LN2 on the stream](figures/02_pre_vs_post.svg)
#
# We write both with the same four parts, built from this chapter's functions and chapter 01's
# attention (`explicit_attention`, which chapter 01 proved equal to its own):

# %%
def sublayers(p, n_head):
    """The four parts of a block, as functions of the stream, using the weights in p (a Block's parameters)."""

    def attn(x):  # (B, T, C) -> (B, T, C), chapter 1
        B, T, C = x.shape
        q, k, v = (x @ p["attn.qkv.weight"].T + p["attn.qkv.bias"]).split(C, dim=-1)
        q, k, v = (t.view(B, T, n_head, C // n_head).transpose(1, 2) for t in (q, k, v))  # (B, H, T, D)
        y, _ = explicit_attention(q, k, v, torch.ones(T, T, dtype=torch.bool).tril())    # (B, H, T, D)
        y = y.transpose(1, 2).reshape(B, T, C)
        return y @ p["attn.residual_proj.weight"].T + p["attn.residual_proj.bias"]

    def ln1(x):
        return layer_norm(x, p["norm1.weight"], p["norm1.bias"])

    def ln2(x):
        return layer_norm(x, p["norm2.weight"], p["norm2.bias"])

    def ffn(x):
        return mlp(x, {name[len("mlp."):]: value for name, value in p.items() if name.startswith("mlp.")})

    return ln1, attn, ln2, ffn


# %% [markdown]
# Side by side, the two placements differ only in where the parentheses close:

# %%
def pre_ln_block(x, p, n_head):
    """GPT-2: normalise a copy, add the sublayer's output to the stream."""
    ln1, attn, ln2, mlp = sublayers(p, n_head)
    x = x + attn(ln1(x))
    x = x + mlp(ln2(x))
    return x


def post_ln_block(x, p, n_head):
    """2017 Transformer: add the sublayer's output, then normalise the stream itself."""
    ln1, attn, ln2, mlp = sublayers(p, n_head)
    x = ln1(x + attn(x))
    x = ln2(x + mlp(x))
    return x


# %% [markdown]
# Now the check against `mingpt_lite.blocks.Block`. We build a pre-LN block with jiggled
# weights, copy the very same weights into a post-LN block (`load_state_dict`), and compare
# each with its function. The two blocks hold identical numbers yet compute different
# functions; the last assertion makes sure the comparison could tell them apart.

# %%
def make_block(norm, state=None):
    """A float64 mingpt_lite Block with the given LayerNorm placement, jiggled or loaded from `state`."""
    block = Block(dataclasses.replace(small, norm=norm)).double().eval()
    if state is None:
        return jiggle(block)
    block.load_state_dict(state)
    return block


pre = make_block("pre")
post = make_block("post", pre.state_dict())  # copied weights
p = dict(pre.named_parameters())
assert all(torch.equal(p[name], value) for name, value in post.named_parameters())

torch.testing.assert_close(pre_ln_block(x, p, n_head=2), pre(x), rtol=0, atol=1e-12)
torch.testing.assert_close(post_ln_block(x, p, n_head=2), post(x), rtol=0, atol=1e-12)
assert (pre(x) - post(x)).abs().max() > 0.1
print("pre_ln_block == Block(norm='pre'), post_ln_block == Block(norm='post'), same weights")

# %% [markdown]
# What the placement changes: in the pre-LN block the path from input to output is a plain
# sum, `x + ... + ...`, so there is a clean identity path from the embeddings to the final
# LayerNorm, and gradients reach early layers as strongly as late ones. In the post-LN block
# every addition is followed by a LayerNorm, so the stream, and every gradient going back
# along it, is rescaled $2L$ times. Post-LN transformers train, but they need a learning-rate
# warmup and become fragile as depth grows ([Xiong et al. 2020, "On Layer Normalization in
# the Transformer Architecture"](https://arxiv.org/abs/2002.04745), which also shows that
# pre-LN can train without the warmup); chapter 06 measures this.
#
# ### The block from the notes
#
# The author's notes record, on 2022-09-21, a first model whose loss stayed around
# 0.10-0.17 where minGPT reached 0.0004-0.013, and the diagnosis "I did post layernorm.
# Should be pre layernorm." Here is the block as written in the notes, kept in `mingpt_lite`
# as `norm="notes-bug"` so that chapter 6 can train it:

# %%
def notes_block(x, p, n_head):
    """The block as first written in the notes (2022-09-21), line for line."""
    ln1, attn, ln2, mlp = sublayers(p, n_head)
    x = attn(x)
    x = x + ln1(x)
    x = mlp(x)
    x = x + ln2(x)
    return x


notes = make_block("notes-bug", pre.state_dict())
torch.testing.assert_close(notes_block(x, p, n_head=2), notes(x), rtol=0, atol=1e-12)
print("notes_block == Block(norm='notes-bug')")

# %% [markdown]
# Read it slowly, because it is **not** post-LN (the figure above shows what post-LN is). Post-LN computes `ln1(x + attn(x))`: the
# block's input `x` is still added to attention's output. The notes' first line,
# `x = attn(x)`, *overwrites* `x`; the input survives only in whatever attention passes on.
# The additions that follow, `x + ln1(x)`, add a normalised copy of a tensor to that same
# tensor: a residual connection around the LayerNorm, not around attention or the MLP.
# So there is **no residual path** around either sublayer. Every block must carry the
# whole signal through attention and then through the MLP, and the stack of blocks is a
# deep chain without the shortcut of section 4.
#
# The zeroed-output test makes this concrete. Silence both sublayers, feed two different
# inputs, and compare: the pre-LN block returns each input unchanged, the post-LN block
# returns each input normalised (still distinct), and the notes' block returns the *same*
# output for both. Nothing of its input reaches its output except through the sublayers.

# %%
x_other = torch.randn(B, T, C, generator=generator, dtype=torch.float64)
silent = {norm: zero_outputs(make_block(norm, pre.state_dict())) for norm in ("pre", "post", "notes-bug")}
assert torch.equal(silent["pre"](x), x) and torch.equal(silent["pre"](x_other), x_other)
assert (silent["post"](x) - silent["post"](x_other)).abs().max() > 0.1        # input still there
assert torch.equal(silent["notes-bug"](x), silent["notes-bug"](x_other))      # input gone
print("silent sublayers: pre-LN = identity, post-LN keeps the input, notes' block forgets it")

# %% [markdown]
# The notes' fix (switching to pre-LN) changed two things at once: it moved the LayerNorm
# *and* restored the residual path. Chapter 6 separates them by training the notes' block,
# a true post-LN block and a pre-LN block with the same seed and settings.
#
# ## 6. The whole GPT
#
# The model around the blocks is short:
#
# - a **token embedding** (a V × C table) turns each token id into a vector;
# - a **position embedding** (a `block_size` × C table) adds a vector for each position,
#   since attention by itself does not know the order of its inputs;
# - the stream passes through $L$ blocks;
# - a final LayerNorm (needed with pre-LN, whose stream is never normalised inside the
#   blocks) and a linear **head** (C × V, no bias) give one logit per vocabulary entry.
#
# This is the picture of section 4. Written out with our functions and the state dict of a
# `mingpt_lite.GPT`:

# %%
def gpt_forward(p, idx, n_layer, n_head):
    """Logits (B, T, V) for token ids idx (B, T), from the parameters p of a pre-LN mingpt_lite GPT."""
    B, T = idx.shape
    x = p["token_embedding.weight"][idx] + p["position_embedding.weight"][:T]  # (B, T, C)
    for layer in range(n_layer):
        prefix = f"blocks.{layer}."
        block_p = {name[len(prefix):]: value for name, value in p.items() if name.startswith(prefix)}
        x = pre_ln_block(x, block_p, n_head)                                  # (B, T, C)
    x = layer_norm(x, p["final_norm.weight"], p["final_norm.bias"])           # (B, T, C)
    return x @ p["lm_head.weight"].T                                          # (B, T, V)


nano = GPTConfig.from_preset("gpt-nano", vocab_size=10, block_size=16, dropout=0.0)
model = jiggle(GPT(nano).double()).eval()
idx = torch.randint(0, 10, (2, 16), generator=generator)                     # (B, T)
logits = model(idx)
assert logits.shape == (2, 16, 10)
torch.testing.assert_close(gpt_forward(model.state_dict(), idx, nano.n_layer, nano.n_head), logits, rtol=0, atol=1e-12)
print("gpt_forward == mingpt_lite.GPT")
print(model)

# %% [markdown]
# The printout lists the pieces in the order the data flows through them. The dropout
# modules show `p=0.0` because we built this model with `dropout=0.0` to compare numbers;
# by default (0.1, like minGPT) they randomly zero that fraction of the embeddings,
# attention weights and sublayer outputs during training, and do nothing in `eval()` mode.
#
# ## 7. Counting parameters
#
# With the pieces known, the count follows. Write $V$ for the vocabulary, $P$ for
# `block_size`, $C$ for `n_embd` and $L$ for `n_layer`:
#
# | part | parameters |
# |---|---|
# | token embedding | $VC$ |
# | position embedding | $PC$ |
# | LayerNorm (gain and shift), two per block | $2C$ each |
# | attention: `qkv` ($C \to 3C$) and `residual_proj` ($C \to C$), with biases | $3C^2 + 3C + C^2 + C = 4C^2 + 4C$ |
# | MLP: `expand` ($C \to 4C$) and `residual_proj` ($4C \to C$), with biases | $4C^2 + 4C + 4C^2 + C = 8C^2 + 5C$ |
# | **one block** | $4C + (4C^2+4C) + (8C^2+5C) = 12C^2 + 13C$ |
# | final LayerNorm | $2C$ |
# | head (no bias, not tied to the embedding in minGPT) | $VC$ |
#
# $$N = (V + P)\,C + L\,(12C^2 + 13C) + 2C \quad (+\, VC \text{ with the head}).$$
#
# The number of heads does not appear: splitting $C$ into heads reshapes the same matrices.
# minGPT counts without the head too, and so does `GPT.num_parameters()` by default. minGPT
# prints its count only rounded to millions (`number of parameters: 0.09M` for gpt-nano).

# %%
def count_parameters(vocab_size, block_size, n_layer, n_embd, include_head=False):
    """The formula above."""
    C = n_embd
    total = (vocab_size + block_size) * C + n_layer * (12 * C**2 + 13 * C) + 2 * C
    return total + (vocab_size * C if include_head else 0)


def parameter_breakdown(vocab_size, block_size, n_layer, n_embd):
    """The formula split into parts (with the head), for the table and the figure."""
    C = n_embd
    return {
        "embeddings": (vocab_size + block_size) * C,
        "attention": n_layer * (4 * C**2 + 4 * C),
        "MLP": n_layer * (8 * C**2 + 5 * C),
        "LayerNorms": n_layer * 4 * C + 2 * C,
        "head": vocab_size * C,
    }


# %% [markdown]
# Before trusting the breakdown, check it part by part against a real model's tensors, for
# gpt-nano at minGPT's demo size (vocab 3, block 11):

# %%
def measured_breakdown(model):
    """The same parts, summed from the model's named parameters."""
    parts = dict.fromkeys(["embeddings", "attention", "MLP", "LayerNorms", "head"], 0)
    for name, tensor in model.named_parameters():
        part = ("embeddings" if "embedding" in name else "attention" if ".attn." in name
                else "MLP" if ".mlp." in name else "LayerNorms" if "norm" in name else "head")
        parts[part] += tensor.numel()
    return parts


demo = GPT(GPTConfig.from_preset("gpt-nano", vocab_size=3, block_size=11))
assert measured_breakdown(demo) == parameter_breakdown(3, 11, 3, 48)
print(measured_breakdown(demo))

# %% [markdown]
# Now every preset in `mingpt_lite.config.PRESETS` (the list in
# [minGPT](https://github.com/karpathy/minGPT)'s `mingpt/model.py`). Building gpt2-xl's 1.6
# billion parameters would take over 6 GB of memory and a long wait, but counting needs only the
# shapes: under `torch.device("meta")`, tensors have a shape and no storage, so every model
# below is built in milliseconds. The three small presets use the sizes of minGPT's own
# examples (vocab 3 and block 11 for the sort demo, vocab 65 and block 128 for
# character-level Shakespeare); the large ones all use GPT-2's vocabulary (50,257) and
# context (1,024), so they can be compared with each other. (The original GPT-1,
# `openai-gpt`, had 40,478 tokens and 512 positions; at GPT-2's sizes it is the same model
# as `gpt2`.)

# %%
SIZES = {"gpt-nano": (3, 11), "gpt-micro": (65, 128), "gpt-mini": (65, 128)}  # (vocab, block); others GPT-2's
MINGPT_COUNTED = {  # minGPT's own count (sum of numel over model.transformer, no head), exact
    ("gpt-nano", 3, 11): 85_584,
    ("gpt-micro", 65, 128): 818_048,
    ("gpt-mini", 65, 128): 2_706_624,
    ("gpt2", 50257, 1024): 124_439_808,
}

rows = []
for name in sorted(PRESETS, key=lambda n: PRESETS[n][0] * PRESETS[n][2] ** 2):
    vocab, block = SIZES.get(name, (50257, 1024))
    config = GPTConfig.from_preset(name, vocab_size=vocab, block_size=block)
    with torch.device("meta"):  # shapes only, no memory
        meta_model = GPT(config)
    by_formula = count_parameters(vocab, block, config.n_layer, config.n_embd)
    by_model = meta_model.num_parameters()
    assert by_model == by_formula
    assert meta_model.num_parameters(include_head=True) == count_parameters(
        vocab, block, config.n_layer, config.n_embd, include_head=True)
    assert measured_breakdown(meta_model) == parameter_breakdown(vocab, block, config.n_layer, config.n_embd)
    printed = MINGPT_COUNTED.get((name, vocab, block))
    if printed is not None:
        assert by_model == printed
    rows.append((name, config, vocab, block, by_model, printed))

# %%
print(f"{'preset':12s} {'L':>3s} {'H':>3s} {'C':>5s} {'vocab':>6s} {'block':>5s} "
      f"{'formula = GPT':>15s} {'minGPT count':>15s}")
for name, cfg, vocab, block, count, printed in rows:
    shown = f"{printed:,}" if printed is not None else "-"
    print(f"{name:12s} {cfg.n_layer:3d} {cfg.n_head:3d} {cfg.n_embd:5d} {vocab:6d} {block:5d} {count:15,d} {shown:>15s}")
assert sum(printed is not None for *_, printed in rows) == 4  # all four of minGPT's figures were checked

# %% [markdown]
# The formula, the model and minGPT's own count agree at every size, exactly; minGPT's printout
# rounds them (0.09M, 0.82M, 2.71M, 124.44M). gpt-nano with its head comes to 85,728:

# %%
nano_with_head = count_parameters(3, 11, 3, 48, include_head=True)
assert nano_with_head == demo.num_parameters(include_head=True) == 85_728
print(f"gpt-nano with head: {nano_with_head:,}")

# %% [markdown]
# Where do the parameters sit? Each block holds $4C^2$ in attention and $8C^2$ in the MLP,
# so the MLP is two thirds of every block. The embeddings and the head cost $VC$ each, which
# is negligible at vocabulary 3 or 65 but large at 50,257: in `gpt2`, the token embedding
# and the untied head together hold about 47% of all parameters (GPT-2 ties them, which is
# why it is known as a 124M model and not a 163M one).

# %%
names = [r[0] for r in rows]
parts = [parameter_breakdown(v, b, c.n_layer, c.n_embd) for _, c, v, b, _, _ in rows]
fig, ax = plt.subplots(figsize=(7, 3.5))
left = [0.0] * len(rows)
for part in ["embeddings", "attention", "MLP", "LayerNorms", "head"]:
    share = [100 * p[part] / sum(p.values()) for p in parts]
    ax.barh(names, share, left=left, label=part)
    left = [a + b for a, b in zip(left, share)]
for i, p in enumerate(parts):
    ax.text(101, i, f"{sum(p.values()) / 1e6:,.2f}M", va="center", fontsize=7)
ax.set(xlim=(0, 115), xlabel="share of all parameters, head included (%)")
ax.legend(fontsize=7, ncol=5, loc="lower center", bbox_to_anchor=(0.45, 1.0))
ax.tick_params(axis="y", labelsize=8)
fig.tight_layout()
plt.show()

# %%
gpt2_parts = parts[names.index("gpt2")]
assert abs(gpt2_parts["MLP"] / gpt2_parts["attention"] - 2) < 0.01        # MLP: 2/3 of each block
vocab_share = (50257 * 768 * 2) / sum(gpt2_parts.values())                 # token embedding + head
assert 0.46 < vocab_share < 0.48
print(f"gpt2: token embedding + head = {100 * vocab_share:.1f}% of {sum(gpt2_parts.values()):,} parameters")

# %% [markdown]
# ## What you learned
#
# - LayerNorm normalises each position over its own channels (variance divided by $C$, $\epsilon$
#   inside the square root), then scales and shifts; ours equals `nn.LayerNorm`.
# - GELU's tanh form differs from the exact one by at most $5\times10^{-4}$, enough to
#   matter when importing GPT-2's weights, so the MLP ($C \to 4C \to C$, one position at a
#   time) uses the tanh form.
# - The residual stream is a running sum: each sublayer reads a normalised copy and adds its
#   output, so a block with silent sublayers is exactly the identity.
# - Pre-LN and post-LN differ only in where the LayerNorm sits; both equal `mingpt_lite`'s
#   `Block` on copied weights. The notes' block has no residual path around attention or the
#   MLP at all: with silent sublayers it forgets its input. Chapter 06 trains it.
# - $N = (V+P)C + L(12C^2+13C) + 2C$ matches `GPT.num_parameters()` for every preset and
#   minGPT's own parameter counts.
#
# ## Exercises
#
# Each exercise has [a worked solution](solutions/02_blocks.ipynb). Where the answer is code or
# a number, a checker says whether it is right and, if not, what is wrong:
# `from mingpt_lite.exercises import check; check("2.1", my_layer_norm)`.
#
# ### Exercise 2.1 (implement): LayerNorm
#
# Without looking back at `layer_norm`, write `my_layer_norm(x, weight, bias, eps=1e-5)` that
# normalises each position of `x` (..., C) over its $C$ channels and then applies the gain
# `weight` and the shift `bias`. Check it with
# `from mingpt_lite.exercises import check; check("2.1", my_layer_norm)`: it is compared with
# `nn.LayerNorm` on a wide input and on a narrow one (standard deviation 0.004, where
# $\epsilon$ matters), and the checker names the usual slips (the unbiased variance, $\epsilon$
# outside the square root, normalising over the wrong axis, no gain and shift, forgetting to
# subtract the mean). [Worked solution](solutions/02_blocks.ipynb).
#
# ### Exercise 2.2 (implement): count parameters with and without biases, tied and untied
#
# `GPTConfig` has two switches the table of section 7 ignores: `bias=False` removes every bias
# (of the Linear layers and of the LayerNorms, which keep their gains) and `tie_weights=True`
# makes the head share the token embedding's tensor. Write
# `my_count(vocab_size, block_size, n_layer, n_embd, bias=True, tie_weights=False)` that returns
# the number of distinct parameters, head included (a tied head adds nothing), and call
# `check("2.2", my_count)`. The checker compares with `GPT(...).num_parameters(include_head=True)`
# for 12 settings, and says which part you miscounted. [Worked solution](solutions/02_blocks.ipynb).
#
# ### Exercise 2.3 (predict): when do the blocks outgrow the embedding?
#
# In GPT-2 (`n_embd=768`) the 12 blocks hold about 85M parameters and the token embedding about
# 39M. For a 12-layer model with GPT-2's vocabulary of 50,257, predict the smallest width
# `n_embd` at which the blocks together hold more parameters than the token embedding. Work it
# out on paper with the formula, then `check("2.3", my_width)`, and confirm with
# `count_parameters` or a model on the meta device. [Worked solution](solutions/02_blocks.ipynb).
#
# ### Exercise 2.4 (explain): the stream's size in a deep stack
#
# Stack 24 pre-LN blocks and, separately, 24 post-LN blocks (each a `Block` of this chapter's
# `small` config with its own jiggled weights, $C = 8$), feed both the same input and record the
# size of the stream (the mean norm of a position's vector) after every block, for a few seeds. How does each curve behave, and why? What does
# your answer say about why a pre-LN GPT needs the final LayerNorm before its head, and a
# post-LN one does not? [Worked solution](solutions/02_blocks.ipynb).
