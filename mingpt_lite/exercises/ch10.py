"""Checkers for chapter 10 (GPT-2's weights).

- 10.1: a prediction: the set of Conv1D weights (of ``attn.c_attn``, ``attn.c_proj``,
  ``mlp.c_fc``, ``mlp.c_proj``) whose forgotten transpose a shape check catches in ``gpt2``.
- 10.2: a converter ``my_convert(hf_state) -> dict`` from the Hugging Face GPT-2 layout to
  mingpt_lite's names.
- 10.3: the number of parameters an untied head adds to the chapter's small random GPT-2.

The references are the package's own: :class:`mingpt_lite.model.GPT`'s shapes, and
:func:`mingpt_lite.pretrained.convert_gpt2_state_dict` and :meth:`GPT.from_pretrained`. The GPT-2
checkpoints they are given are made here from random numbers in GPT-2's published layout
(:func:`gpt2_layout_state`), so checking needs neither a download nor ``transformers`` (whose
import alone takes seconds); the chapter shows that this layout is the one ``transformers`` uses.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from ..config import GPTConfig
from ..model import GPT
from ..pretrained import convert_gpt2_state_dict
from . import Hint, checker

CONV1D = ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")
# The chapter's small random GPT-2: 4 layers, 3 heads, width 48, vocabulary 101, context 32.
SMALL = dict(vocab_size=101, n_positions=32, n_embd=48, n_layer=4, n_head=3)


def gpt2_layout_state(n_layer: int, n_embd: int, vocab_size: int, n_positions: int, seed: int = 0,
                      std: float = 0.15, device: str = "cpu", mask_buffers: bool = False) -> dict:
    """A random GPT-2 state dict in the Hugging Face layout: ``transformer.`` names, Conv1D weights
    stored (in, out), LayerNorm gains near 1 and biases near 0 but not equal to them (so a swap
    shows), the head absent (tied). With ``mask_buffers`` each block also carries the ``attn.bias``
    and ``attn.masked_bias`` buffers older ``transformers`` saved. On ``device="meta"`` only
    the shapes exist."""
    C = n_embd
    g = torch.Generator().manual_seed(seed)

    def rand(*shape, around=0.0, scale=std):
        if device == "meta":
            return torch.empty(*shape, device="meta")
        return around + scale * torch.randn(*shape, generator=g)

    state = {"transformer.wte.weight": rand(vocab_size, C), "transformer.wpe.weight": rand(n_positions, C)}
    for i in range(n_layer):
        h = f"transformer.h.{i}."
        for ln in ("ln_1", "ln_2"):
            state[h + ln + ".weight"], state[h + ln + ".bias"] = rand(C, around=1.0, scale=0.1), rand(C, scale=0.1)
        for module, (n_in, n_out) in (("attn.c_attn", (C, 3 * C)), ("attn.c_proj", (C, C)),
                                      ("mlp.c_fc", (C, 4 * C)), ("mlp.c_proj", (4 * C, C))):
            state[h + module + ".weight"], state[h + module + ".bias"] = rand(n_in, n_out), rand(n_out, scale=0.1)
        if mask_buffers:
            n = n_positions
            state[h + "attn.bias"] = torch.tril(torch.ones(n, n, dtype=torch.uint8)).view(1, 1, n, n)
            state[h + "attn.masked_bias"] = torch.tensor(-1e4)
    state["transformer.ln_f.weight"], state["transformer.ln_f.bias"] = rand(C, around=1.0, scale=0.1), rand(C, scale=0.1)
    return state


@checker("10.1")
def check_shape_check_catches(attempt) -> str:
    """``attempt``: the set of Conv1D module names whose forgotten transpose fails to load."""
    if isinstance(attempt, str) or not hasattr(attempt, "__iter__"):
        raise Hint(f"give a set of names, e.g. {{'attn.c_attn'}}, not a {type(attempt).__name__}")
    chosen = {str(name).removeprefix("transformer.h.0.").removesuffix(".weight") for name in attempt}
    unknown = chosen - set(CONV1D)
    if unknown:
        raise Hint(f"{sorted(unknown)} are not Conv1D weights; choose among {list(CONV1D)}")
    # gpt2's sizes, shapes only: GPT-2's layout on one side, our GPT on the other.
    hf_state = gpt2_layout_state(n_layer=1, n_embd=768, vocab_size=50257, n_positions=1024, device="meta")
    with torch.device("meta"):
        ours = GPT(GPTConfig.from_preset("gpt2", vocab_size=50257, block_size=1024, tie_weights=True))
    our_shapes = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
    base = {k: hf_state[k] for k in ("transformer.wte.weight", "transformer.wpe.weight")}
    ours_for = {}
    for m in CONV1D:  # convert one weight at a time to learn its name on our side
        key = f"transformer.h.0.{m}.weight"
        converted, _ = convert_gpt2_state_dict({**base, key: hf_state[key]})
        [name] = [k for k in converted if k.startswith("blocks.0.")]
        ours_for[m] = (tuple(hf_state[key].shape), our_shapes[name])
    caught = {m for m, (theirs, ours) in ours_for.items() if theirs != ours}
    if chosen == caught:
        return (f"a shape check catches {sorted(caught)}; attn.c_proj is {ours_for['attn.c_proj'][1]}, square, "
                "so its forgotten transpose loads silently and only the logits show it")
    missed, extra = caught - chosen, chosen - caught
    if "attn.c_proj" in extra:
        raise Hint(f"attn.c_proj is {ours_for['attn.c_proj'][0]}: square, so the untransposed weight has exactly "
                   "the shape nn.Linear expects, and the load succeeds")
    if missed:
        m = sorted(missed)[0]
        theirs, ours = ours_for[m]
        raise Hint(f"{m} is stored as {theirs} and our Linear wants {ours}: those differ, so loading it "
                   "untransposed fails with a size mismatch")
    raise Hint(f"not quite: a shape check catches {len(caught)} of the four")  # pragma: no cover


def small_gpt2_state(mask_buffers: bool = False) -> dict:
    """The chapter's small GPT-2 (4 layers, width 48, vocabulary 101, context 32), random, in GPT-2's layout."""
    return gpt2_layout_state(n_layer=SMALL["n_layer"], n_embd=SMALL["n_embd"], vocab_size=SMALL["vocab_size"],
                             n_positions=SMALL["n_positions"], seed=0, mask_buffers=mask_buffers)


def _conv1d_of(our_name: str) -> bool:
    return our_name.endswith(("attn.qkv.weight", "attn.residual_proj.weight", "mlp.expand.weight",
                              "mlp.residual_proj.weight"))


@checker("10.2")
def check_converter(attempt) -> str:
    """``attempt(hf_state) -> {our name: tensor}`` on a random small GPT-2 with old-style buffers."""
    reference, _ = convert_gpt2_state_dict(small_gpt2_state())
    result = attempt(small_gpt2_state(mask_buffers=True))
    if not isinstance(result, Mapping):
        raise Hint(f"return a dict of our names to tensors, got a {type(result).__name__}")
    result = dict(result)
    buffers = sorted(k for k in result if k.endswith((".attn.bias", ".attn.masked_bias", "masked_bias")))
    if buffers:
        raise Hint(f"you copied the causal-mask buffers ({buffers[0]}, ...): attn.bias is the mask and "
                   "attn.masked_bias its fill value, not weights. Drop both; our attention builds its own mask")
    if "lm_head.weight" in result and not (isinstance(result["lm_head.weight"], torch.Tensor)
                                           and torch.equal(result["lm_head.weight"], reference["token_embedding.weight"])):
        raise Hint("lm_head.weight must be the token embedding (GPT-2 ties them); leave it out, or give wte itself")
    result.pop("lm_head.weight", None)
    missing, unknown = sorted(set(reference) - set(result)), sorted(set(result) - set(reference))
    if unknown:
        raise Hint(f"names our GPT does not have: {unknown[:3]}{' ...' if len(unknown) > 3 else ''}; ours look "
                   "like blocks.0.attn.qkv.weight, token_embedding.weight, final_norm.bias")
    if missing:
        raise Hint(f"missing {len(missing)} tensors, e.g. {missing[:3]}")
    for name, expected in reference.items():
        got = result[name]
        if not isinstance(got, torch.Tensor):
            raise Hint(f"{name} is a {type(got).__name__}, not a tensor")
        if got.shape != expected.shape:
            if got.dim() == 2 and got.shape == expected.t().shape:
                if _conv1d_of(name):
                    raise Hint(f"{name} has shape {tuple(got.shape)}, GPT-2's (in, out) layout: you forgot to "
                               f"transpose the Conv1D weight; nn.Linear wants (out, in) = {tuple(expected.shape)}")
                raise Hint(f"{name} is transposed to {tuple(got.shape)}: only the four Conv1D weights per block "
                           "are transposed. Embeddings are (rows, C) on both sides and are copied as they are")
            raise Hint(f"{name}: shape {tuple(got.shape)}, expected {tuple(expected.shape)}")
        if torch.equal(got, expected):
            continue
        if got.dim() == 2 and torch.equal(got, expected.t()):
            raise Hint(f"{name} holds GPT-2's weight untransposed. It is square ({tuple(got.shape)}), so it loads "
                       "without an error, but nn.Linear computes x @ W.T: transpose every Conv1D weight, "
                       "square or not")
        twin = next((k for k, v in reference.items() if k != name and v.shape == got.shape and torch.equal(v, got)), None)
        if twin is not None:
            raise Hint(f"{name} holds the tensor that belongs in {twin}: two names are swapped "
                       "(ln_1 is norm1, before attention; ln_2 is norm2, before the MLP)")
        raise Hint(f"{name} has the right shape but not GPT-2's values")
    # Every tensor is right: a model loaded from the attempt computes the package's import's logits.
    expected_model = GPT.from_pretrained(small_gpt2_state(), n_head=SMALL["n_head"])
    model = GPT(expected_model.config).eval()
    model.load_state_dict(result, strict=False)  # strict=False only for the tied head
    tokens = torch.randint(0, SMALL["vocab_size"], (2, SMALL["n_positions"]), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(model(tokens), expected_model(tokens), rtol=0, atol=0)
    return f"all {len(reference)} tensors match the package's conversion, and so do the logits"


@checker("10.3")
def check_untied_extra(attempt) -> str:
    """``attempt``: how many parameters an untied head adds to the chapter's small random GPT-2."""
    if isinstance(attempt, bool) or not isinstance(attempt, (int, float)) or attempt != int(attempt):
        raise Hint(f"give a whole number of parameters, got {attempt!r}")
    tied = GPT.from_pretrained(small_gpt2_state(), n_head=SMALL["n_head"])
    untied = GPT.from_pretrained(small_gpt2_state(), n_head=SMALL["n_head"], tie_weights=False)
    extra = untied.num_parameters(include_head=True) - tied.num_parameters(include_head=True)
    V, C = SMALL["vocab_size"], SMALL["n_embd"]
    if attempt == extra:
        return f"{extra:,} = {V} x {C}: one (vocab x width) matrix, with no bias"
    if attempt == 50257 * 768:
        raise Hint("that is the real gpt2's untied head; the exercise imports the chapter's small GPT-2 "
                   f"(vocabulary {V}, width {C})")
    if attempt == V * C + V:
        raise Hint("GPT-2's head has no bias: count only its weight matrix")
    if attempt in (untied.num_parameters(include_head=True), tied.num_parameters(include_head=True)):
        raise Hint("that is a whole model's count; subtract the tied model's from the untied model's")
    raise Hint(f"not {attempt}: the head is one matrix of shape (vocabulary, width) for this model")
