"""The GPT itself: embeddings, a stack of blocks, a final LayerNorm and a linear head.

The model maps token ids to logits and nothing else. The loss lives in
``loss.py``, the optimizer's parameter groups in ``optim.py``: the notes asked
whether they belong in the model, and keeping them out lets each be read,
tested and swapped on its own.

Later GPTs changed a few pieces; each is a :class:`GPTConfig` option, off by
default (chapter 13): RMSNorm, rotary positions (then there is no position
embedding table), a ReLU² or SwiGLU MLP, QK-norm, no biases, and a tied head.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .blocks import Block
from .checks import check_state_dict, check_token_ids
from .config import GPTConfig
from .generation import generate
from .init import init_gpt_weights
from .norms import make_norm
from .pretrained import gpt2_weights


class GPT(nn.Module):
    """A decoder-only transformer language model: ``logits = model(idx)``.

    ``idx`` is a (B, T) tensor of token ids with T <= ``block_size``; the output is
    (B, T, vocab_size) logits for the next token at every position.
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.token_embedding = nn.Embedding(config.vocab_size, config.n_embd)
        # Rotary models encode position inside attention instead of adding a table here.
        self.position_embedding = (
            nn.Embedding(config.block_size, config.n_embd) if config.position == "learned" else None
        )
        self.embedding_dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.final_norm = make_norm(config)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        init_gpt_weights(self, config.n_layer)
        if config.tie_weights:
            # One matrix both embeds tokens and scores them (GPT-2, nanoGPT).
            self.lm_head.weight = self.token_embedding.weight

    def num_parameters(self, include_head: bool = False) -> int:
        """Number of parameters; like minGPT's printout, the lm head is left out by default.

        A tied head shares the embedding's tensor, so it never adds anything.
        """
        params = {id(p): p for p in self.parameters()}  # shared tensors once
        if not include_head and not self.config.tie_weights:
            params.pop(id(self.lm_head.weight))
        return sum(p.numel() for p in params.values())

    def forward(self, idx, *, kv_cache=None, pos: int = 0, return_attention: bool = False, check_range: bool = True):
        """Logits (B, T, vocab_size) for token ids ``idx`` (B, T).

        ``kv_cache`` (from :meth:`new_kv_cache`) and ``pos`` let generation feed only
        the new tokens, which sit at absolute positions ``pos .. pos+T-1``.
        ``return_attention=True`` also returns each layer's (B, H, T, S) weights.
        ``check_range=False`` skips reading the ids' min and max (a host sync off the CPU)
        for ids already known to be in range, as generation's own loop does.
        """
        # Off the CPU (CUDA, MPS) the range check is a host sync. Training steps skip it
        # (the Trainer checks the data once), and so do single-token steps into a KV cache,
        # which is generation's loop: generate() checks the prompt once, and the ids it
        # feeds back come from an argmax or a draw over the vocabulary.
        on_gpu = isinstance(idx, torch.Tensor) and idx.device.type != "cpu"
        training_step = self.training and torch.is_grad_enabled()
        decode_step = kv_cache is not None and on_gpu and idx.dim() == 2 and idx.size(1) == 1
        hot_gpu_step = on_gpu and (training_step or decode_step)
        check_token_ids(idx, self.config, check_range=check_range and not hot_gpu_step)
        T = idx.size(1)
        if pos < 0 or pos + T > self.config.block_size:
            raise ValueError(
                f"positions {pos}..{pos + T - 1} do not fit in block_size {self.config.block_size}"
            )
        x = self.token_embedding(idx)
        if self.position_embedding is not None:  # learned absolute positions (GPT-2)
            x = x + self.position_embedding(torch.arange(pos, pos + T, device=idx.device))
        x = self.embedding_dropout(x)
        attention = []
        for layer, block in enumerate(self.blocks):
            layer_cache = None if kv_cache is None else kv_cache[layer]
            x = block(x, layer_cache, pos, return_attention)
            if return_attention:
                x, weights = x
                attention.append(weights)
        logits = self.lm_head(self.final_norm(x))
        return (logits, attention) if return_attention else logits

    def new_kv_cache(self, batch_size: int, max_len: int | None = None):
        """Preallocate keys and values for every layer: a list of (k, v) pairs, each (B, H, max_len, D)."""
        c = self.config
        max_len = c.block_size if max_len is None else max_len
        if not 0 < max_len <= c.block_size:
            raise ValueError(f"max_len must be in [1, block_size={c.block_size}], got {max_len}")
        ref = self.token_embedding.weight
        shape = (batch_size, c.n_head, max_len, c.head_dim)
        return [
            (ref.new_zeros(shape), ref.new_zeros(shape)) for _ in range(c.n_layer)
        ]

    @torch.no_grad()
    def generate(self, idx, max_new_tokens: int, **options):
        """Continue ``idx`` by ``max_new_tokens`` tokens; see :func:`mingpt_lite.generation.generate`."""
        return generate(self, idx, max_new_tokens, **options)

    @classmethod
    def from_pretrained(cls, source, **overrides) -> "GPT":
        """A GPT holding GPT-2 weights in the Hugging Face layout, in eval mode.

        ``source`` and ``overrides`` are those of :func:`mingpt_lite.pretrained.gpt2_weights`,
        which reads and renames the weights; this only builds the model and loads them.
        (A model saved by this package is not GPT-2's layout: load it with
        :func:`mingpt_lite.modelfile.load_model`.)
        """
        config, tensors = gpt2_weights(source, **overrides)
        with torch.device("meta"):  # names and shapes first, on a model without memory
            check_state_dict(cls(config), tensors)
        model = cls(config)
        # strict=False only for a tied head, which the checkpoint stores once (as the embedding)
        model.load_state_dict(tensors, strict=not config.tie_weights)
        return model.eval()
