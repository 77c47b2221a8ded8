"""mingpt_lite: a small, tested GPT in PyTorch, rebuilt step by step in the book next to it."""

from .checks import CheckpointError
from .config import PRESETS, GPTConfig
from .device import pick_device, seed_everything
from .loss import lm_loss
from .model import GPT
from .modelfile import load_model, save_model
from .optim import configure_adamw, parameter_groups

__version__ = "0.1.0"

__all__ = [
    "CheckpointError",
    "GPT",
    "GPTConfig",
    "PRESETS",
    "configure_adamw",
    "lm_loss",
    "load_model",
    "parameter_groups",
    "pick_device",
    "save_model",
    "seed_everything",
]
