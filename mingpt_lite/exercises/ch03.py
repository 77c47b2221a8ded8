"""Checkers for chapter 03 (initialisation).

- 3.1: an init function ``my_init(model, n_layer)`` that applies GPT-2's rules in place.
- 3.2: a predicted number, the loss at initialisation with GPT-2's vocabulary.

Both compare with the package's own reference (:func:`mingpt_lite.init.init_gpt_weights`,
:func:`mingpt_lite.init.residual_std`), never with a copy of a solution.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from ..config import GPTConfig
from ..init import ResidualProjection, init_gpt_weights, residual_std
from ..model import GPT
from . import Hint, checker

# The model 3.1 is checked on: deep enough that 1/sqrt(n_layer) and 1/sqrt(2 n_layer) are far
# apart, wide enough that every pooled standard deviation is measured to about 1%.
_INIT_CONFIG = GPTConfig(vocab_size=50, block_size=32, n_layer=4, n_head=4, n_embd=64, dropout=0.0)
# Relative tolerance on a measured standard deviation. The smallest pooled group (the two
# embedding tables, 5,248 numbers) has a relative standard error of about 1%, so 8% is far
# outside sampling noise and far inside the gaps between the candidate rules (a factor 1.41 or more).
_STD_TOLERANCE = 0.08


def _pooled_std(tensors: list[torch.Tensor]) -> float:
    return torch.cat([t.detach().flatten().float() for t in tensors]).std().item()


def _close(measured: float, target: float) -> bool:
    return abs(measured / target - 1) < _STD_TOLERANCE


def _scrambled_model() -> GPT:
    """A GPT whose Linear and Embedding tensors hold values no init rule would give (uniform in
    [-1, 1], biases too), so an attempt that leaves any of them alone is caught."""
    model = GPT(_INIT_CONFIG)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                for param in module.parameters(recurse=False):
                    param.uniform_(-1.0, 1.0)
    return model


@checker("3.1")
def check_init(attempt) -> str:
    """``attempt(model, n_layer)`` initialises ``model`` in place by GPT-2's rules (as
    :func:`~mingpt_lite.init.init_gpt_weights` does)."""
    n_layer = _INIT_CONFIG.n_layer
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = _scrambled_model()
        n_params = model.num_parameters(include_head=True)
        attempt(model, n_layer)
        reference = _scrambled_model()
        init_gpt_weights(reference, n_layer)

    if model.num_parameters(include_head=True) != n_params:
        lost = n_params - model.num_parameters(include_head=True)
        raise Hint(f"{lost:,} parameters disappeared: assigning `module.bias = None` unregisters the bias "
                   "instead of zeroing it; write into it with nn.init.zeros_(module.bias)")
    for name, module in model.named_modules():
        if isinstance(module, nn.LayerNorm):
            if not (torch.equal(module.weight, torch.ones_like(module.weight))
                    and torch.equal(module.bias, torch.zeros_like(module.bias))):
                raise Hint(f"LayerNorm {name} was touched: a LayerNorm starts as the identity (gain 1, bias 0). "
                           "Rule 1 draws Linear and Embedding weights only; check your isinstance tests")
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear) and module.bias is not None and module.bias.abs().max() > 0:
            raise Hint(f"{name}.bias is not zero: biases start at 0 (nn.init.zeros_), only weights are drawn")

    embeddings = [model.token_embedding.weight, model.position_embedding.weight]
    if not _close(_pooled_std(embeddings), 0.02):
        raise Hint(f"the embedding tables have std {_pooled_std(embeddings):.4f}, not 0.02: "
                   "nn.Embedding weights are drawn from N(0, 0.02) too")

    target = residual_std(n_layer)
    projections = {name: m.weight for name, m in model.named_modules() if isinstance(m, ResidualProjection)}
    others = {name: m.weight for name, m in model.named_modules()
              if type(m) is nn.Linear}  # qkv, expand, lm_head: plain Linear layers
    measured = _pooled_std(list(projections.values()))
    if _close(_pooled_std(list(others.values())), target):
        raise Hint(f"every Linear layer has std {target:.4f}: you scaled all of them, but only the residual "
                   "projections (the layers whose output is added to the stream) get 0.02/sqrt(2·n_layer); "
                   "qkv, the MLP's expand and the head keep 0.02")
    if _close(measured, 0.02):
        raise Hint("the residual projections have std 0.02: the 1/sqrt(2·n_layer) scaling is missing. "
                   "Find them by type, isinstance(module, ResidualProjection) (our layers are not called c_proj), "
                   "and test that before the generic nn.Linear case")
    if _close(measured, 0.02 / math.sqrt(n_layer)):
        raise Hint(f"the residual projections have std 0.02/sqrt(n_layer) = {measured:.4f}: each block adds "
                   f"*two* branches to the stream (attention and MLP), so divide by sqrt(2·n_layer) = "
                   f"sqrt({2 * n_layer}), giving {target:.4f}")
    if _close(measured, 0.02 / (2 * n_layer)) or _close(measured, 0.02 / n_layer):
        raise Hint(f"the residual projections have std {measured:.4f}: you divided by n rather than by sqrt(n); "
                   "variances add, so scaling each of 2·n_layer terms by 1/sqrt(2·n_layer) keeps the sum's variance fixed")
    for name, weight in projections.items():
        if not _close(_pooled_std([weight]), target):
            raise Hint(f"{name}.weight has std {_pooled_std([weight]):.4f}, expected {target:.4f} "
                       "like every other residual projection; did you match some of them by name?")
    for name, weight in others.items():
        if not _close(_pooled_std([weight]), 0.02):
            raise Hint(f"{name}.weight has std {_pooled_std([weight]):.4f}, expected 0.02 (rule 1)")
    means = [abs(p.detach().mean().item()) for p in list(projections.values()) + list(others.values()) + embeddings]
    if max(means) > 0.01:
        raise Hint("some weights are not centred at 0: draw them from a normal with mean 0")
    # Same statistics as the package's own init, group by group.
    for name, param in model.named_parameters():
        ref = dict(reference.named_parameters())[name]
        if ref.dim() >= 2 and not _close(_pooled_std([param]), _pooled_std([ref])):
            raise Hint(f"{name} has std {_pooled_std([param]):.4f}; init_gpt_weights gives {_pooled_std([ref]):.4f}")
    return (f"Linear and Embedding weights ~ N(0, 0.02), the {len(projections)} residual projections ~ "
            f"N(0, {target:.4f}), biases 0, LayerNorm untouched")


# 3.2: the loss at initialisation of gpt-micro (n_embd 128) with GPT-2's vocabulary.
GPT2_VOCAB = 50257


def expected_initial_loss(vocab_size: int, n_embd: int, std: float = 0.02) -> float:
    """ln V plus the second-order excess sigma^2/2 (1 - 1/V), sigma = std * sqrt(n_embd) the logits' spread."""
    sigma = std * math.sqrt(n_embd)
    return math.log(vocab_size) + sigma**2 / 2 * (1 - 1 / vocab_size)


@checker("3.2")
def check_initial_loss(prediction) -> str:
    """``prediction``: the loss at initialisation of gpt-micro with V = 50,257, on random tokens and targets."""
    try:
        value = float(prediction)
    except (TypeError, ValueError):
        raise Hint(f"give a number (the loss), got {type(prediction).__name__}") from None
    reference = expected_initial_loss(GPT2_VOCAB, GPTConfig.from_preset("gpt-micro", vocab_size=GPT2_VOCAB).n_embd)
    ln_v = math.log(GPT2_VOCAB)
    if abs(value - ln_v) < 0.1 or abs(value - reference) < 0.05:
        return (f"ln(50257) = {ln_v:.3f}, plus about {reference - ln_v:.3f} from the logits' spread; "
                "now measure it")
    if abs(value - math.log10(GPT2_VOCAB)) < 0.05:
        raise Hint("that is log10(V): cross entropy (PyTorch's cross_entropy) uses the natural logarithm")
    if abs(value - math.log2(GPT2_VOCAB)) < 0.05:
        raise Hint("that is log2(V), the loss in bits: PyTorch's cross_entropy is in nats (natural log)")
    if value < 0:
        raise Hint("a cross entropy is never negative: it is -ln(probability of the target), and probabilities are <= 1")
    if abs(value - 1 / GPT2_VOCAB) < 1e-3 or abs(value - GPT2_VOCAB) < 1:
        raise Hint("that is a probability (1/V) or the vocabulary size; the loss is -ln of the target's probability")
    if abs(value - math.log(65)) < 0.05:
        raise Hint("ln(65) is the character vocabulary of the chapter; this exercise uses GPT-2's V = 50,257")
    if value > ln_v:
        raise Hint(f"too high: with std 0.02 the logits are small (spread about {0.02 * math.sqrt(128):.2f}), "
                   "so the model starts close to a uniform guess over the V tokens")
    raise Hint("too low: a model that knows nothing cannot beat a uniform guess over the V tokens on random targets")
