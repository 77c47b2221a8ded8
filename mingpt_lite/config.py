"""The model's configuration: one plain dataclass, plus minGPT's named presets.

Everything that decides the *shape* of a GPT lives here, so a checkpoint can
store it as a small JSON blob and rebuild exactly the same model later.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
from dataclasses import dataclass

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

    def __post_init__(self) -> None:
        validate_fields(self, _GPT_RULES)  # types and ranges, one table at the end of this file
        if self.n_embd % self.n_head != 0:
            raise ValueError(
                f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head}): "
                f"each head gets n_embd / n_head channels"
            )
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {self.normalization!r}")
        if self.position not in POSITIONS:
            raise ValueError(f"position must be one of {POSITIONS}, got {self.position!r}")
        if self.position == "rotary" and self.head_dim % 2:
            raise ValueError(
                f"rotary positions turn channel pairs, so n_embd / n_head must be even, got {self.head_dim}"
            )
        if isinstance(self.rotary_base, bool) or not isinstance(self.rotary_base, (int, float)) or not self.rotary_base > 1:
            raise ValueError(f"rotary_base must be a number > 1, got {self.rotary_base!r}")
        if self.mlp not in MLP_KINDS:
            raise ValueError(f"mlp must be one of {MLP_KINDS}, got {self.mlp!r}")
        if not isinstance(self.qk_norm, bool):
            raise ValueError(f"qk_norm must be True or False, got {self.qk_norm!r}")

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


class _Rule:
    optional = False
    what = "a value"

    def check(self, name: str, value) -> None:
        """Raise ValueError naming ``name`` unless ``value`` follows this rule."""
        if value is None and self.optional:
            return
        if not self._fits(value):
            got = f"{value!r}" + (f" (a {type(value).__name__})" if not isinstance(value, (bool, int, float)) else "")
            raise ValueError(f"{name} must be {self.what}{' or None' if self.optional else ''}, got {got}")

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


class INT(_Rule):
    """An int (not a bool, not 2.0) in ``[low, high]``."""

    def __init__(self, low=None, high=None, optional: bool = False):
        self.low, self.high, self.optional = low, high, optional
        self.what = f"an integer {_interval(low, high, False, False)}".rstrip()

    def _fits(self, value) -> bool:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool) and _in_interval(
            value, self.low, self.high, False, False
        )


class REAL(_Rule):
    """A finite real number (an int is fine, a string or bool is not) in the given interval."""

    def __init__(self, low=None, high=None, *, low_open: bool = False, high_open: bool = False, optional: bool = False):
        self.low, self.high, self.low_open, self.high_open, self.optional = low, high, low_open, high_open, optional
        self.what = f"a finite number {_interval(low, high, low_open, high_open)}".rstrip()

    def _fits(self, value) -> bool:
        return (
            isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
            and _in_interval(value, self.low, self.high, self.low_open, self.high_open)
        )


class BOOL(_Rule):
    """True or False (not 'yes', not 1)."""

    what = "True or False"

    def __init__(self, optional: bool = False):
        self.optional = optional

    def _fits(self, value) -> bool:
        return isinstance(value, bool)


class CHOICE(_Rule):
    """One of a few strings."""

    def __init__(self, *choices: str, optional: bool = False):
        self.choices, self.optional = choices, optional
        self.what = f"one of {choices}"

    def _fits(self, value) -> bool:
        return isinstance(value, str) and value in self.choices


def validate_fields(obj, rules: dict[str, _Rule]) -> None:
    """Check each field of ``obj`` named in ``rules``; the error names ``Class.field``."""
    owner = type(obj).__name__
    for name, rule in rules.items():
        rule.check(f"{owner}.{name}", getattr(obj, name))


_GPT_RULES = {
    "vocab_size": INT(1),
    "block_size": INT(1),
    "n_layer": INT(1),
    "n_head": INT(1),
    "n_embd": INT(1),
    "dropout": REAL(0, 1, high_open=True),
    "bias": BOOL(),
    "norm": CHOICE(*NORM_PLACEMENTS),
    "attention": CHOICE(*ATTENTION_PATHS),
    "tie_weights": BOOL(),
    "layer_norm_eps": REAL(0, low_open=True),
    "normalization": CHOICE(*NORMALIZATIONS),
    "position": CHOICE(*POSITIONS),
    "rotary_base": REAL(1, low_open=True),
    "mlp": CHOICE(*MLP_KINDS),
    "qk_norm": BOOL(),
}
