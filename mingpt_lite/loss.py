"""The language-modelling loss, kept outside the model.

The model returns logits; what to compare them with is the task's business.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

IGNORE_INDEX = -1


def lm_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross entropy of next-token ``logits`` (B, T, V) against ``targets`` (B, T).

    Targets equal to -1 are ignored: they contribute neither to the mean nor to the
    gradient (the sort task uses them to mask the unsorted input half). Any integer
    dtype is accepted; off the GPU, a target outside ``[0, V)`` (other than -1) is a
    ValueError.

    A batch whose targets are *all* -1 has nothing to average and gives NaN (0/0).
    That is left to the caller on purpose: checking for it here would need the
    values on the host, a device sync on every GPU step. The Trainer stops on a
    NaN loss with a message naming the iteration.
    """
    if logits.dim() != 3:
        raise ValueError(f"logits must be (batch, time, vocab), got shape {tuple(logits.shape)}")
    if targets.shape != logits.shape[:2]:
        raise ValueError(
            f"targets shape {tuple(targets.shape)} does not match logits' (batch, time) "
            f"{tuple(logits.shape[:2])}"
        )
    if targets.is_floating_point() or targets.is_complex() or targets.dtype == torch.bool:
        raise TypeError(f"targets must be integer token ids, got dtype {targets.dtype}")
    if targets.dtype != torch.long:
        targets = targets.long()  # cross_entropy wants int64; int32 ids are common, and harmless
    V = logits.size(-1)
    if targets.device.type == "cpu" and targets.numel():
        # A bad target is a clear error here. (On a GPU or MPS this check would wait for the
        # device every step; there torch's own device-side assert has to do.)
        low, high = int(targets.min()), int(targets.max())
        if high >= V or (low < 0 and low != IGNORE_INDEX) or low < IGNORE_INDEX:
            raise ValueError(
                f"targets must be token ids in [0, {V}) (the logits' vocabulary) or {IGNORE_INDEX} "
                f"(no loss at that position), got values from {low} to {high}"
            )
    return F.cross_entropy(
        logits.reshape(-1, V).float(), targets.reshape(-1), ignore_index=IGNORE_INDEX
    )
