"""mingpt_lite: a small, tested GPT in PyTorch, rebuilt step by step in the book next to it."""

from .config import GPTConfig, PRESETS
from .device import pick_device, seed_everything
from .loss import lm_loss
from .model import GPT
from .optim import configure_adamw, parameter_groups

__version__ = "0.1.0"

__all__ = [
    "GPT",
    "GPTConfig",
    "PRESETS",
    "configure_adamw",
    "lm_loss",
    "parameter_groups",
    "pick_device",
    "seed_everything",
]
