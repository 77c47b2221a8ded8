"""The model's configuration: one plain dataclass, plus minGPT's named presets.

Everything that decides the *shape* of a GPT lives here, so a checkpoint can
store it as a small JSON blob and rebuild exactly the same model later.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

NORM_PLACEMENTS = ("pre", "post", "notes-bug")
ATTENTION_PATHS = ("fast", "explicit")

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
        layer_norm_eps: epsilon of every LayerNorm.
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

    def __post_init__(self) -> None:
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"GPTConfig.{name} must be a positive integer, got {value!r}")
        if self.n_embd % self.n_head != 0:
            raise ValueError(
                f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head}): "
                f"each head gets n_embd / n_head channels"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if self.norm not in NORM_PLACEMENTS:
            raise ValueError(f"norm must be one of {NORM_PLACEMENTS}, got {self.norm!r}")
        if self.attention not in ATTENTION_PATHS:
            raise ValueError(f"attention must be one of {ATTENTION_PATHS}, got {self.attention!r}")

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
