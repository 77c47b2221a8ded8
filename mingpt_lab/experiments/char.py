"""Chapter 9's experiment: its character model on Tiny Shakespeare retrained over seeds."""

from __future__ import annotations

import re

import torch

from mingpt_lite.config import GPTConfig
from mingpt_lite.data import CharDataset
from mingpt_lite.model import GPT
from mingpt_lite.trainer import Trainer, TrainerConfig

from mingpt_lab.experiments.results import in_item_setting

# Chapter 9's claims, over seeds: its character model on Tiny Shakespeare retrained with another seed.
def _words(text: str) -> list[str]:
    """Chapter 9's words: runs of three or more ASCII letters."""
    return re.findall(r"[A-Za-z]{3,}", text)


def known_word_share(text: str, known_words: set[str]) -> float:
    """The share of ``text``'s words (runs of three or more ASCII letters) found in ``known_words``
    (0 when it has none): chapter 9's measure of "made of words"."""
    words = _words(text)
    return sum(word in known_words for word in words) / max(1, len(words))


def shakespeare_outcomes(seed: int, max_iters: int = 450) -> dict:
    """Chapter 9's character model trained with ``seed``; the numbers its claims are about.

    gpt-micro (width 128, 4 layers), block 64, no dropout, ``max_iters`` steps of 32 windows at
    2e-3 with 50 warmup steps and a cosine decay to 1e-4, on the packaged Tiny Shakespeare; the
    final evaluation's train and validation loss (8 batches each), and the known-word share of 300
    characters sampled at temperature 0.8 from a newline (draws seeded 0) after training and of
    200 drawn at temperature 1 before it. With seed 0 this is the chapter's own run.
    """
    data = CharDataset.from_corpus("tinyshakespeare", block_size=64)
    V = data.vocab_size
    torch.manual_seed(seed)
    model = GPT(GPTConfig.from_preset("gpt-micro", vocab_size=V, block_size=64, dropout=0.0))
    prompt = data.encode("\n")[None]

    def sample(n, **options):
        out = model.generate(prompt, n, do_sample=True, generator=torch.Generator().manual_seed(0), **options)
        return data.decode(out[0, 1:])

    before = sample(200)
    trainer = Trainer(model, data, TrainerConfig(
        max_iters=max_iters, batch_size=32, learning_rate=2e-3, lr_schedule="cosine", warmup_iters=50,
        min_lr=1e-4, eval_interval=50, eval_iters=8, seed=seed, progress=False, device="cpu"))
    trainer.train()
    known = set(_words(data.decode(data.data["train"])))
    # the last scheduled evaluation is the final one when the run ends on the interval
    last = trainer.evaluations[-1] if trainer.iter_num % trainer.config.eval_interval == 0 else trainer.evaluate()
    return {"val_loss": last["val_loss"], "train_loss": last["train_loss"], "iters": trainer.iter_num,
            "known_share_before": known_word_share(before, known),
            "known_share_after": known_word_share(sample(300, temperature=0.8), known)}


def shakespeare_item(item: dict) -> dict:
    item = in_item_setting(item)
    return shakespeare_outcomes(item["seed"], item["max_iters"])
