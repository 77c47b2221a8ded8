"""Importing GPT-2 weights stored in the Hugging Face layout.

Three differences separate that layout from ours, and this module is about them:

1. GPT-2's linear layers are ``Conv1D`` modules that store the weight as
   (in_features, out_features), the transpose of ``nn.Linear``.
2. Checkpoints may carry ``attn.bias`` / ``attn.masked_bias``: these are not
   weights but the causal mask and its fill value, saved as buffers by older
   code. We build our own mask, so they are dropped whether present or not.
3. The output head is the token embedding (tied weights), so the head is often
   not stored at all.

Everything else (vocabulary, context length, width, depth, biases) is read off
the tensors' shapes; only the number of heads is invisible in the shapes.

This module reads and renames tensors and builds a :class:`GPTConfig`; it never builds
a model, so it does not import ``model.py`` (:meth:`GPT.from_pretrained` calls it and
loads the result).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors.torch import load_file

from .checks import CheckpointError
from .config import GPTConfig

# Hugging Face name (after the "transformer." prefix and "h.<i>.") -> our name.
_BLOCK_NAMES = {
    "ln_1": "norm1",
    "attn.c_attn": "attn.qkv",
    "attn.c_proj": "attn.residual_proj",
    "ln_2": "norm2",
    "mlp.c_fc": "mlp.expand",
    "mlp.c_proj": "mlp.residual_proj",
}
_TOP_NAMES = {"wte": "token_embedding", "wpe": "position_embedding", "ln_f": "final_norm"}
# Names only our own GPT uses; Hugging Face's are wte, wpe, h.<i>.*, ln_f.
_OUR_NAMES = ("token_embedding.weight", "position_embedding.weight", "final_norm.weight")
_CONV1D = ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")
_MASK_BUFFER = re.compile(r"^h\.\d+\.attn\.(bias|masked_bias)$")
_BLOCK_KEY = re.compile(r"^h\.(\d+)\.(.+)\.(weight|bias)$")
# OpenAI's released sizes: width -> heads (the shapes cannot tell us the heads).
_HEADS_BY_WIDTH = {768: 12, 1024: 16, 1280: 20, 1600: 25}
# A hub model id: "name" or "owner/name", nothing that looks like a local path.
_HUB_NAME = re.compile(r"^(?![./~])[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")


def _read_config(file: Path) -> dict:
    """A Hugging Face config.json, or {} if there is none; a damaged one is an error naming it."""
    if not file.is_file():
        return {}
    try:
        config = json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{file} is not valid JSON ({err}); fix or delete it") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{file} should hold a JSON object, got {type(config).__name__}")
    return config


def _read_folder(folder: Path) -> tuple[dict[str, torch.Tensor], dict]:
    config = _read_config(folder / "config.json")
    files = sorted(folder.glob("*.safetensors"))
    if files:
        tensors = {}
        for file in files:
            tensors.update(_read_safetensors(file))
        return tensors, config
    if (folder / "pytorch_model.bin").is_file():
        # weights_only=True: tensors and plain containers only, no pickled code.
        return torch.load(folder / "pytorch_model.bin", map_location="cpu", weights_only=True), config
    raise FileNotFoundError(f"no *.safetensors or pytorch_model.bin in {folder}")


def _read_safetensors(file: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(file), device="cpu")
    except Exception as err:  # a truncated or foreign file
        raise CheckpointError(f"cannot read {file} as safetensors: {err}") from err


def _download(name: str) -> Path:
    try:  # an optional dependency, needed only to download: imported where it is used
        from huggingface_hub import snapshot_download
    except ImportError as err:
        raise ImportError(
            f"{name!r} is not a local path; downloading it needs the huggingface_hub package "
            f"(pip install huggingface_hub), or pass a local folder / .safetensors file"
        ) from err
    try:
        return Path(snapshot_download(name, allow_patterns=["*.safetensors", "config.json"]))
    except Exception as err:  # offline, unknown name, ...: say what was tried
        raise OSError(
            f"could not download {name!r} from the Hugging Face hub ({type(err).__name__}: {err}); "
            f"without a network, pass a local folder or .safetensors file"
        ) from err


def _load_source(source) -> tuple[dict[str, torch.Tensor], dict]:
    if isinstance(source, Mapping):
        return dict(source), {}
    if isinstance(source, torch.nn.Module):  # e.g. transformers.GPT2LMHeadModel
        hf_config = getattr(source, "config", None)
        config = hf_config.to_dict() if hasattr(hf_config, "to_dict") else {}
        return source.state_dict(), config
    if isinstance(source, (str, Path)):
        path = Path(source).expanduser()
        if path.is_dir():
            return _read_folder(path)
        if path.is_file():
            if path.suffix != ".safetensors":
                raise ValueError(f"{path}: expected a .safetensors file or a folder")
            return _read_safetensors(path), _read_config(path.with_name("config.json"))
        if isinstance(source, Path) or not _HUB_NAME.match(str(source)):
            raise FileNotFoundError(f"no such file or folder: {source}")
        try:
            return _read_folder(_download(str(source)))
        except OSError as err:
            raise OSError(f"no such file or folder: {source}; and as a hub model name: {err}") from err
    raise TypeError(
        "source must be a model name, a folder, a .safetensors file, a state dict or a "
        f"GPT2LMHeadModel, got {type(source).__name__}"
    )


def convert_gpt2_state_dict(hf_state: Mapping[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict]:
    """Map a Hugging Face GPT-2 state dict onto ``mingpt_lite`` names.

    Returns ``(tensors, shape_facts)``: the renamed tensors (Conv1D weights
    transposed, mask buffers dropped, head dropped when it equals the embedding)
    and what the shapes tell about the config. Unknown names are an error.
    """
    if any(key in hf_state for key in _OUR_NAMES):
        # a state dict or file of this package's own GPT (save_model), not GPT-2's layout
        raise CheckpointError(
            "these are mingpt_lite's own tensor names (token_embedding.weight, blocks.*), not GPT-2's: "
            "load a file written by save_model with mingpt_lite.modelfile.load_model, "
            "or a state dict with GPT(config).load_state_dict"
        )
    tensors: dict[str, torch.Tensor] = {}
    unknown = []
    head = None
    for key, value in hf_state.items():
        name = key.removeprefix("transformer.")
        if _MASK_BUFFER.match(name):
            continue  # the causal mask saved as a buffer: not a weight
        if name == "lm_head.weight":
            head = value
            continue
        top = name.split(".")[0]
        if top in _TOP_NAMES and name.count(".") == 1:
            tensors[f"{_TOP_NAMES[top]}.{name.split('.')[1]}"] = value
            continue
        match = _BLOCK_KEY.match(name)
        if match and match.group(2) in _BLOCK_NAMES:
            layer, module, kind = match.groups()
            if module in _CONV1D and kind == "weight":
                value = value.t()  # Conv1D stores (in, out); nn.Linear wants (out, in)
            tensors[f"blocks.{layer}.{_BLOCK_NAMES[module]}.{kind}"] = value.contiguous()
            continue
        unknown.append(key)
    if unknown:
        raise CheckpointError(f"unexpected tensors in GPT-2 checkpoint: {', '.join(sorted(unknown))}")
    if "token_embedding.weight" not in tensors or "position_embedding.weight" not in tensors:
        raise CheckpointError("GPT-2 checkpoint lacks wte.weight / wpe.weight (token and position embeddings)")
    wte = tensors["token_embedding.weight"]
    tied = head is None or (head.shape == wte.shape and torch.equal(head, wte))
    if not tied:
        tensors["lm_head.weight"] = head
    layers = {int(k.split(".")[1]) for k in tensors if k.startswith("blocks.")}
    gaps = sorted(set(range(max(layers) + 1)) - layers) if layers else []
    if gaps:
        raise CheckpointError(
            f"GPT-2 checkpoint has no tensors at all for layer(s) {', '.join(map(str, gaps))} "
            f"(h.{gaps[0]}.*) but has layers up to {max(layers)}"
        )
    facts = {
        "vocab_size": wte.shape[0],
        "n_embd": wte.shape[1],
        "block_size": tensors["position_embedding.weight"].shape[0],
        "n_layer": max(layers) + 1 if layers else 0,
        "bias": "blocks.0.attn.qkv.bias" in tensors,
        "tie_weights": tied,
    }
    return tensors, facts


def gpt2_weights(source, **overrides) -> tuple[GPTConfig, dict[str, torch.Tensor]]:
    """The config and our-named tensors of GPT-2 weights in the Hugging Face layout.

    ``source`` may be a hub model name such as ``"gpt2"`` (downloaded, so it needs a
    network), a local folder (``*.safetensors`` or ``pytorch_model.bin``, plus an
    optional ``config.json``), a ``.safetensors`` file, a state dict, or a
    ``transformers.GPT2LMHeadModel``. Sizes come from the tensors' shapes; the head
    count from ``config.json``, the model's config, ``n_head=`` or GPT-2's known
    widths. Other ``overrides`` (e.g. ``dropout=0.0``) go into :class:`GPTConfig`.
    :meth:`GPT.from_pretrained` builds the model from the result.
    """
    hf_state, hf_config = _load_source(source)
    tensors, facts = convert_gpt2_state_dict(hf_state)
    if "n_layer" in hf_config and "n_layer" not in overrides:
        # the depth the checkpoint claims, so that missing layers are named below, not dropped
        facts["n_layer"] = hf_config["n_layer"]
    if "n_head" in overrides:
        n_head = overrides.pop("n_head")  # even 0 or None: GPTConfig says what is wrong with it
    else:
        n_head = hf_config.get("n_head") or _HEADS_BY_WIDTH.get(facts["n_embd"])
    if n_head is None:
        raise ValueError(
            f"cannot tell the number of heads for width {facts['n_embd']} from the tensors; pass n_head=..."
        )
    fields = dict(facts, n_head=n_head)
    if "layer_norm_epsilon" in hf_config:
        fields["layer_norm_eps"] = hf_config["layer_norm_epsilon"]
    if hf_config.get("activation_function", "gelu_new") not in ("gelu_new", "gelu_pytorch_tanh"):
        raise ValueError(
            f"checkpoint uses activation {hf_config['activation_function']!r}; mingpt_lite's MLP is tanh-GELU"
        )
    fields.update(overrides)
    try:
        config = GPTConfig(**fields)
    except ValueError as err:
        raise ValueError(f"cannot build the model for these weights: {err}") from None
    if not config.tie_weights and "lm_head.weight" not in tensors:
        # asked to untie a tied checkpoint: the head starts as a copy of the embedding
        tensors["lm_head.weight"] = tensors["token_embedding.weight"].clone()
    return config, tensors
