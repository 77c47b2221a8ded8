"""The model's configuration: one plain dataclass, plus minGPT's named presets.

Everything that decides the *shape* of a GPT lives here, so a checkpoint can
store it as a small JSON blob and rebuild exactly the same model later.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import os
from dataclasses import dataclass
from typing import ClassVar

import torch

NORM_PLACEMENTS = ("pre", "post", "notes-bug")
ATTENTION_PATHS = ("fast", "explicit")
# Later changes to GPT-2's recipe, each an option that is off by default (chapter 13).
NORMALIZATIONS = ("layernorm", "rmsnorm")
POSITIONS = ("learned", "rotary")
MLP_KINDS = ("gelu", "relu2", "swiglu")

# (n_layer, n_head, n_embd) for minGPT's presets. The GPT-1/GPT-2 sizes are
# OpenAI's; gopher-44m is from DeepMind's Gopher paper; the three small ones
# are minGPT's own toy sizes.
PRESETS: dict[str, tuple[int, int, int]] = {
    "openai-gpt": (12, 12, 768),
    "gpt2": (12, 12, 768),
    "gpt2-medium": (24, 16, 1024),
    "gpt2-large": (36, 20, 1280),
    "gpt2-xl": (48, 25, 1600),
    "gopher-44m": (8, 16, 512),
    "gpt-mini": (6, 6, 192),
    "gpt-micro": (4, 4, 128),
    "gpt-nano": (3, 3, 48),
}


@dataclass
class GPTConfig:
    """Hyperparameters that define a GPT.

    Attributes:
        vocab_size: number of distinct token ids; inputs must lie in ``[0, vocab_size)``.
        block_size: the longest sequence the model accepts (learned positions).
        n_layer: number of transformer blocks.
        n_head: attention heads per block; must divide ``n_embd``.
        n_embd: width of the residual stream.
        dropout: dropout probability on embeddings, attention weights and residual branches.
        bias: whether Linear layers and LayerNorms carry a bias (GPT-2 and minGPT: yes).
        norm: where the LayerNorm sits in a block: ``"pre"`` (GPT-2), ``"post"``
            (the 2017 Transformer) or ``"notes-bug"`` (the block as first written in the
            author's notes, kept so the book can train it).
        attention: ``"fast"`` uses ``scaled_dot_product_attention``; ``"explicit"``
            writes out scores, mask and softmax (slower, and can return the weights).
        tie_weights: share the token embedding with the output head (GPT-2 does; minGPT does not).
        layer_norm_eps: epsilon of every LayerNorm (and RMSNorm).
        normalization: ``"layernorm"`` (GPT-2) or ``"rmsnorm"`` (no centring, no bias).
        position: ``"learned"`` (GPT-2's position embedding table) or ``"rotary"``
            (queries and keys rotated by position; no table).
        rotary_base: the rotary embeddings' base wavelength (10000 in RoFormer).
        mlp: ``"gelu"`` (GPT-2), ``"relu2"`` (squared ReLU, Primer) or ``"swiglu"``
            (a SiLU-gated MLP with 2/3 of the hidden width, so about as many parameters).
        qk_norm: normalise each head's queries and keys (with ``normalization``'s kind)
            before their dot product.

    The last five are later changes to GPT-2's recipe; the defaults give minGPT's GPT.
    """

    vocab_size: int = 50257
    block_size: int = 1024
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    dropout: float = 0.1
    bias: bool = True
    norm: str = "pre"
    attention: str = "fast"
    tie_weights: bool = False
    layer_norm_eps: float = 1e-5
    normalization: str = "layernorm"
    position: str = "learned"
    rotary_base: float = 10000.0
    mlp: str = "gelu"
    qk_norm: bool = False
    # field name -> FieldRule (GPT_RULES, at the end of this file); not a field of the dataclass
    FIELD_RULES: ClassVar[dict] = {}

    def __post_init__(self) -> None:
        validate_fields(self)  # types and ranges: FIELD_RULES, one table at the end of this file
        if self.n_embd % self.n_head != 0:
            raise ValueError(
                f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head}): "
                f"each head gets n_embd / n_head channels"
            )
        if self.position == "rotary" and self.head_dim % 2:
            raise ValueError(
                f"rotary positions turn channel pairs, so n_embd / n_head must be even, got {self.head_dim}"
            )

    @property
    def head_dim(self) -> int:
        """Channels per attention head."""
        return self.n_embd // self.n_head

    @classmethod
    def from_preset(cls, name: str, **overrides) -> "GPTConfig":
        """Build a config from one of minGPT's named sizes, e.g. ``from_preset("gpt-nano", vocab_size=3, block_size=11)``."""
        if name not in PRESETS:
            known = ", ".join(PRESETS)
            raise ValueError(f"unknown preset {name!r}; known presets: {known}")
        n_layer, n_head, n_embd = PRESETS[name]
        fields = {"n_layer": n_layer, "n_head": n_head, "n_embd": n_embd}
        fields.update(overrides)
        return cls(**fields)

    def to_json(self) -> str:
        """The config as a JSON string (stored inside checkpoints)."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "GPTConfig":
        """Rebuild a config from :meth:`to_json`'s output; unknown keys are an error."""
        data = json.loads(text)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown GPTConfig fields in stored config: {unknown}")
        return cls(**data)


# --- validating fields ------------------------------------------------------------------------
# One rule per field, checked in one place, so a wrong type ("1e-3" for a learning rate, "no"
# for a flag) fails when the config is built, with a message naming the field, instead of
# later inside torch. GPTConfig and TrainerConfig use these; a new field adds one table row.
# The command line reads its options with the same rules (FieldRule.parse), so a flag and the
# config field it sets accept exactly the same values.


class FieldRule:
    """What one config field accepts: :meth:`check` a value, or :meth:`parse` one from the command line."""

    optional = False
    what = "a value"

    def check(self, name: str, value) -> None:
        """Raise ValueError naming ``name`` unless ``value`` follows this rule."""
        if value is None and self.optional:
            return
        if not self._fits(value):
            got = f"{value!r}" + (f" (a {type(value).__name__})" if not isinstance(value, (bool, int, float)) else "")
            raise ValueError(f"{name} must be {self.what}{' or None' if self.optional else ''}, got {got}")

    def parse(self, text: str):
        """The value a command-line string stands for, checked; ValueError says what is wrong.

        The message has no field name (``"must be an integer >= 1, got 0"``): the caller
        puts the option's name in front.
        """
        value = self._convert(text)
        if not self._fits(value):
            raise ValueError(f"must be {self.what}, got {text}")
        return value

    def _convert(self, text: str):
        return text

    def _fits(self, value) -> bool:  # pragma: no cover - overridden
        raise NotImplementedError


def _interval(low, high, low_open: bool, high_open: bool) -> str:
    if high is None:
        return f"{'>' if low_open else '>='} {low}" if low is not None else ""
    if low is None:
        return f"{'<' if high_open else '<='} {high}"
    return f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"


def _in_interval(value, low, high, low_open, high_open) -> bool:
    if low is not None and (value < low or (low_open and value == low)):
        return False
    if high is not None and (value > high or (high_open and value == high)):
        return False
    return True


class NumberRule(FieldRule):
    """A finite real number (an int is fine, a string or bool is not) in the given interval."""

    kind, noun = float, "a finite number"

    def __init__(self, low=None, high=None, *, low_open: bool = False, high_open: bool = False, optional: bool = False):
        self.low, self.high, self.low_open, self.high_open, self.optional = low, high, low_open, high_open, optional
        self.what = f"{self.noun} {_interval(low, high, low_open, high_open)}".rstrip()

    def _convert(self, text: str):
        try:
            return self.kind(text)
        except ValueError:
            raise ValueError(f"must be {self.what}, got {text!r}") from None

    def _fits(self, value) -> bool:
        return (
            isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
            and _in_interval(value, self.low, self.high, self.low_open, self.high_open)
        )


class IntegerRule(NumberRule):
    """An int (not a bool, not 2.0) in ``[low, high]``."""

    kind, noun = int, "an integer"

    def __init__(self, low=None, high=None, optional: bool = False):
        super().__init__(low, high, optional=optional)

    def _fits(self, value) -> bool:
        return isinstance(value, numbers.Integral) and super()._fits(value)


class BoolRule(FieldRule):
    """True or False (not 'yes', not 1)."""

    what = "True or False"

    def __init__(self, optional: bool = False):
        self.optional = optional

    def _convert(self, text: str):
        words = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
        if text.lower() not in words:
            raise ValueError(f"must be true or false, got {text!r}")
        return words[text.lower()]

    def _fits(self, value) -> bool:
        return isinstance(value, bool)


class ChoiceRule(FieldRule):
    """One of a few strings."""

    def __init__(self, *choices: str, optional: bool = False):
        self.choices, self.optional = choices, optional
        self.what = f"one of {choices}"

    def _fits(self, value) -> bool:
        return isinstance(value, str) and value in self.choices


def validate_fields(obj, rules: dict[str, FieldRule] | None = None) -> None:
    """Check each field of ``obj`` named in ``rules`` (default: its class's ``FIELD_RULES``).

    The error names ``Class.field``.
    """
    owner = type(obj).__name__
    rules = type(obj).FIELD_RULES if rules is None else rules
    for name, rule in rules.items():
        rule.check(f"{owner}.{name}", getattr(obj, name))


def field_rule(config_class: type, name: str) -> FieldRule:
    """The rule of field ``name`` of ``config_class`` (a config with a ``FIELD_RULES`` table)."""
    rules = getattr(config_class, "FIELD_RULES", None)
    if rules is None:
        raise TypeError(f"{config_class.__name__} has no FIELD_RULES table")
    if name not in rules:
        raise KeyError(f"{config_class.__name__}.{name} has no validation rule")
    return rules[name]


GPT_RULES = {
    "vocab_size": IntegerRule(1),
    "block_size": IntegerRule(1),
    "n_layer": IntegerRule(1),
    "n_head": IntegerRule(1),
    "n_embd": IntegerRule(1),
    "dropout": NumberRule(0, 1, high_open=True),
    "bias": BoolRule(),
    "norm": ChoiceRule(*NORM_PLACEMENTS),
    "attention": ChoiceRule(*ATTENTION_PATHS),
    "tie_weights": BoolRule(),
    "layer_norm_eps": NumberRule(0, low_open=True),
    "normalization": ChoiceRule(*NORMALIZATIONS),
    "position": ChoiceRule(*POSITIONS),
    "rotary_base": NumberRule(1, low_open=True),
    "mlp": ChoiceRule(*MLP_KINDS),
    "qk_norm": BoolRule(),
}
GPTConfig.FIELD_RULES = GPT_RULES


# --- the training run's config (the Trainer of chapter 05 reads it) ------------------------------------

# The names TrainerConfig's choice fields take. optim.py, schedule.py and trainer.py read these tuples.
DECAY_RULES = ("mingpt", "dim")  # which parameters AdamW decays: Linear weights, or every matrix (chapter 04)
LR_SCHEDULES = ("constant", "cosine", "linear")
PRECISIONS = ("auto", "fp32", "bf16")




@dataclass
class TrainerConfig:
    """Everything that decides how a model is trained (not what the model is).

    The defaults are minGPT's demo settings (batch 64, lr 5e-4, betas 0.9/0.95, weight decay
    0.1 on Linear weights, gradient clipping at norm 1.0, constant lr). Each feature named in a
    comment is a :mod:`mingpt_lite.callbacks` class the Trainer installs from these fields.
    """

    max_iters: int = 2000  # optimizer steps in the run (also the length of the cosine schedule)
    batch_size: int = 64  # sequences per step, in total over all processes when distributed
    learning_rate: float = 5e-4  # the peak learning rate
    betas: tuple[float, float] = (0.9, 0.95)  # AdamW's moment decay rates
    weight_decay: float = 0.1
    decay_rule: str = "mingpt"  # which parameters decay: "mingpt" (Linear weights) or "dim" (all matrices)
    grad_clip: float | None = 1.0  # clip the gradient's global norm to this; None or 0: no clipping
    lr_schedule: str = "constant"  # Schedule: "constant", or "cosine"/"linear" down to min_lr at max_iters
    warmup_iters: int = 0  # linear warmup from ~0 to learning_rate over this many steps
    min_lr: float = 0.0
    eval_interval: int = 0  # evaluate every this many steps (0: only when you call evaluate())
    eval_iters: int = 10  # batches per split in an evaluation (the same batches every time)
    eval_batch_size: int | None = None  # default: batch_size
    log_interval: int = 100  # read the losses back every this many steps: the one wait for the device
    seed: int = 3407  # seeds the batch generator and dropout
    device: str | None = None  # None: pick one (mingpt_lite.device.pick_device)
    precision: str = "auto"  # "auto" (bf16 on a CUDA GPU that has it, else fp32), "fp32" or "bf16"
    compile: bool = False  # run the training step's model through torch.compile
    fused_adamw: bool | None = None  # the fused AdamW kernel (one loop over all parameters); None: on CPU/CUDA
    progress: bool = True  # ProgressBar
    checkpoint_path: str | None = None  # Checkpointing to this file (None: never) ...
    checkpoint_interval: int = 0  # ... every this many steps (0: at the end and on a signal) ...
    checkpoint_start: bool = False  # ... and at the starting point, so a run that diverges at once has one
    divergence_factor: float | None = 4.0  # DivergenceGuard: stop at a loss this many times the larger of
    #   the first loss and log(vocab_size) (a uniform guess's); None: only on NaN or infinity
    FIELD_RULES: ClassVar[dict] = {}  # set below the class

    def __post_init__(self) -> None:
        validate_fields(self)
        if not self.min_lr <= self.learning_rate:
            raise ValueError(f"TrainerConfig.min_lr must be in [0, learning_rate={self.learning_rate}], "
                             f"got {self.min_lr!r}")
        if isinstance(self.betas, (str, bytes)) or not hasattr(self.betas, "__len__") or len(self.betas) != 2:
            raise ValueError(f"TrainerConfig.betas must be two numbers in [0, 1), got {self.betas!r}")
        self.betas = tuple(self.betas)
        for k, beta in enumerate(self.betas):
            NumberRule(0, 1, high_open=True).check(f"TrainerConfig.betas[{k}]", beta)
        if self.device is not None and not isinstance(self.device, (str, torch.device)):
            raise TypeError(f"TrainerConfig.device must be a string such as 'cpu' or 'cuda', got {self.device!r}")
        if self.checkpoint_path is not None and not isinstance(self.checkpoint_path, (str, os.PathLike)):
            raise TypeError(f"TrainerConfig.checkpoint_path must be a path or None, got {self.checkpoint_path!r}")


TrainerConfig.FIELD_RULES = {
    "max_iters": IntegerRule(0), "batch_size": IntegerRule(1), "learning_rate": NumberRule(0, low_open=True),
    "weight_decay": NumberRule(0), "decay_rule": ChoiceRule(*DECAY_RULES), "grad_clip": NumberRule(0, optional=True),
    "lr_schedule": ChoiceRule(*LR_SCHEDULES), "warmup_iters": IntegerRule(0), "min_lr": NumberRule(0),
    "eval_interval": IntegerRule(0), "eval_iters": IntegerRule(1), "eval_batch_size": IntegerRule(1, optional=True),
    "log_interval": IntegerRule(1), "seed": IntegerRule(0, 2**63 - 1),  # torch takes 64-bit seeds
    "precision": ChoiceRule(*PRECISIONS), "compile": BoolRule(), "fused_adamw": BoolRule(optional=True),
    "progress": BoolRule(), "checkpoint_interval": IntegerRule(0), "checkpoint_start": BoolRule(),
    "divergence_factor": NumberRule(1, low_open=True, optional=True),
}
