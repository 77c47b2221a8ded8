"""What a GPT accepts, checked with clear errors: token ids, and weights for its names and shapes.

These checks sit below ``model.py`` on purpose. Generation checks a prompt, the GPT-2 importer
and the model files check weights, and the model checks its input: each of them imports this
module, and none has to import another to reach a check, so the package has no import circle.
The checks only read what they are given (a config's sizes, a module's ``state_dict``), never
build a model.
"""

from __future__ import annotations

import torch

from .config import GPTConfig

__all__ = ["CheckpointError", "check_state_dict", "check_token_ids", "stored_state"]


def check_token_ids(idx, config: GPTConfig, check_range: bool = True) -> None:
    """Raise a clear error for input that is not a (B, T) tensor of valid token ids.

    Without this, a bad id reaches ``nn.Embedding``: on the CPU torch only says
    "index out of range in self", on CUDA a device-side assert kills the process.
    The range check reads the tensor's min and max, which on a GPU waits for the
    device; callers on a GPU hot path may pass ``check_range=False``.

    Inside a ``torch.compile`` graph it does nothing: reading min and max into Python
    would break the graph in two, and the one caller that compiles, the Trainer, checks a
    batch eagerly before its first step. (``torch.compiler.disable`` would keep the check
    as its own piece outside the graph, but that decorator imports ``torch._dynamo`` when
    this module is imported, which made ``import mingpt_lite`` take 1.3 s longer.)
    """
    if torch.compiler.is_compiling():
        return
    if not isinstance(idx, torch.Tensor):
        raise TypeError(f"token ids must be a torch.Tensor, got {type(idx).__name__}")
    if idx.is_floating_point() or idx.is_complex() or idx.dtype == torch.bool:
        raise TypeError(
            f"token ids must be an integer tensor (torch.long), got dtype {idx.dtype}; "
            f"did you pass embeddings or probabilities instead of ids?"
        )
    if idx.dtype not in (torch.long, torch.int32):  # what nn.Embedding accepts
        raise TypeError(f"token ids must be torch.long (or torch.int32), got dtype {idx.dtype}; convert with ids.long()")
    if idx.dim() != 2:
        raise ValueError(f"token ids must have shape (batch, time), got shape {tuple(idx.shape)}")
    T = idx.size(1)
    if T == 0:
        raise ValueError("token ids are empty: the sequence needs at least one token")
    if T > config.block_size:
        raise ValueError(
            f"sequence of length {T} is longer than block_size {config.block_size}; "
            f"crop the context to the last {config.block_size} tokens"
        )
    if check_range and idx.numel():
        low, high = int(idx.min()), int(idx.max())
        if low < 0 or high >= config.vocab_size:
            raise ValueError(
                f"token ids must lie in [0, {config.vocab_size}) (vocab_size), "
                f"got values from {low} to {high}"
            )


class CheckpointError(ValueError):
    """A checkpoint does not fit the model: it names the missing, unexpected or mis-shaped tensors."""


def stored_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A GPT's state dict as a file stores it: a tied head is left out (its config says it is tied)."""
    state = model.state_dict()
    if model.config.tie_weights:
        # safetensors refuses two names for one storage; the tie is in the config.
        state.pop("lm_head.weight")
    return state


def check_state_dict(model: torch.nn.Module, tensors: dict) -> None:
    """Raise :class:`CheckpointError` unless ``tensors`` has exactly the names and shapes of ``model``'s stored state.

    ``tensors`` maps names to tensors, or to bare shapes (so a file can be checked
    before anything is read from it); ``model`` may live on the meta device.
    """
    expected = {name: tuple(t.shape) for name, t in stored_state(model).items()}
    shapes = {name: tuple(t.shape) if isinstance(t, torch.Tensor) else tuple(t) for name, t in tensors.items()}
    missing = sorted(set(expected) - set(shapes))
    unexpected = sorted(set(shapes) - set(expected))
    misshaped = sorted(
        f"{name}: file {shapes[name]} vs model {expected[name]}"
        for name in set(expected) & set(shapes)
        if shapes[name] != expected[name]
    )
    problems = []
    if missing:
        problems.append(f"missing tensors: {', '.join(missing)}")
    if unexpected:
        problems.append(f"unexpected tensors: {', '.join(unexpected)}")
    if misshaped:
        problems.append(f"mis-shaped tensors: {'; '.join(misshaped)}")
    if problems:
        raise CheckpointError("checkpoint does not match the model: " + " | ".join(problems))
