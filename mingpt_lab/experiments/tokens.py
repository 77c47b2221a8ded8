"""Chapter 14's experiment: characters against BPE tokens on Tiny Shakespeare at equal training FLOPs.

The author's notes call tokenization a premature optimization for a model this small. Here a
character model and byte-level BPE models (vocabularies 512 and 1024, trained with
:func:`~mingpt_lite.tokenizer.train_bpe` on the training split only) get the same model shape,
the same batch of windows of the same length *in tokens*, and the same training compute in
FLOPs, so a BPE model takes a few fewer steps but reads more characters in each.

Compute is counted, not timed, so the budget is the same on every machine. Per token trained on,
a step costs ``6 * N + 12 * n_layer * n_embd * block_size`` FLOPs (Kaplan et al. 2020, with the
attention term as in the PaLM paper's appendix B): ``N`` counts the parameters a token's
forward and backward multiply through, the blocks plus the head's ``vocab_size * n_embd``, not
the embedding tables (a lookup, no multiply). Each model's step count is the budget divided by
its cost per step, rounded down.

Every model is scored in bits per character on the same validation text (the last 10% of
the characters): the next-token losses summed over consecutive non-overlapping windows of
the tokenised validation text, divided by ``ln 2`` and by the number of characters the
predicted tokens decode to.
"""

from __future__ import annotations

import functools
import math

import torch

from mingpt_lite.config import GPTConfig
from mingpt_lite.data import CharDataset, TokenDataset, load_corpus, split_text
from mingpt_lite.model import GPT
from mingpt_lite.tokenizer import train_bpe
from mingpt_lite.trainer import Trainer, TrainerConfig

from mingpt_lab.bench.char import val_windows, windowed_val_loss
from mingpt_lab.experiments.results import in_item_setting

#: The models compared: "char" or a BPE vocabulary size.
TOKENIZERS = ("char", 512, 1024)
#: Shared by every model: gpt-micro's shape, windows of 64 tokens, 32 windows a step.
SHAPE = dict(n_layer=4, n_head=4, n_embd=128)
BLOCK_SIZE = 64
BATCH_SIZE = 32
#: The training budget in FLOPs: chapter 9's 450 steps, of the character model (about 4.8e12).
CHAR_STEPS = 450
SAMPLE_CHARS = 200
SAMPLE_TEMPERATURE = 0.8


def flops_per_token(vocab_size: int, n_layer: int = SHAPE["n_layer"], n_embd: int = SHAPE["n_embd"],
                    block_size: int = BLOCK_SIZE) -> int:
    """Training FLOPs per token: ``6 * N`` for the matmul parameters (12 n_embd² per block, the
    head's vocab_size·n_embd) plus ``12 * n_layer * n_embd * block_size`` for attention's scores
    and weighted sum (forward and backward, a full window). Biases and norms are left out."""
    n = 12 * n_layer * n_embd**2 + vocab_size * n_embd
    return 6 * n + 12 * n_layer * n_embd * block_size


def budget_flops(char_vocab_size: int = 65) -> int:
    """The shared budget: :data:`CHAR_STEPS` steps of the character model (65 characters in Tiny Shakespeare)."""
    return CHAR_STEPS * BATCH_SIZE * BLOCK_SIZE * flops_per_token(char_vocab_size)


def steps_for(vocab_size: int, budget: int) -> int:
    """The whole steps a model with ``vocab_size`` can take within ``budget`` FLOPs."""
    return budget // (BATCH_SIZE * BLOCK_SIZE * flops_per_token(vocab_size))


@functools.lru_cache(maxsize=4)
def dataset(tokenizer: str | int) -> CharDataset:
    """Tiny Shakespeare as characters, or as BPE tokens of a vocabulary trained on its training split."""
    text = load_corpus("tinyshakespeare")
    if tokenizer == "char":
        return CharDataset(text, BLOCK_SIZE)
    train_text, _ = split_text(text)  # the tokenizer never sees the validation text
    return TokenDataset(text, train_bpe(train_text, int(tokenizer)), BLOCK_SIZE)


def bits_per_character(model: GPT, data: CharDataset, batch_size: int = 64) -> dict:
    """``model``'s bits per character on ``data``'s validation split, with the Shakespeare benchmark's
    estimator (:func:`~mingpt_lab.bench.char.windowed_val_loss`).

    The split's tokens are cut into consecutive windows of ``block_size`` inputs and their next
    tokens (:func:`~mingpt_lab.bench.char.val_windows`), so every token but the first is predicted
    exactly once, with up to ``block_size`` tokens of context; the tail that does not fill a window
    is left out. Bits = the summed losses / ln 2; characters = the length of the predicted tokens'
    decoded text (Tiny Shakespeare is ASCII: a byte is a character).
    """
    tokens = data.data["val"].cpu()
    _, targets = val_windows(tokens, data.block_size)
    predicted = data.decode(targets.flatten())
    if not predicted.isascii():
        raise ValueError("bits per character assumes one byte per character; this text is not ASCII")
    nats = windowed_val_loss(model.eval(), tokens, data.block_size, batch_size) * targets.numel()
    return {"bits_per_char": nats / math.log(2) / len(predicted), "val_tokens_scored": targets.numel(),
            "val_chars_scored": len(predicted), "val_nats": nats}


def tokens_outcomes(tokenizer: str | int, seed: int) -> dict:
    """One model of the comparison trained with ``seed`` at the shared budget; its score and a sample.

    AdamW at 2e-3 with 50 warmup steps and a cosine decay to 1e-4 (chapter 9's recipe), no dropout.
    The sample: :data:`SAMPLE_CHARS` characters at temperature :data:`SAMPLE_TEMPERATURE` after a
    newline, draws seeded 0.
    """
    data = dataset(tokenizer)
    budget = budget_flops(dataset("char").vocab_size)
    steps = steps_for(data.vocab_size, budget)
    torch.manual_seed(seed)
    model = GPT(GPTConfig(vocab_size=data.vocab_size, block_size=BLOCK_SIZE, dropout=0.0, **SHAPE))
    trainer = Trainer(model, data, TrainerConfig(
        max_iters=steps, batch_size=BATCH_SIZE, learning_rate=2e-3, lr_schedule="cosine", warmup_iters=50,
        min_lr=1e-4, eval_interval=steps, eval_iters=1, seed=seed, progress=False, device="cpu"))
    trainer.train()
    score = bits_per_character(model, data)
    prompt = data.encode("\n")[None]
    # generate until the decoded text is long enough: a BPE token is one or more characters
    out = model.generate(prompt, SAMPLE_CHARS, do_sample=True, temperature=SAMPLE_TEMPERATURE,
                         generator=torch.Generator().manual_seed(0))
    sample = data.decode(out[0, 1:])[:SAMPLE_CHARS]
    return {"vocab_size": data.vocab_size, "steps": steps, "flops_per_token": flops_per_token(data.vocab_size),
            "budget_flops": budget, "train_chars_per_step": round(BATCH_SIZE * BLOCK_SIZE * _chars_per_token(data), 1),
            **score, "sample": sample}


def _chars_per_token(data: CharDataset) -> float:
    """Characters per token of the training split (1 for characters)."""
    if isinstance(data, TokenDataset):
        return len(data.texts["train"]) / data.data["train"].numel()
    return 1.0


def tokens_item(item: dict) -> dict:
    item = in_item_setting(item)
    return tokens_outcomes(item["tokenizer"], item["seed"])
