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
from safetensors.torch import save_file

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

    The file is written next to its destination and renamed into place, so a crash
    mid-write leaves any earlier file at ``path`` intact.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    metadata = {CONFIG_KEY: model.config.to_json(), FORMAT_KEY: "pt"}
    tensors = {name: t.detach().to("cpu").contiguous() for name, t in _stored_state(model).items()}
    save_file(tensors, str(tmp), metadata=metadata)
    os.replace(tmp, path)
    return path


def check_state_dict(model: GPT, tensors: dict[str, torch.Tensor]) -> None:
    """Raise :class:`CheckpointError` unless ``tensors`` has exactly the model's names and shapes."""
    expected = {name: tuple(t.shape) for name, t in _stored_state(model).items()}
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    misshaped = sorted(
        f"{name}: file {tuple(tensors[name].shape)} vs model {expected[name]}"
        for name in set(expected) & set(tensors)
        if tuple(tensors[name].shape) != expected[name]
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


def load_model(path: str | os.PathLike, device: str | torch.device | None = None) -> GPT:
    """Rebuild the model stored by :func:`save_model` (config from the file's header), on ``device``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata() or {}
        if CONFIG_KEY not in metadata:
            raise CheckpointError(
                f"{path} has no {CONFIG_KEY!r} entry in its header: it was not written by save_model"
            )
        config = GPTConfig.from_json(metadata[CONFIG_KEY])
        tensors = {name: f.get_tensor(name) for name in f.keys()}
    model = GPT(config)
    check_state_dict(model, tensors)
    # strict=False only because a tied head is stored once; check_state_dict has
    # already verified that every other name and shape matches.
    model.load_state_dict(tensors, strict=not config.tie_weights)
    return model.to(device) if device is not None else model
