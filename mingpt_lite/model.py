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
from .config import GPTConfig
from .init import init_gpt_weights
from .norms import make_norm


def check_token_ids(idx, config: GPTConfig, check_range: bool = True) -> None:
    """Raise a clear error for input that is not a (B, T) tensor of valid token ids.

    Without this, a bad id reaches ``nn.Embedding``: on the CPU torch only says
    "index out of range in self", on CUDA a device-side assert kills the process.
    The range check reads the tensor's min and max, which on a GPU waits for the
    device; callers on a GPU hot path may pass ``check_range=False``.

    Inside a ``torch.compile`` graph it does nothing: reading min and max into Python
    would break the graph in two, and the one caller that compiles, the Trainer, checks a
    batch eagerly before its first step. (``torch.compiler.disable`` would keep the check
    as its own piece outside the graph, but that decorator imports ``torch._dynamo`` when
    this module is imported, which made ``import mingpt_lite`` take 1.3 s longer.)
    """
    if torch.compiler.is_compiling():
        return
    if not isinstance(idx, torch.Tensor):
        raise TypeError(f"token ids must be a torch.Tensor, got {type(idx).__name__}")
    if idx.is_floating_point() or idx.is_complex() or idx.dtype == torch.bool:
        raise TypeError(
            f"token ids must be an integer tensor (torch.long), got dtype {idx.dtype}; "
            f"did you pass embeddings or probabilities instead of ids?"
        )
    if idx.dtype not in (torch.long, torch.int32):  # what nn.Embedding accepts
        raise TypeError(f"token ids must be torch.long (or torch.int32), got dtype {idx.dtype}; convert with ids.long()")
    if idx.dim() != 2:
        raise ValueError(f"token ids must have shape (batch, time), got shape {tuple(idx.shape)}")
    T = idx.size(1)
    if T == 0:
        raise ValueError("token ids are empty: the sequence needs at least one token")
    if T > config.block_size:
        raise ValueError(
            f"sequence of length {T} is longer than block_size {config.block_size}; "
            f"crop the context to the last {config.block_size} tokens"
        )
    if check_range and idx.numel():
        low, high = int(idx.min()), int(idx.max())
        if low < 0 or high >= config.vocab_size:
            raise ValueError(
                f"token ids must lie in [0, {config.vocab_size}) (vocab_size), "
                f"got values from {low} to {high}"
            )


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

    def forward(self, idx, *, kv_cache=None, pos: int = 0, return_attention: bool = False):
        """Logits (B, T, vocab_size) for token ids ``idx`` (B, T).

        ``kv_cache`` (from :meth:`new_kv_cache`) and ``pos`` let generation feed only
        the new tokens, which sit at absolute positions ``pos .. pos+T-1``.
        ``return_attention=True`` also returns each layer's (B, H, T, S) weights.
        """
        # On CUDA the range check is a host sync. Training steps skip it (the Trainer
        # checks the data once), and so do single-token steps into a KV cache, which
        # is generation's loop: generate() checks the prompt once, and the ids it
        # feeds back come from an argmax or a draw over the vocabulary.
        on_gpu = isinstance(idx, torch.Tensor) and idx.is_cuda
        training_step = self.training and torch.is_grad_enabled()
        decode_step = kv_cache is not None and on_gpu and idx.dim() == 2 and idx.size(1) == 1
        hot_gpu_step = on_gpu and (training_step or decode_step)
        check_token_ids(idx, self.config, check_range=not hot_gpu_step)
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
        from .generation import generate

        return generate(self, idx, max_new_tokens, **options)

    @classmethod
    def from_pretrained(cls, source, **overrides) -> "GPT":
        """Load GPT-2 weights in the Hugging Face layout; see :func:`mingpt_lite.pretrained.load_gpt2`."""
        from .pretrained import load_gpt2

        return load_gpt2(source, **overrides)
