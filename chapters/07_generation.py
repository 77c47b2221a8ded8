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
# # 7. Generation and the KV cache
#
# The author's notes end on a question: "my inference speed after JIT is still slow. I don't
# know if that's normal for autoregressive inference." This chapter answers the PyTorch half
# of it (chapter 12 answers the JAX half). A GPT is trained to predict one next token; to
# produce a sequence it must be run in a loop: predict, pick a token, append it, predict
# again. Two questions decide what comes out and how fast:
#
# 1. **Which token to pick** from the predicted distribution: the most likely one (greedy),
#    or a random draw, sharpened or flattened by a *temperature* and restricted to the
#    *top-k* tokens or the *top-p* probability mass.
# 2. **How much to recompute** at every step. minGPT's
#    [`generate`](https://github.com/karpathy/minGPT/blob/master/mingpt/model.py) runs the whole context
#    through the model for every new token. Attention is causal, so the keys and values of
#    earlier positions never change: a **KV cache** keeps them, and each step only computes
#    the newest position.
#
# Everything here is in `mingpt_lite.generation`; `GPT.generate` delegates to it. We first
# train two small models to generate from: the sort model of chapters 4 and 5 and a small
# character-level model (chapter 9 trains a better one).
#
# ## What you need from earlier chapters
#
# - Chapter 1 builds causal attention, and chapter 2 the `GPT` around it. Their forward already
#   accepts `kv_cache=` and `pos=`; this chapter is where that path is explained.
# - Chapter 4's sort task (`SortTask`, `sort_accuracy`) and chapter 5's `Trainer` with a warmup +
#   cosine schedule train the two models we generate from.
# - `CharDataset`, the character-level text data, is built in chapter 9 (a later chapter); here we
#   only use it to get a small text model to sample from, and nothing below depends on how it works.

# %%
import json
import math
import time
from pathlib import Path

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from mingpt_lite import GPT, GPTConfig
from mingpt_lite.data import CharDataset, SortTask, sort_accuracy
from mingpt_lite.device import synchronize
from mingpt_lite.generation import cached_logits, filter_logits, generate, repeated_share as package_repeated_share, sample_next
from mingpt_lite.notebook import start_chapter
from mingpt_lite.trainer import Trainer, TrainerConfig

device = start_chapter(seed=0)

# %% [markdown]
# ## Two small models
#
# The sort model is gpt-nano on minGPT's demo task (six digits from {0, 1, 2}), trained with a
# higher learning rate than the demo and a cosine decay, which reaches 100% in a few hundred
# steps instead of the demo's 2,000 (chapter 5 compares the recipes). We check it on every problem
# of the test split, none of which it saw in training. Over the 15 retrained runs committed
# below, greedy decoding never solved fewer than 99% of them, so that is what is asserted.

# %%
sort_task = SortTask(length=6, num_digits=3)
sort_model = GPT(GPTConfig.from_preset("gpt-nano", vocab_size=sort_task.vocab_size,
                                       block_size=sort_task.block_size, dropout=0.0))
fast = dict(batch_size=64, learning_rate=5e-3, lr_schedule="cosine", warmup_iters=50, seed=0, progress=False,
            device=device)
Trainer(sort_model, sort_task, TrainerConfig(max_iters=500, **fast)).train()

test_problems = sort_task.all_problems("test").to(device)                 # (N, 6): every test problem
sort_test_accuracy = sort_accuracy(sort_model, sort_task, test_problems)  # greedy generation
print(f"{len(test_problems)} test problems")

# %% tags=["nbval-ignore-output"]
print(f"greedy accuracy {sort_test_accuracy:.4f}")

# %%
assert sort_test_accuracy >= 0.99

# %% [markdown]
# The character model reads Tiny Shakespeare, which ships with the package (chapter 9 trains a
# larger model on it), in windows of 32 characters. Two layers, 96 wide, 300 steps: enough to
# learn spelling-like statistics, not enough to be good.

# %%
text = CharDataset.from_corpus("tinyshakespeare", block_size=32, device=device)           # the text lives where the model trains
char_model = GPT(GPTConfig(vocab_size=text.vocab_size, block_size=32, n_layer=2, n_head=4,
                           n_embd=96, dropout=0.0))
char_trainer = Trainer(char_model, text, TrainerConfig(max_iters=300, batch_size=32, learning_rate=3e-3,
                                                       lr_schedule="cosine", warmup_iters=40, seed=0,
                                                       progress=False, eval_iters=8, device=device))
char_trainer.train()
char_val_loss = char_trainer.evaluate(["val"])["val_loss"]
print(f"vocabulary {text.vocab_size} characters, a uniform guess: ln {text.vocab_size} = {math.log(text.vocab_size):.2f}")

# %% [markdown]
# The validation loss depends on the exact training run, which differs between machines in its
# last bits and then drifts (chapter 5), so it is printed in a cell the tests do not compare,
# and the claim we need, far below a uniform guess, is asserted: below 0.6 x ln V, in this run
# and in every committed run below.

# %% tags=["nbval-ignore-output"]
print(f"validation loss {char_val_loss:.2f} = {char_val_loss / math.log(text.vocab_size):.2f} x ln V")

# %%
assert char_val_loss < 0.6 * math.log(text.vocab_size)
# (the same bound holds for every seed and setting of the runs committed below)

# %% [markdown]
# ## One step: from logits to a token
#
# Generation starts from the model's logits at the last position of the context: one score
# per vocabulary entry, turned into probabilities by a softmax. Here is the distribution of
# the next character after the prompt `"And the "`:

# %% tags=["nbval-ignore-output"]
def encode(s):
    """A string as a (1, T) batch of token ids on the device."""
    return text.encode(s)[None].to(device)

char_model.eval()
with torch.no_grad():
    logits = char_model(encode("And the "))[:, -1]         # (1, V): scores for the next character
probs = logits.softmax(-1)[0]
top = probs.topk(5)
print(" ".join(f"{text.chars[i]!r}:{p:.2f}" for p, i in zip(top.values.tolist(), top.indices.tolist())))

# %% [markdown]
# **Greedy** decoding takes the argmax every time. It is deterministic, and for a task with
# exactly one right answer, like sorting, it is the right choice: the sort demo scores its model
# greedily. `sample_next` with its defaults is greedy:

# %%
greedy_token = sample_next(logits)                        # (1, 1)
assert greedy_token.item() == logits.argmax().item()

# %% [markdown]
# ### Temperature
#
# Sampling draws the next token from the distribution instead. Dividing the logits by a
# temperature $T$ before the softmax reshapes it: $T < 1$ sharpens it toward the argmax,
# $T > 1$ flattens it toward uniform, $T = 1$ is the model's own distribution. The entropy
# of softmax($z/T$) grows with $T$ for any logits $z$ that are not all equal:

# %% tags=["nbval-ignore-output"]
temperatures = [0.25, 0.5, 1.0, 2.0, 4.0]
entropies = []
for t in temperatures:
    p = (logits / t).softmax(-1)
    entropies.append(-(p * p.clamp_min(1e-30).log()).sum().item())
print("entropy (nats):", "  ".join(f"T={t}: {h:.3f}" for t, h in zip(temperatures, entropies)))

# %%
assert all(a < b for a, b in zip(entropies, entropies[1:]))     # true for any logits that are not all equal

# %%
shown = probs.topk(12).indices                            # the 12 likeliest characters at T = 1
fig, ax = plt.subplots(figsize=(6, 3.5))
for k, t in enumerate([0.5, 1.0, 2.0]):
    p = (logits[0] / t).softmax(-1)[shown].cpu()          # matplotlib reads host memory
    ax.bar(torch.arange(12) + (k - 1) * 0.27, p, width=0.27, label=f"T = {t}")
ax.set_xticks(range(12), [{" ": "␣", "\n": "\\n"}.get(text.chars[i], text.chars[i]) for i in shown.tolist()])
ax.set_ylabel("probability")
ax.set_title('next character after "And the "')
ax.legend()
plt.show()

# %% [markdown]
# ### Top-k and top-p
#
# Even at $T = 1$, a model spreads a little probability over many unlikely tokens, and over
# a long sample one of them gets drawn sooner or later. Two filters cut that tail before
# sampling:
#
# - **top-k** keeps the $k$ highest logits and sets the rest to $-\infty$
#   ([Fan et al. 2018](https://arxiv.org/abs/1805.04833) sampled stories from the top 10);
# - **top-p** (nucleus sampling, [Holtzman et al. 2020](https://arxiv.org/abs/1904.09751)) keeps the
#   smallest set of most likely tokens whose probabilities sum to at least $p$. Where the model
#   is sure, that set is one or two tokens; where it hesitates, it is many. The token whose
#   probability carries the running sum past $p$ is kept: that is what makes the set reach $p$.
#
# Written out explicitly, then checked against the package's `filter_logits`:

# %%
def top_k_explicit(z, k):
    kth = z.sort(dim=-1, descending=True).values[..., k - 1 : k]   # the k-th largest logit
    return torch.where(z >= kth, z, float("-inf"))

def top_p_explicit(z, p):
    sorted_z, order = z.sort(dim=-1, descending=True)
    sorted_probs = sorted_z.softmax(-1)
    mass_before = sorted_probs.cumsum(-1) - sorted_probs          # mass of the tokens ranked above
    keep_sorted = mass_before < p                                  # still short of p: keep it
    keep = torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)
    return torch.where(keep, z, float("-inf"))

for k in (1, 5, 20):
    assert torch.equal(top_k_explicit(logits, k), filter_logits(logits, top_k=k))
for p in (0.5, 0.9, 0.99):
    assert torch.equal(top_p_explicit(logits, p), filter_logits(logits, top_p=p))
assert torch.equal(filter_logits(logits, top_k=10_000), logits)   # k > vocabulary: keep all (minGPT raises)

# %% [markdown]
# How many characters does top-p = 0.9 keep? It depends on how sure the model is. After
# `"And the "` many continuations are plausible; after `"thoug"` almost only `h` is:

# %%
with torch.no_grad():
    unsure = char_model(encode("And the "))[:, -1]
    sure = char_model(encode("thoug"))[:, -1]
kept_unsure = torch.isfinite(filter_logits(unsure, top_p=0.9)).sum().item()
kept_sure = torch.isfinite(filter_logits(sure, top_p=0.9)).sum().item()

# %% tags=["nbval-ignore-output"]
print(f'top-p 0.9 keeps {kept_unsure} characters after "And the ", {kept_sure} after "thoug"')

# %% [markdown]
# The exact counts depend on the trained model; that the sure context keeps fewer is asserted:

# %%
assert kept_sure < kept_unsure

# %% [markdown]
# ## Greedy versus sampling on the sort task
#
# Sorting has one right answer, so every sampled deviation from the argmax is an error. The
# trained model is very confident (its loss is close to 0), so sampling at $T = 1$ rarely
# deviates; raising the temperature flattens the distribution until mistakes appear. Top-k
# with $k = 1$ is greedy decoding in disguise. Each sampling run draws from its own seeded
# `torch.Generator`:

# %%
L = sort_task.length
def sort_score(**options):
    generator = torch.Generator(device=device).manual_seed(0)
    out = sort_model.generate(test_problems, L, generator=generator, **options)
    return sort_task.solves(test_problems, out[:, L:]).float().mean().item(), out

greedy_acc, greedy_out = sort_score()
rows = {"greedy": greedy_acc}
for t in (1.0, 2.0, 4.0):
    rows[f"sample T={t}"], _ = sort_score(do_sample=True, temperature=t)
top1_acc, top1_out = sort_score(do_sample=True, temperature=4.0, top_k=1)
rows["sample T=4.0, top-k 1"] = top1_acc

# %% tags=["nbval-ignore-output"]
for name, acc in rows.items():
    print(f"{name:>22}: {acc:.4f}")

# %% [markdown]
# The sampled accuracies depend on the trained model and on the draws, so the tests do not
# compare them. How much do they move? Both of this chapter's models were retrained with five
# seeds under three settings (one thread with the vectorised kernels, one with the portable
# kernels, two threads with the vectorised kernels), with a resumable command whose results,
# with the command, machine and date, are committed as data; `generation_outcomes(seed)` in
# `mingpt_lab.experiments` repeats this chapter's recipe for one seed:

# %%
GENERATION_SEEDS = json.loads(Path("data/07_generation_seeds.json").read_text())
print("recorded on:", sorted({f"{a['cpu']}, torch {a['torch']}, {a['date']}" for a in GENERATION_SEEDS["about"]}))
seed_results = [run["result"] for run in GENERATION_SEEDS["runs"]]
assert len(seed_results) == 15                     # five seeds x three settings
print(f"{len(seed_results)} runs")
for t in ("1.0", "2.0", "4.0"):
    values = [r["sampled_accuracy"][t] for r in seed_results]
    print(f"sample T={t}: accuracy {min(values):.2f}-{max(values):.2f}")
print(f"greedy: {min(r['greedy_accuracy'] for r in seed_results):.4f}-{max(r['greedy_accuracy'] for r in seed_results):.4f}")

# %% [markdown]
# Over the 15 runs (five seeds, three settings) greedy decoding solved at least 99% of the test
# problems, and sampling at T = 1 about the same; T = 2 gave 0.94-0.97 and T = 4 gave 0.55-0.69.
# So the sampled accuracies move by several points between runs, and only what every run satisfies
# is asserted: greedy decoding solves at least 99% of the test problems, top-k 1 at any
# temperature *is* greedy decoding (the very same tokens), and accuracy falls as the
# temperature rises. The same runs also back the character model's bound above: its validation
# loss was 0.52-0.53 of ln V in every run.

# %%
assert greedy_acc >= 0.99 and torch.equal(top1_out, greedy_out)
assert rows["sample T=4.0"] < rows["sample T=2.0"] < rows["sample T=1.0"] <= 1.0
assert all(r["greedy_accuracy"] >= 0.99 and r["top1_is_greedy"] for r in seed_results)
assert all(r["sampled_accuracy"]["4.0"] < r["sampled_accuracy"]["2.0"] < r["sampled_accuracy"]["1.0"] <= 1.0
           for r in seed_results)
assert all(r["char_val_over_ln_vocab"] < 0.6 for r in seed_results)   # chapter's bound on the character model
print("greedy: at least 99% of the test problems; top-k 1 at T=4 gives the same tokens as greedy; "
      "accuracy falls as T rises (this run and every committed one)")

# %% [markdown]
# ## Greedy versus sampling on text
#
# Text has many good continuations, and greedy decoding shows its weakness there: the most
# likely next character, repeated, tends to fall into a loop. We generate 300 characters from
# the same prompt four ways and count how much of each sample is made of 10-character pieces
# that already occurred earlier in it:

# %%
def repeated_share(s, n=10):
    """Fraction of the n-character windows of s that occurred earlier in s."""
    seen, repeats = set(), 0
    for i in range(len(s) - n + 1):
        repeats += s[i : i + n] in seen
        seen.add(s[i : i + n])
    return repeats / (len(s) - n + 1)

assert all(repeated_share(s) == package_repeated_share(s) for s in ("abababababab", "The cat sat on the mat."))
prompt = encode("The ")
settings = {"greedy": {}, "T=0.8": dict(do_sample=True, temperature=0.8),
            "top-k 10": dict(do_sample=True, top_k=10), "top-p 0.9": dict(do_sample=True, top_p=0.9)}
samples = {}
for name, options in settings.items():
    generator = torch.Generator(device=device).manual_seed(1)
    samples[name] = text.decode(char_model.generate(prompt, 300, generator=generator, **options)[0])

# %% tags=["nbval-ignore-output"]
for name in settings:
    print(f"--- {name} (repeated 10-grams: {repeated_share(samples[name]):.2f})\n{samples[name][:240]!r}\n")

# %% [markdown]
# The samples themselves come from a trained model and differ between machines. Over the 15
# committed runs, greedy decoding repeated itself in far more of its 10-character windows than the
# sampled texts did (the ranges are in the data file); the assertion asks for a gap of 20 points, in this run and in
# every committed one.

# %%
assert all(repeated_share(samples["greedy"]) > repeated_share(samples[name]) + 0.2
           for name in settings if name != "greedy")
gaps = [r["repeated_share"]["greedy"] - max(v for k, v in r["repeated_share"].items() if k != "greedy")
        for r in seed_results]
print(f"greedy's repeated share minus the largest sampled one, over {len(gaps)} runs: {min(gaps):.2f}-{max(gaps):.2f}")
assert min(gaps) > 0.2

# %% [markdown]
# ## Reproducible sampling
#
# Sampling is random, and a reader rerunning a cell should see the same text. `generate`
# draws every sample from the `torch.Generator` it is given, never from torch's global
# random state: a seeded generator repeats a run exactly, another seed gives another run,
# and code around the call (dropout masks in a training loop, say) sees the same random
# stream as if generation had never happened.

# %%
def sample_text(seed, n=80):
    generator = torch.Generator(device=device).manual_seed(seed)
    return char_model.generate(prompt, n, do_sample=True, temperature=1.0, generator=generator)

char_model.train()                                  # generate switches to eval mode and back
global_state = torch.get_rng_state()
first, again, other = sample_text(7), sample_text(7), sample_text(8)
assert torch.equal(first, again) and not torch.equal(first, other)
assert torch.equal(global_state, torch.get_rng_state())    # the global RNG was not touched
assert char_model.training                                 # train mode restored
_ = char_model.eval()                                   # back to eval for the cells below

# %% [markdown]
# ## Why naive generation is slow
#
# Without a cache, the $t$-th new token costs a forward pass over all $t$ tokens of the
# context so far. Generating $N$ tokens from a 1-token prompt runs the model over
# $1 + 2 + \dots + N = N(N+1)/2$ positions, where $N$ would do: the cost per token grows
# linearly with the length, and the whole run quadratically.

# %%
for n in (64, 255, 1023):
    print(f"N = {n:4d}: {n * (n + 1) // 2:7d} position-forwards without a cache, {n:4d} with one "
          f"({(n + 1) / 2:.0f}x more)")

# %% [markdown]
# ## The KV cache, step by step
#
# In a causal model the hidden state at position $i$ depends only on tokens $0..i$. So once
# position $i$ has been computed, its keys and values in every layer are final: later tokens
# can read them but never change them. A generation step needs, in each layer, the query of
# the *new* position and the keys and values of *all* positions. The cache stores the latter.
# (Decoding with such a cache, and what it costs in memory and bandwidth at scale, is the
# subject of [Pope et al. 2022](https://arxiv.org/abs/2211.05102).) Here is what we are about to
# build, with this section's sizes: one sequence, 4 heads of 24 numbers, 24 positions, a
# 5-token prompt.
#
# ![Layer 0's key buffer of shape (1, 4, 24, 24) at five moments: all zeros; after the prefill, positions 0 to 4 written; after the decode steps at pos 5 and 6, one more position each; after pos 23, full. Each step attends to all positions written so far](figures/07_kv_cache_filling.svg)
#
# `model.new_kv_cache(B, max_len)` preallocates one `(k, v)` pair of buffers per layer, each
# `(B, n_head, max_len, head_dim)`, filled with zeros. Preallocating avoids growing a tensor by
# concatenation at every step. We take a 24-character sequence and a 5-character prompt:

# %%
ids = encode("First Citizen:\nBefore w")                   # (1, 24)
B, T = ids.shape
prefill = 5
cache = char_model.new_kv_cache(B, T)
c = char_model.config
assert len(cache) == c.n_layer
for k_buf, v_buf in cache:
    assert k_buf.shape == v_buf.shape == (B, c.n_head, T, c.n_embd // c.n_head)   # (1, 4, 24, 24)
print(f"{c.n_layer} layers x (k, v), each {tuple(cache[0][0].shape)} = (B, heads, positions, head_dim)")

# %% [markdown]
# **Prefill**: the prompt goes through the model in one forward call with `kv_cache=cache,
# pos=0`. Each attention layer writes its keys and values into positions 0..4 of its buffers
# and attends over them (with the causal mask, as in training). The rest of the buffers is
# still zero.

# %%
steps = []
with torch.no_grad():
    steps.append(char_model(ids[:, :prefill], kv_cache=cache, pos=0))    # (1, 5, V)
k0, v0 = cache[0]
assert k0[:, :, :prefill].abs().sum() > 0 and k0[:, :, prefill:].abs().sum() == 0
print("positions of layer 0's key buffer written so far:",
      (k0.abs().sum(dim=(0, 1, 3)) > 0).nonzero().flatten().tolist())

# %% [markdown]
# **Decode**: each further token is one forward call over a *single* position `pos`. Inside
# every layer the new key and value are written at `pos`, and the one new query attends to
# keys 0..pos read from the buffers: a (1 × (pos+1)) attention instead of a full
# ((pos+1) × (pos+1)) one, and the MLPs run on one position instead of pos+1.

# %%
with torch.no_grad():
    for pos in range(prefill, T):
        steps.append(char_model(ids[:, pos : pos + 1], kv_cache=cache, pos=pos))   # (1, 1, V)
stepwise = torch.cat(steps, dim=1)                                                  # (1, 24, V)
assert stepwise.shape == (B, T, text.vocab_size)
assert (k0.abs().sum(dim=(0, 1, 3)) > 0).all()                                     # every position written
assert torch.equal(stepwise, cached_logits(char_model, ids, prefill=prefill))      # the package does the same

# %% [markdown]
# What is stored is exactly what a full forward computes. We catch layer 0's keys and values
# during an ordinary forward over all 24 tokens (a hook on the layer's `qkv` projection) and
# compare them with the buffers:

# %%
captured = {}
hook = char_model.blocks[0].attn.qkv.register_forward_hook(lambda mod, inp, out: captured.update(qkv=out))
with torch.no_grad():
    full = char_model(ids)                                        # (1, 24, V), no cache
hook.remove()
_, k_full, v_full = captured["qkv"].split(c.n_embd, dim=2)        # each (B, T, C)
heads = lambda x: x.view(B, T, c.n_head, c.n_embd // c.n_head).transpose(1, 2)   # -> (B, H, T, D)
torch.testing.assert_close(k0, heads(k_full), atol=1e-6, rtol=1e-5)
torch.testing.assert_close(v0, heads(v_full), atol=1e-6, rtol=1e-5)

# %% [markdown]
# ### Cached logits equal a full recompute
#
# The logits computed one position at a time through the cache equal the logits of one full
# forward pass. Not bit for bit: the full pass multiplies a (24 × 24) attention matrix and
# (24 × C) activations, the cached pass one row at a time, and float32 sums in a different
# order round differently. The tolerance, `atol = rtol = 1e-5`, is far below what a real
# mistake produces: feeding a step at the wrong position (here: one off) changes the logits
# by orders of magnitude more.

# %%
max_diff = (stepwise - full).abs().max().item()
with torch.no_grad():   # a deliberately wrong cache step: the last token fed at the wrong position
    wrong_cache = char_model.new_kv_cache(B, T)
    char_model(ids[:, : T - 1], kv_cache=wrong_cache, pos=0)
    wrong = char_model(ids[:, T - 1 :], kv_cache=wrong_cache, pos=T - 2)[:, -1]
wrong_diff = (wrong - full[:, -1]).abs().max().item()

# %% tags=["nbval-ignore-output"]
print(f"largest |cached - full| logit difference: {max_diff:.1e} (logits up to {full.abs().max().item():.1f})")
print(f"wrong position: difference {wrong_diff:.2f}")

# %% [markdown]
# The first number is rounding: it changes with the thread count and the CPU's kernels
# (between 2.9e-6 and 4.3e-6 in the runs we measured), so it is not compared, only bounded. The
# bound, `atol = rtol = 1e-5`, allows about a hundred float32 roundings ($2^{-23} \approx 1.2 \times 10^{-7}$ each)
# of logits of size 10, at least twice what we measured; a real mistake is nothing like it: the
# wrong position moves the logits by about 1.5, over 10^5 times more.

# %%
torch.testing.assert_close(stepwise, full, atol=1e-5, rtol=1e-5)
assert wrong_diff > 1e3 * max(max_diff, 1e-6)
print("cached == full recompute within 1e-5; the wrong position is over 1000x further off")

# %% [markdown]
# The same holds for generation as a whole: greedy decoding with and without the cache picks
# the same tokens, for a batch of prompts, and also in a run that goes past `block_size` (32
# here). There the cache cannot continue: the positions are learned embeddings 0..31, and
# every cached key was computed with its own position embedding, so the window cannot slide
# by one. `generate` then falls back to minGPT's behaviour, cropping the context to its last
# 32 tokens and recomputing them for each further token.

# %%
prompts = torch.stack([text.encode(s) for s in ("The ", "And ", "KING", "What")]).to(device)   # (4, 4)
with_cache = generate(char_model, prompts, 100, use_cache=True)        # 104 tokens: crosses block_size 32
without = generate(char_model, prompts, 100, use_cache=False)
assert with_cache.shape == (4, 104) and torch.equal(with_cache, without)

# %% [markdown]
# ### What the cache costs in memory
#
# Per sequence, the cache holds 2 (keys and values) × layers × positions × width numbers. For
# our small model that is nothing; for GPT-2 (12 layers, 768 wide, 1,024 positions) it is
# $2 \cdot 12 \cdot 1024 \cdot 768 \cdot 4$ bytes $= 72$ MiB
# per sequence in float32, and it grows with batch size: the price of the speed.

# %%
def cache_bytes(n_layer, n_embd, positions, batch=1, bytes_per_number=4):
    return 2 * n_layer * positions * n_embd * batch * bytes_per_number

assert cache_bytes(c.n_layer, c.n_embd, c.block_size) == sum(k.nbytes + v.nbytes for k, v in char_model.new_kv_cache(1))
for name, (n_layer, n_embd, positions) in {"this char model": (c.n_layer, c.n_embd, c.block_size),
                                           "gpt-mini, block 256": (6, 192, 256),
                                           "GPT-2 small, block 1024": (12, 768, 1024)}.items():
    print(f"{name:>24}: {cache_bytes(n_layer, n_embd, positions) / 2**20:7.2f} MiB per sequence")

# %% [markdown]
# ## Measuring: tokens per second as the sequence grows
#
# Now the speed. We time `generate` with and without the cache on an untrained model of
# 2 layers, 128 wide (the weights do not matter for speed) with a 256-token context, from a
# 1-token prompt to 16 .. 255 new tokens, at batch 1 and batch 8. The two methods alternate,
# so a busy machine slows them alike, and we keep the faster of two rounds. The timings depend
# on the machine, so the next two cells are not compared by the tests. On a CPU the cache is
# faster for long runs, asserted with a wide margin; on a GPU a model this small runs at the
# speed of its kernel launches, so there the assert asks less (see the cell).

# %%
timing_model = GPT(GPTConfig(vocab_size=65, block_size=256, n_layer=2, n_head=4, n_embd=128)).to(device).eval()
lengths = [16, 32, 64, 128, 255]
batch_sizes = [1, 8]
seconds = {(b, n, cached): math.inf for b in batch_sizes for n in lengths for cached in (True, False)}
for b in batch_sizes:
    start_tokens = torch.zeros(b, 1, dtype=torch.long, device=device)
    generate(timing_model, start_tokens, 8)                               # warm-up
    for _ in range(2):                                                    # keep the faster of two runs
        for n in lengths:
            for cached in (True, False):
                synchronize(device)                                       # a GPU runs ahead of Python:
                t0 = time.perf_counter()                                  # time from idle to done
                generate(timing_model, start_tokens, n, use_cache=cached)
                synchronize(device)
                seconds[b, n, cached] = min(seconds[b, n, cached], time.perf_counter() - t0)
tokens_per_s = {key: key[0] * key[1] / s for key, s in seconds.items()}

# %% tags=["nbval-ignore-output"]
for b in batch_sizes:
    for n in lengths:
        with_c, without_c = tokens_per_s[b, n, True], tokens_per_s[b, n, False]
        print(f"batch {b}, {n:3d} tokens: {with_c:8.0f} tokens/s with cache, {without_c:8.0f} without "
              f"({with_c / without_c:4.1f}x)")
speedup_longest = {b: tokens_per_s[b, 255, True] / tokens_per_s[b, 255, False] for b in batch_sizes}
if device.type == "cpu":   # compute-bound: the cache saves most of the arithmetic
    assert speedup_longest[8] > 3 and speedup_longest[1] > 1.5
else:   # a GPU runs a model this small at the speed of its kernel launches, about 40 per token with
    # or without the cache (41 and 37 operator calls), so the two are about as fast; asserted: not 2x slower
    assert speedup_longest[8] > 0.5 and speedup_longest[1] > 0.5

# %% tags=["nbval-ignore-output"]
fig, ax = plt.subplots(figsize=(6, 3.5))
for b, style in zip(batch_sizes, ("-", "--")):
    ax.plot(lengths, [tokens_per_s[b, n, True] for n in lengths], "o" + style, color="C0", label=f"cache, batch {b}")
    ax.plot(lengths, [tokens_per_s[b, n, False] for n in lengths], "s" + style, color="C3", label=f"recompute, batch {b}")
ax.set_xscale("log", base=2)
ax.set_yscale("log")
ax.set_xlabel("new tokens generated")
ax.set_ylabel("tokens / s")
ax.set_title("generation speed, 2 layers x 128")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# Without the cache, throughput falls steadily as the sequence grows, roughly as $1/N$,
# because every step recomputes the whole context: the cost of a run is quadratic in its
# length. With the cache each step does a fixed amount of MLP work plus an attention over the
# cached positions, so its cost does not grow that way. At batch 1 the cached column is noisy
# rather than flat: a step this small is dominated by fixed per-call overhead (Python, kernel
# launches), which jumps with whatever else the machine is doing. What holds on every CPU run is
# the assert above: at the longest length the cache is faster at both batch sizes.
# `mingpt-lite bench generate` measures the same on gpt-mini with repeats, side by side with
# minGPT's `generate`.
#
# So the notes' slow inference was, at least in part, normal: autoregressive generation is a
# sequential loop of small steps, and without a cache each step redoes all the previous work.
# Chapter 12 shows the JAX side, where a second problem appears: every new sequence length
# is a new shape, and a new shape means a new XLA compilation.
#
# ## What you learned
#
# - Generation is a loop: logits of the last position, a choice of token, append, repeat.
#   Greedy decoding takes the argmax; sampling divides the logits by a temperature, optionally
#   keeps only the top-k tokens or the top-p nucleus, and draws from a seeded generator.
# - For a task with one right answer (sorting) greedy is right and every sampled deviation is an
#   error; for text, greedy falls into loops and sampling does not.
# - A KV cache works because causal attention never changes a past position's keys and values:
#   one prefill over the prompt, then one position per step into preallocated (B, H, L, D) buffers.
# - Cached logits equal a full recompute up to float rounding (asserted within 1e-5), and the
#   cache turns the quadratic cost of a run into a linear one; it stops at `block_size`, where
#   learned positions cannot slide.
# - The cache costs memory, 2 x layers x positions x width numbers per sequence.
#
# ## Exercises
#
# Worked answers are in [the worked solution](solutions/07_generation.ipynb).
#
# ### Exercise 7.1 (implement): a top-p filter
#
# Write `my_top_p(logits, p)` for logits of shape (..., V): return the same logits with every
# token outside the nucleus set to `-inf`. The nucleus is the smallest set of most probable
# tokens whose probabilities sum to at least `p` (so the most probable token is always in it).
# Check it with `from mingpt_lite.exercises import check; check("7.1", my_top_p)`; the checker
# compares it with `filter_logits(logits, top_p=p)` on rows where the token that crosses `p`
# decides the answer.
#
# ### Exercise 7.2 (implement): temperature, then top-p
#
# Write `my_probs(logits, temperature, top_p)` returning the probabilities (B, V) that
# `sample_next(logits, do_sample=True, temperature=..., top_p=...)` draws from (`top_p` may be
# None). Before you write it: does it matter whether the temperature is applied before or after
# the top-p filter? `check("7.2", my_probs)`.
#
# ### Exercise 7.3 (implement): one cache write
#
# Inside every attention layer, a cached forward call over `T` new positions starting at `pos`
# writes their keys and values into the layer's buffers and attends over everything written
# so far. Write `my_cache_write(k_buf, v_buf, k, v, pos)`: the buffers are (B, H, L, D), the new
# `k` and `v` are (B, H, T, D); write them in place and return the `(keys, values)` the new
# queries attend to. `check("7.3", my_cache_write)` compares your buffers with the ones the
# model's own attention fills during a prefill and a decode step.
#
# ### Exercise 7.4 (explain): top-k 5 at temperature 2 on the sort model
#
# Sampling the sort model at `temperature=2.0` makes mistakes. Predict what adding `top_k=5`
# does to its accuracy, then measure it with `sort_score(do_sample=True, temperature=2.0,
# top_k=5)`, and explain the result from the sort task's vocabulary. Which `top_k` does change
# the accuracy at this temperature, and why? (The same `top_k=5` on the character model is a
# different story: how many of its characters does it remove?)
