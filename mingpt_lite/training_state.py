"""Writing and reading a whole training run's state, safely.

A training checkpoint is more than the weights: to continue a run exactly as if
it had never stopped, it also needs the optimizer's moment estimates, the
iteration number (which drives the learning-rate schedule), the loss history and
every random number generator's state (batches and dropout masks).

All of that goes into one ``torch.save`` file, so one rename switches from one
consistent snapshot to the next. The file holds only tensors, numbers, strings
and plain containers, and is read back with ``torch.load(weights_only=True)``,
which refuses anything else (an arbitrary pickle could run code on load). For
weights alone, to share or to load into a model, use the safetensors files of
:mod:`mingpt_lite.checkpoint` (``save_model`` / ``load_model``).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

FORMAT = "mingpt_lite.training_state/1"


class TrainingStateError(ValueError):
    """A training checkpoint is missing, of another format, or does not fit this run."""


def atomic_save(state: dict, path: str | os.PathLike) -> Path:
    """``torch.save`` ``state`` to ``path`` via a temporary file and a rename.

    The rename is atomic on POSIX and Windows filesystems: a reader (or a crash)
    sees either the previous complete file or the new complete file, never half of one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            torch.save({"format": FORMAT, **state}, f)
            f.flush()
            os.fsync(f.fileno())  # the bytes are on disk before the name points at them
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def load_state(path: str | os.PathLike, map_location="cpu") -> dict:
    """Read a file written by :func:`atomic_save`, with ``weights_only=True``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no training checkpoint at {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # a truncated file, or one holding arbitrary objects
        raise TrainingStateError(f"cannot read training checkpoint {path}: {err}") from err
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        found = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise TrainingStateError(
            f"{path} is not a mingpt_lite training checkpoint (format {found!r}, expected {FORMAT!r}); "
            f"model-only weights are loaded with mingpt_lite.load_model"
        )
    return state


def rng_states(generators: dict[str, torch.Generator]) -> dict:
    """The states of torch's global CPU and CUDA generators plus the named ``generators``."""
    states = {"torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["torch_cuda"] = torch.cuda.get_rng_state_all()
    for name, generator in generators.items():
        states[name] = generator.get_state()
    return states


def restore_rng_states(states: dict, generators: dict[str, torch.Generator]) -> None:
    """Undo :func:`rng_states`: put every saved generator state back."""
    torch.set_rng_state(states["torch_cpu"])
    if "torch_cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["torch_cuda"])
    for name, generator in generators.items():
        if name not in states:
            raise TrainingStateError(f"checkpoint has no state for the {name!r} generator")
        generator.set_state(states[name].cpu())
