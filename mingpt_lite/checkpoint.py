"""Saving and loading a model as safetensors, with its config inside the file.

safetensors stores raw tensors and a small string-to-string header, nothing
executable, so loading a file from a stranger cannot run their code (a pickle
can). The config goes into that header as JSON, so one file rebuilds the model.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save as safetensors_bytes

from .config import GPTConfig
from .model import GPT

CONFIG_KEY = "mingpt_lite.config"
FORMAT_KEY = "format"


class CheckpointError(ValueError):
    """A checkpoint does not fit the model: it names the missing, unexpected or mis-shaped tensors."""


def _stored_state(model: GPT) -> dict[str, torch.Tensor]:
    """The model's state dict as it is stored: a tied head is left out."""
    state = model.state_dict()
    if model.config.tie_weights:
        # safetensors refuses two names for one storage; the tie is in the config.
        state.pop("lm_head.weight")
    return state


def save_model(model: GPT, path: str | os.PathLike) -> Path:
    """Write ``model``'s weights and config to ``path`` (a ``.safetensors`` file).

    The file is written next to its destination, flushed to disk and renamed into
    place (:func:`~mingpt_lite.training_state.write_atomically`), so a crash mid-write
    leaves any earlier file at ``path`` intact, and a full disk is reported as such.
    """
    from .training_state import write_atomically

    metadata = {CONFIG_KEY: model.config.to_json(), FORMAT_KEY: "pt"}
    tensors = {name: t.detach().to("cpu").contiguous() for name, t in _stored_state(model).items()}
    return write_atomically(path, lambda f: f.write(safetensors_bytes(tensors, metadata=metadata)))


def check_state_dict(model: GPT, tensors: dict) -> None:
    """Raise :class:`CheckpointError` unless ``tensors`` has exactly the model's names and shapes.

    ``tensors`` maps names to tensors, or to bare shapes (so a file can be checked
    before anything is read from it); ``model`` may live on the meta device.
    """
    expected = {name: tuple(t.shape) for name, t in _stored_state(model).items()}
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


def empty_model(config: GPTConfig) -> GPT:
    """A GPT of ``config`` on the meta device: every shape, no memory, nothing computed."""
    with torch.device("meta"):
        return GPT(config)


def load_model(path: str | os.PathLike, device: str | torch.device | None = None) -> GPT:
    """Rebuild the model stored by :func:`save_model` (config from the file's header), on ``device``.

    The header's config is checked against the file's tensor shapes (on a model
    without memory) before the model is built or any tensor is read, so a damaged or
    hostile header cannot make it allocate a model of its choosing.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            if CONFIG_KEY not in metadata:
                raise CheckpointError(
                    f"{path} has no {CONFIG_KEY!r} entry in its header: it was not written by save_model"
                )
            try:
                config = GPTConfig.from_json(metadata[CONFIG_KEY])
            except (ValueError, TypeError) as err:
                raise CheckpointError(f"{path}: the model config in its header is invalid: {err}") from None
            try:
                check_state_dict(empty_model(config), {name: f.get_slice(name).get_shape() for name in f.keys()})
            except CheckpointError as err:
                raise CheckpointError(f"{path}: {err}") from None
            tensors = {name: f.get_tensor(name) for name in f.keys()}
    except CheckpointError:
        raise
    except Exception as err:  # safetensors' own errors: a truncated or foreign file
        raise CheckpointError(f"cannot read {path} as a safetensors checkpoint: {err}") from err
    model = GPT(config)
    # strict=False only because a tied head is stored once; check_state_dict has
    # already verified that every other name and shape matches.
    model.load_state_dict(tensors, strict=not config.tie_weights)
    return model.to(device) if device is not None else model
