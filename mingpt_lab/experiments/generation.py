"""Chapter 7's experiment: its sort and character models retrained over seeds."""

from __future__ import annotations

import math

import torch

from mingpt_lite.config import GPTConfig
from mingpt_lite.data import CharDataset, SortTask
from mingpt_lite.generation import repeated_share
from mingpt_lite.model import GPT
from mingpt_lite.trainer import Trainer, TrainerConfig

from mingpt_lab.experiments.results import in_item_setting

SAMPLING_TEMPERATURES = (1.0, 2.0, 4.0)


def generation_outcomes(seed: int) -> dict:
    """Chapter 7's sort and character models trained with ``seed``; the numbers its claims are about.

    Sort model: gpt-nano on the demo task, 500 steps at 5e-3 with cosine decay; greedy
    accuracy on every test problem, sampled accuracy at each of :data:`SAMPLING_TEMPERATURES`
    (draws seeded 0) and whether top-k 1 at T=4 gives greedy's tokens. Character model: 2
    layers, width 96, 300 steps on Tiny Shakespeare; validation loss over ln(vocabulary),
    and :func:`~mingpt_lite.generation.repeated_share` of 300 characters from "The " for
    greedy, T=0.8, top-k 10 and top-p 0.9 (draws seeded 1).
    """
    task = SortTask(length=6, num_digits=3)
    torch.manual_seed(seed)
    model = GPT(GPTConfig.from_preset("gpt-nano", vocab_size=task.vocab_size, block_size=task.block_size,
                                      dropout=0.0))
    Trainer(model, task, TrainerConfig(max_iters=500, batch_size=64, learning_rate=5e-3, lr_schedule="cosine",
                                       warmup_iters=50, seed=seed, progress=False, device="cpu")).train()
    problems, L = task.all_problems("test"), task.length

    def score(**options):
        out = model.generate(problems, L, generator=torch.Generator().manual_seed(0), **options)
        return task.solves(problems, out[:, L:]).float().mean().item(), out

    greedy, greedy_out = score()
    sampled = {str(t): score(do_sample=True, temperature=t)[0] for t in SAMPLING_TEMPERATURES}
    _, top1_out = score(do_sample=True, temperature=4.0, top_k=1)

    text = CharDataset.from_corpus("tinyshakespeare", block_size=32)
    torch.manual_seed(seed)
    char_model = GPT(GPTConfig(vocab_size=text.vocab_size, block_size=32, n_layer=2, n_head=4, n_embd=96,
                               dropout=0.0))
    trainer = Trainer(char_model, text, TrainerConfig(max_iters=300, batch_size=32, learning_rate=3e-3,
                                                      lr_schedule="cosine", warmup_iters=40, seed=seed,
                                                      progress=False, eval_iters=8, device="cpu"))
    trainer.train()
    val_loss = trainer.evaluate(["val"])["val_loss"]
    prompt = text.encode("The ")[None]
    decodings = {"greedy": {}, "T=0.8": dict(do_sample=True, temperature=0.8),
                 "top-k 10": dict(do_sample=True, top_k=10), "top-p 0.9": dict(do_sample=True, top_p=0.9)}
    repeats = {name: repeated_share(text.decode(char_model.generate(
        prompt, 300, generator=torch.Generator().manual_seed(1), **options)[0])) for name, options in decodings.items()}
    return {"greedy_accuracy": greedy, "sampled_accuracy": sampled, "top1_is_greedy": bool(torch.equal(top1_out, greedy_out)),
            "char_val_over_ln_vocab": val_loss / math.log(text.vocab_size), "repeated_share": repeats}


def generation_item(item: dict) -> dict:
    return generation_outcomes(in_item_setting(item)["seed"])

