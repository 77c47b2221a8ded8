"""Saving and loading a model as safetensors, with its config inside the file.

safetensors stores raw tensors and a small string-to-string header, nothing
executable, so loading a file from a stranger cannot run their code (a pickle
can). The config goes into that header as JSON, so one file rebuilds the model.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save as safetensors_bytes

from .checks import CheckpointError, check_state_dict, stored_state
from .config import GPTConfig
from .model import GPT
from .runstate import write_atomically

CONFIG_KEY = "mingpt_lite.config"
FORMAT_KEY = "format"


def save_model(model: GPT, path: str | os.PathLike) -> Path:
    """Write ``model``'s weights and config to ``path`` (a ``.safetensors`` file).

    The file is written next to its destination, flushed to disk and renamed into
    place (:func:`~mingpt_lite.runstate.write_atomically`), so a crash mid-write
    leaves any earlier file at ``path`` intact, and a full disk is reported as such.
    The same weights and config always give the same bytes (:func:`model_file_bytes`),
    so ``sha256sum`` can tell whether two runs ended with the same model.
    """
    metadata = {CONFIG_KEY: model.config.to_json(), FORMAT_KEY: "pt"}
    tensors = {name: t.detach().to("cpu").contiguous() for name, t in stored_state(model).items()}
    data = model_file_bytes(tensors, metadata)
    return write_atomically(path, lambda f: f.write(data))


def model_file_bytes(tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> bytes:
    """The safetensors bytes of ``tensors`` and ``metadata``, the same bytes every time.

    safetensors lays the tensors out in a fixed order, but writes its header's metadata in
    the order of a hash map, which changes from one process to the next. The header is
    therefore written again here with sorted keys (same fields, same offsets, padded with
    spaces to a multiple of 8 bytes as the format asks), and the tensor bytes are kept.
    """
    raw = safetensors_bytes(tensors, metadata=metadata)
    size = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + size])
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + raw[8 + size:]


def empty_model(config: GPTConfig) -> GPT:
    """A GPT of ``config`` on the meta device: every shape, no memory, nothing computed."""
    with torch.device("meta"):
        return GPT(config)


def load_model(path: str | os.PathLike, device: str | torch.device | None = None) -> GPT:
    """Rebuild the model stored by :func:`save_model` (config from the file's header), on ``device``.

    The header's config is checked against the file's tensor shapes (on a model
    without memory) before the model is built or any tensor is read, so a damaged or
    hostile header cannot make it allocate a model of its choosing. Weights that are NaN
    or infinite (saved from a run that diverged, or damaged) are refused.
    """
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder, not a model file")
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
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise CheckpointError(f"{path}: {name} holds NaN or infinite values; the model it stores is "
                                  f"broken (saved after the run diverged, or damaged)")
    model = GPT(config)
    # strict=False only because a tied head is stored once; check_state_dict has
    # already verified that every other name and shape matches.
    model.load_state_dict(tensors, strict=not config.tie_weights)
    return model.to(device) if device is not None else model
