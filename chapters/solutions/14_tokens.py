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
# # Solutions to chapter 14: Tokens
#
# Each solution runs, asserts its answer, and passes the exercise's checker.
# [Back to the chapter](../14_tokens.ipynb).

# %%
import math
from collections import Counter

import regex

from mingpt_lite.exercises import check
from mingpt_lite.notebook import start_chapter
from mingpt_lite.tokenizer import GPT2_PATTERN, merge_pair

start_chapter(seed=0)

# %% [markdown]
# ## Exercise 14.1
#
# Walk the list with an index. Where the pair starts, emit the new id and jump two places, so
# a merged id is never reused: in `[a, a, a]` the first two merge and the third stays.

# %%
def my_merge(ids, pair, new_id):
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == tuple(pair):
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


assert my_merge([5, 5, 5], (5, 5), 9) == [9, 5] == merge_pair([5, 5, 5], (5, 5), 9)
assert check("14.1", my_merge)

# %% [markdown]
# ## Exercise 14.2
#
# From the start: two spaces before "Don". `\s+(?!\S)` takes a run of spaces only as far as it
# is not followed by a non-space, so it takes the first space and leaves the second to
# ` ?\p{L}+`, which makes " Don". Then the contraction `'t`. Three spaces: the first two are a
# chunk, the third goes with " stop". The two newlines end the text, so they are one chunk.

# %%
my_chunks = [" ", " Don", "'t", "  ", " stop", "\n\n"]
assert my_chunks == regex.findall(GPT2_PATTERN, "  Don't   stop\n\n")
assert check("14.2", my_chunks)

# %% [markdown]
# ## Exercise 14.3
#
# Pre-split, count pairs over every chunk (repeats count each time), merge the most frequent
# one everywhere, repeat. Any tie-break is accepted; this one takes the pair counted first.

# %%
def my_train(text, vocab_size):
    words = [list(chunk.encode("utf-8")) for chunk in regex.findall(GPT2_PATTERN, text)]
    merges = []
    for new_id in range(256, vocab_size):
        counts = Counter(pair for w in words for pair in zip(w, w[1:]))
        pair = max(counts, key=counts.get)
        merges.append(pair)
        words = [merge_pair(w, pair, new_id) for w in words]
    return merges


assert check("14.3", my_train)

# %% [markdown]
# ## Exercise 14.4
#
# The mean loss times the number of tokens is the total in nats; one bit is $\ln 2$ nats; the
# total in bits, over the characters, is bits per character. A character model has
# `tokens == chars`, and its bits per character are its loss over $\ln 2$.

# %%
def my_bits_per_char(nats_per_token, tokens, chars):
    return nats_per_token * tokens / math.log(2) / chars


assert my_bits_per_char(math.log(2), 10, 10) == 1.0
assert check("14.4", my_bits_per_char)

# %% [markdown]
# ## Exercise 14.5
#
# The pieces: the model receives one id per piece, and an id says nothing about its letters.

# %%
from mingpt_lite.data import tiny_shakespeare
from mingpt_lite.tokenizer import gpt2_tokenizer, train_bpe

text = tiny_shakespeare()
bpe_1024 = train_bpe(text[: int(len(text) * 0.9)], 1024)
gpt2 = gpt2_tokenizer()
for word in (" strawberry", " strawberries"):
    for name, tok in (("1024-BPE", bpe_1024), ("GPT-2", gpt2)):
        pieces = [tok.vocab[i].decode() for i in tok.encode(word)]
        print(f"{name:>9} {word!r}: {pieces}")
        assert "".join(pieces) == word  # nothing is lost
assert len(gpt2.encode(" strawberry")) < len(" strawberry")

# %% [markdown]
# Nothing is lost: the pieces join back to the word. But a token model sees each piece as one
# id, an entry in a table, and learns what letters it holds only indirectly, from the contexts
# the id appears in. How many r's " strawberry" has is written in the bytes of its pieces, which
# the model never reads; a character model reads every letter. The same split helped in
# section 7 because predicting the next piece of Shakespeare rarely needs the letters inside a
# piece, while reading more text per step and per window helps every prediction.
