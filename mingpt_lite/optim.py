"""AdamW with weight decay only where it makes sense, decided outside the model.

Weight decay pulls parameters toward zero. That is a useful prior for the big
matrices that mix features (Linear weights), but not for biases and LayerNorm
gains (scalars per channel, where zero is not a sensible default) nor for
embeddings (a lookup table whose rare rows would just shrink away).
"""

from __future__ import annotations

import torch
import torch.nn as nn

RULES = ("mingpt", "dim")


def _decays(module: nn.Module, name: str, param: nn.Parameter, rule: str) -> bool:
    if rule == "dim":  # nanoGPT's rule: every matrix decays, every vector does not
        return param.dim() >= 2
    # minGPT's rule, by module type: only a Linear layer's weight decays.
    return isinstance(module, nn.Linear) and name == "weight"


def parameter_groups(model: nn.Module, weight_decay: float, rule: str = "mingpt") -> list[dict]:
    """Split ``model``'s parameters into a decayed and a non-decayed AdamW group.

    ``rule="mingpt"``: decay Linear weights; not biases, LayerNorm or Embedding weights.
    ``rule="dim"``: decay every parameter with two or more dimensions.
    A tensor shared by several modules (a tied head) appears once; if any of its
    owners says "no decay" (the embedding does), it is not decayed.
    """
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    params: dict[int, nn.Parameter] = {}
    decide: dict[int, bool] = {}
    # remove_duplicate=False: see every owner of a shared tensor, not just the first.
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False, remove_duplicate=False):
            key = id(param)
            params[key] = param
            decide[key] = decide.get(key, True) and _decays(module, name, param, rule)
    decay = [p for k, p in params.items() if decide[k] and p.requires_grad]
    no_decay = [p for k, p in params.items() if not decide[k] and p.requires_grad]
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def configure_adamw(
    model: nn.Module,
    lr: float = 5e-4,
    weight_decay: float = 0.1,
    betas: tuple[float, float] = (0.9, 0.95),
    rule: str = "mingpt",
    fused: bool | None = None,
) -> torch.optim.AdamW:
    """AdamW over :func:`parameter_groups`; the fused kernel is used on CUDA unless ``fused=False``."""
    groups = parameter_groups(model, weight_decay, rule)
    if fused is None:
        fused = all(p.is_cuda for g in groups for p in g["params"])
    return torch.optim.AdamW(groups, lr=lr, betas=betas, fused=fused or None)
