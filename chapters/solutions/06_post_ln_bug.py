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
# # Solutions to chapter 6: The post-LN bug
#
# Worked solutions to the exercises of [chapter 06](../06_post_ln_bug.ipynb). Code answers assert
# themselves, including passing their checker; the explain question gets a model answer backed by
# the chapter's committed multi-seed data.

# %%
import json
from pathlib import Path

import torch

from mingpt_lite.data import SortTask
from mingpt_lite.exercises import check
from mingpt_lab.experiments.norms import norm_model
from mingpt_lite.loss import lm_loss
from mingpt_lite.notebook import start_chapter

device = start_chapter(seed=0)
task = SortTask(length=6, num_digits=3)

# %% [markdown]
# ## Exercise 6.1
#
# Post-LN adds the sublayer's output to the stream and *then* normalises the sum, once for
# attention and once for the MLP. The block's own modules do the work; we only wire them.

# %%
def post_ln_forward(block, x):
    """The output of a post-LN block, from its sublayers: LN1(x + attn(x)), then LN2(x + mlp(x))."""
    x = block.norm1(x + block.attn(x))
    return block.norm2(x + block.mlp(x))


assert check("6.1", post_ln_forward)

# %% [markdown]
# ## Exercise 6.2
#
# Prediction: the bias of attention's output projection, `attn.residual_proj.bias`. Block 1's
# first LayerNorm normalises `embedding + attn(embedding)`, whose standard deviation is that of the
# raw embeddings (about 0.03), so the gradient of everything added into that sum is about 30 times
# larger than in the blocks above. A weight's gradient is also multiplied by the weight's input,
# which in block 1 is the equally small embedding, and the two factors cancel; the output bias has
# no input, so it keeps the whole factor. The measurement, one backward pass at step 0:

# %%
# on the CPU: one backward pass of a small model, compared by its printed numbers
model = norm_model("post", n_layer=12, seed=3407).eval()
x, y = task.get_batch("train", 64, torch.Generator().manual_seed(3407))
lm_loss(model(x), y).backward()
block1 = {name: p.grad.norm().item() for name, p in model.blocks[0].named_parameters()}
block2 = {name: p.grad.norm().item() for name, p in model.blocks[1].named_parameters()}
largest = max(block1, key=block1.get)
for name in sorted(block1, key=block1.get, reverse=True)[:4]:
    print(f"{name:>24}: {block1[name]:.4f} in block 1, {block2[name]:.4f} in block 2")
assert largest == "attn.residual_proj.bias"
assert check("6.2", largest)

# %% [markdown]
# ## Exercise 6.3
#
# Model answer: warmup makes the first steps small, so after twenty steps each sublayer's output
# is still small next to the stream it is added to (the chapter measured a median
# ||f(x)|| / ||x|| several times smaller with warmup than without). Then each post-LN LayerNorm
# `LN(x + f(x))` divides by a standard deviation close to that of `x`, the skip path passes each
# block almost unchanged, and the gradient reaches block 1 through 24 LayerNorms without being
# shrunk 24 times. Without warmup the sublayers outgrow the stream within those twenty steps, every
# LayerNorm then scales the skip path down, and the product of 24 such factors cuts the lower
# blocks off (the chapter's top/bottom gradient ratios of many orders of magnitude).
#
# The numbers behind it: the top/bottom block gradient ratio at steps 40-49, over every committed
# run (seeds and CPU kernels) of the chapter's data file, with and without warmup.

# %%
runs = json.loads(Path("../data/post_ln_seeds.json").read_text())["runs"]
ratio_40 = {name: [r["result"]["ratio_40"] for r in runs if r["item"].get("name") == name]
            for name in ("post, 12 layers", "post, 12 layers, warmup")}
for name, ratios in ratio_40.items():
    print(f"{name:>24}: top/bottom gradient at steps 40-49 from {min(ratios):.2g} to {max(ratios):.2g} "
          f"({len(ratios)} runs)")
assert min(ratio_40["post, 12 layers"]) > 100 * max(ratio_40["post, 12 layers, warmup"])
