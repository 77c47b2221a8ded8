"""Choosing where to run, and seeding, in one place so chapters never repeat it."""

from __future__ import annotations

import os
import random

import torch

DEVICE_ENV = "MINGPT_DEVICE"


def pick_device(preferred: str | torch.device | None = None) -> torch.device:
    """The device to run on: ``preferred`` if given, else ``$MINGPT_DEVICE`` if set,
    else CUDA, then Apple's MPS, then CPU.

    Asking for a device that is not there is an error, not a silent fallback.
    """
    choice = preferred if preferred is not None else os.environ.get(DEVICE_ENV) or None
    if choice is None or str(choice) == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(choice)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {device} was asked for, but CUDA is not available here")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise RuntimeError("device mps was asked for, but MPS is not available here")
    return device


def seed_everything(seed: int) -> None:
    """Seed Python's, PyTorch's (CPU and every GPU) random number generators."""
    random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def describe_device(device: torch.device) -> str:
    """A short human description, e.g. ``"cpu (2 threads)"`` or the GPU's name."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return device.type


def synchronize(device: str | torch.device) -> None:
    """Wait until ``device`` has finished the work queued on it; nothing to wait for on the CPU.

    A GPU runs behind Python: a call such as ``model(x)`` returns once its kernels are queued,
    so a timer read right after it measures the queueing, not the work. Timers call this
    before starting and before stopping.
    """
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
