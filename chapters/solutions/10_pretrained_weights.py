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
# # Solutions to chapter 10: Weights from elsewhere, GPT-2
#
# Worked solutions to the exercises of [chapter 10](../10_pretrained_weights.ipynb). Every code
# answer asserts itself, including passing its checker; the explain question gets a model answer
# backed by numbers computed here. Nothing is downloaded, and `transformers` is not even
# imported (it takes seconds): the chapter proved that `GPT.from_pretrained` reproduces
# `transformers`' GPT-2 to 1e-5, so here the imported model stands in for GPT-2, and the random
# checkpoints come from `gpt2_layout_state`, the helper the checkers use. It writes random
# numbers under GPT-2's names, in GPT-2's (in, out) orientation.

# %%
import copy

import torch
import torch.nn as nn

from mingpt_lite import GPT, GPTConfig
from mingpt_lite.exercises import check
from mingpt_lite.exercises.ch10 import gpt2_layout_state
from mingpt_lite.notebook import start_chapter

device = start_chapter(seed=0, device="cpu")
TOL = 1e-5

# %%
def random_gpt2(weight_std=0.15, noisy=True, seed=0):
    """A state dict of the chapter's small GPT-2 (4 layers, width 48, vocabulary 101, context 32),
    random. ``noisy=False`` gives transformers' initialisation: LayerNorms 1 and 0, biases 0, and
    residual projections scaled down."""
    state = gpt2_layout_state(n_layer=4, n_embd=48, vocab_size=101, n_positions=32, seed=seed, std=weight_std)
    if not noisy:
        for name, tensor in state.items():
            if ".ln_" in name or name.endswith("bias"):
                tensor.fill_(1.0 if ".ln_" in name and name.endswith("weight") else 0.0)
            elif name.endswith("c_proj.weight"):
                tensor.mul_(1 / (2 * 4) ** 0.5)  # GPT-2 scales its residual projections by 1/sqrt(2 n_layer)
    return state


def import_gpt2(state, **overrides):
    """Our model from a GPT-2 state dict (3 heads: the shapes cannot tell)."""
    return GPT.from_pretrained(state, n_head=3, **overrides)


tokens = torch.randint(0, 101, (4, 32), generator=torch.Generator().manual_seed(1))

# %% [markdown]
# ## Exercise 10.1
#
# **Prediction.** Loading fails when the untransposed (in, out) shape differs from the (out, in)
# shape `nn.Linear` wants, that is, when the matrix is not square. In `gpt2`, `attn.c_attn` is
# (768, 2304), `mlp.c_fc` is (768, 3072) and `mlp.c_proj` is (3072, 768): all three are caught.
# `attn.c_proj` is (768, 768), square, and loads silently. The check below reads the (out, in)
# shapes of our own `gpt2`-sized model on the meta device: a weight is caught exactly when its
# matrix is not square.

# %%
with torch.device("meta"):
    ours_full = GPT(GPTConfig.from_preset("gpt2", vocab_size=50257, block_size=1024, tie_weights=True))
block = ours_full.blocks[0]
shapes = {"attn.c_attn": block.attn.qkv.weight.shape, "attn.c_proj": block.attn.residual_proj.weight.shape,
          "mlp.c_fc": block.mlp.expand.weight.shape, "mlp.c_proj": block.mlp.residual_proj.weight.shape}
shapes = {m: tuple(shape) for m, shape in shapes.items()}
caught = {m for m, (n_out, n_in) in shapes.items() if n_out != n_in}
print("our (out, in) shapes:", shapes)
assert caught == {"attn.c_attn", "mlp.c_fc", "mlp.c_proj"}
assert check("10.1", caught)

# %% [markdown]
# ## Exercise 10.2
#
# The chapter's four rules, in one loop: drop the two mask buffers; rename the three top-level
# modules; rename the six sub-modules of each block; transpose a weight when it belongs to one
# of the four `Conv1D` modules. The head is left out: our model ties it to the embedding.

# %%
RENAME_BLOCK = {"ln_1": "norm1", "attn.c_attn": "attn.qkv", "attn.c_proj": "attn.residual_proj",
                "ln_2": "norm2", "mlp.c_fc": "mlp.expand", "mlp.c_proj": "mlp.residual_proj"}
RENAME_TOP = {"wte": "token_embedding", "wpe": "position_embedding", "ln_f": "final_norm"}
CONV1D_MODULES = {"attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"}


def my_convert(hf_state):
    """GPT-2 (Hugging Face layout) state dict -> mingpt_lite state dict (tied head left out)."""
    ours = {}
    for key, tensor in hf_state.items():
        name = key.removeprefix("transformer.")
        if name == "lm_head.weight" or name.endswith((".attn.bias", ".attn.masked_bias")):
            continue  # the tied head, and the causal mask with its fill value
        module, kind = name.rsplit(".", 1)
        if module in RENAME_TOP:
            ours[f"{RENAME_TOP[module]}.{kind}"] = tensor
            continue
        _, layer, inner = module.split(".", 2)  # "h", "3", "mlp.c_fc"
        if kind == "weight" and inner in CONV1D_MODULES:
            tensor = tensor.t()  # Conv1D stores (in, out); nn.Linear wants (out, in)
        ours[f"blocks.{layer}.{RENAME_BLOCK[inner]}.{kind}"] = tensor
    return ours

# %%
hf_state = random_gpt2()
reference = import_gpt2(hf_state)  # equal to transformers' GPT-2 within 1e-5, as the chapter showed
model = GPT(GPTConfig(vocab_size=101, block_size=32, n_layer=4, n_head=3, n_embd=48, tie_weights=True)).eval()
model.load_state_dict(my_convert(hf_state), strict=False)  # strict=False: the tied head
with torch.no_grad():
    torch.testing.assert_close(model(tokens), reference(tokens), rtol=0, atol=0)
assert check("10.2", my_convert)

# %% [markdown]
# ## Exercise 10.3
#
# Untying copies the embedding into a separate head, so the function is unchanged at import and
# the logits still match. The copy is one (vocabulary × width) matrix without a bias:
# 101 × 48 = 4,848 parameters, 4% of this small model (at `gpt2`'s size the same matrix is
# 38.6M parameters, 31%).

# %%
tied = import_gpt2(hf_state)
untied = import_gpt2(hf_state, tie_weights=False)
assert untied.lm_head.weight is not untied.token_embedding.weight
with torch.no_grad():
    torch.testing.assert_close(untied(tokens), tied(tokens), rtol=0, atol=TOL)
extra = untied.num_parameters(include_head=True) - tied.num_parameters(include_head=True)
print(f"untied head adds {extra:,} parameters ({extra / tied.num_parameters(include_head=True):.0%})")
assert extra == 101 * 48
assert check("10.3", extra)

# %% [markdown]
# ## Exercise 10.4
#
# **Model answer.** A test can only catch a mistake that changes the numbers it compares.
#
# - *Noise on LayerNorms and biases.* `transformers` initialises every LayerNorm to gain 1 and
#   bias 0 and every linear bias to 0. Then `ln_1` and `ln_2` hold identical tensors, and a
#   converter that swaps them (or loads any bias into the wrong zero bias) produces *exactly*
#   the right model: the difference below is 0 without noise, for each of five random models.
#   With noise, the swap moves the logits by far more than the tolerance.
# - *Weights at std 0.15 instead of 0.02.* At 0.02 every pre-activation of the MLP is close to
#   0, where the exact and the tanh GELU nearly agree, so a model with the wrong GELU passes
#   the 1e-5 test, though not by much: its logits move by 5e-6 to 8e-6 in five random models
#   here (7e-7 for the chapter's). These are differences of two functions, not rounding, so they
#   are the same on every machine to about 1e-7. At 0.15 the pre-activations reach the region |x| ≈ 1 to 3 where the
#   two curves differ by up to 5e-4, and the wrong GELU fails by more than 10x. Both hold for
#   each of five random models (the cell prints the ranges).

# %%
def swapped_norms(model):
    """A copy of our imported model with each block's two LayerNorms exchanged."""
    wrong = copy.deepcopy(model)
    for block in wrong.blocks:
        block.norm1, block.norm2 = block.norm2, block.norm1
    return wrong


def exact_gelu(model):
    """A copy of our imported model with the exact GELU instead of GPT-2's tanh GELU."""
    wrong = copy.deepcopy(model)
    for block in wrong.blocks:
        block.mlp.gelu = nn.GELU()
    return wrong


def effect(mistake, state):
    """How far a mistake moves the logits of the model imported from ``state`` (max |difference|)."""
    imported = import_gpt2(state)
    with torch.no_grad():
        return (mistake(imported)(tokens) - imported(tokens)).abs().max().item()

# %%
SEEDS = range(5)  # five random models, so that no conclusion rests on one draw
swap_plain = [effect(swapped_norms, random_gpt2(noisy=False, seed=s)) for s in SEEDS]
swap_noisy = [effect(swapped_norms, random_gpt2(seed=s)) for s in SEEDS]
gelu_small = [effect(exact_gelu, random_gpt2(weight_std=0.02, noisy=False, seed=s)) for s in SEEDS]  # transformers' init
gelu_large = [effect(exact_gelu, random_gpt2(weight_std=0.15, seed=s)) for s in SEEDS]

# %% tags=["nbval-ignore-output"]
# float32 rounding-level numbers: they vary with the CPU and the thread count
print(f"swapped LayerNorms:  default init {max(swap_plain):.0e}, with noise {min(swap_noisy):.1e} to {max(swap_noisy):.1e}")
print(f"exact GELU:          std 0.02 {min(gelu_small):.0e} to {max(gelu_small):.0e}, "
      f"std 0.15 {min(gelu_large):.0e} to {max(gelu_large):.0e}")

# %%
assert max(swap_plain) == 0 and min(swap_noisy) > 100 * TOL
assert max(gelu_small) < TOL < min(gelu_large) / 10
print("swapped LayerNorms: exactly right at the default init, caught with noise")
print("exact GELU: passes the 1e-5 test at std 0.02, fails it more than 10x over at std 0.15")
