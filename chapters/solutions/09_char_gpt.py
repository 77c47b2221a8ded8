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
# # Solutions to chapter 9: A character-level GPT
#
# Each solution runs, asserts its answer, and passes the exercise's checker where there is one.
# [Back to the chapter](../09_char_gpt.ipynb).

# %%
import math

import torch

from mingpt_lite.data import CharDataset, tiny_shakespeare
from mingpt_lite.exercises import check
from mingpt_lite.notebook import start_chapter

device = start_chapter(seed=0)
text = tiny_shakespeare()

# %% [markdown]
# ## Exercise 9.1
#
# One cut, at `int(0.9 * len(text))` (Python's `int` rounds down): everything before it is
# training text, everything after it validation.

# %%
def my_split(text):
    cut = int(0.9 * len(text))
    return text[:cut], text[cut:]

train_text, val_text = my_split(text)
print(f"train {len(train_text):,} characters, validation {len(val_text):,}")
assert len(val_text) == CharDataset.from_corpus().data["val"].numel() == 111_540
assert check("9.1", my_split)

# %% [markdown]
# ## Exercise 9.2
#
# Tiny Shakespeare has 65 distinct characters. A uniform model gives each probability 1/65, so
# its loss at every position is $-\ln(1/65) = \ln 65 \approx 4.17$ nats (6.02 bits).

# %%
vocab = len(set(text))
my_number = math.log(vocab)
print(f"V = {vocab}, ln V = {my_number:.4f} nats = {math.log2(vocab):.2f} bits")
assert vocab == 65
assert check("9.2", my_number)

# %% [markdown]
# ## Exercise 9.3
#
# Windows overlap: a window starting at `s` shares 63 of its 64 characters with the windows
# starting at `s - 1` and `s + 1`. If validation windows were drawn at random from all start
# positions, almost every one of them would have training windows starting a few characters
# before and after it, so nearly every character the model is scored on would also have been
# trained on, in the same context. The validation loss would then measure memorisation of the
# training text rather than prediction of unseen text, and it would keep falling while the
# model overfits. Holding out one contiguous block (the last 10%) means that only the 63
# characters at the border are shared.
#
# The estimate: mark 10% of the start positions as validation at random; for each character of
# a validation window, ask whether some training window covers the same position.

# %%
n_starts = len(text) - 64
g = torch.Generator().manual_seed(0)
is_val = torch.rand(n_starts, generator=g) < 0.1
train_start = (~is_val).to(torch.int32)
# position p is covered by a training window if some training start lies in [p - 63, p]
padded = torch.cat([torch.zeros(63, dtype=torch.int32), train_start])
covered = padded.unfold(0, 64, 1).amax(dim=1).bool()           # (n_starts,) for positions 0 .. n_starts-1
val_starts = is_val.nonzero().squeeze(1)[:2000]
shares = torch.stack([covered[s : s + 64].float().mean() for s in val_starts if s + 64 <= n_starts])
print(f"share of a random validation window's characters also covered by training windows: {shares.mean():.4f}")
assert shares.mean() > 0.99
