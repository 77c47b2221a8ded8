"""Weight initialisation chosen by module *type*, not by parameter *name*.

minGPT finds the residual projections by checking whether a parameter's name ends
in ``c_proj.weight``. Rename the layer and the special init silently stops
happening. Here the projections that write into the residual stream are built as
:class:`ResidualProjection`, so the marker travels with the module whatever it is
called.
"""

from __future__ import annotations

import math

import torch.nn as nn


class ResidualProjection(nn.Linear):
    """A Linear layer whose output is added to the residual stream.

    It behaves exactly like ``nn.Linear``; its type is the marker that
    :func:`init_gpt_weights` uses to give it a smaller initial std.
    """


def residual_std(n_layer: int, std: float = 0.02) -> float:
    """The init std for residual projections: ``std / sqrt(2 * n_layer)``.

    Each block adds two branches (attention and MLP) to the stream, so after
    n_layer blocks 2*n_layer roughly independent terms have been summed; scaling
    each by 1/sqrt(2*n_layer) keeps the stream's variance from growing with depth.
    """
    return std / math.sqrt(2 * n_layer)


def init_gpt_weights(model: nn.Module, n_layer: int, std: float = 0.02) -> None:
    """GPT-2's init: N(0, std) for Linear and Embedding weights, zero biases,
    LayerNorm weight 1 and bias 0, and N(0, std/sqrt(2*n_layer)) for every
    :class:`ResidualProjection`."""
    for module in model.modules():
        if isinstance(module, ResidualProjection):
            nn.init.normal_(module.weight, mean=0.0, std=residual_std(n_layer, std))
        elif isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=std)
        elif isinstance(module, nn.LayerNorm):
            if module.weight is not None:
                nn.init.ones_(module.weight)
        if isinstance(module, (nn.Linear, nn.LayerNorm)) and module.bias is not None:
            # Zero the bias in place. (Assigning ``module.bias = None`` instead, as the
            # notes first did, deletes the parameter and shrinks the model silently.)
            nn.init.zeros_(module.bias)
