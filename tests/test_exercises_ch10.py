"""Chapter 10's checkers: the reference answers pass, and plausible wrong answers fail with the
hint that names their mistake."""

from __future__ import annotations

import pytest
import torch

from mingpt_lite.exercises import check

from conftest import failed as _failed

pytestmark = pytest.mark.usefixtures("one_thread")

BLOCK = {"ln_1": "norm1", "attn.c_attn": "attn.qkv", "attn.c_proj": "attn.residual_proj",
         "ln_2": "norm2", "mlp.c_fc": "mlp.expand", "mlp.c_proj": "mlp.residual_proj"}
TOP = {"wte": "token_embedding", "wpe": "position_embedding", "ln_f": "final_norm"}
CONV1D = ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")


def make_converter(transpose=CONV1D, transpose_embeddings=False, keep_buffers=False, swap_norms=False):
    """A converter written from the chapter's explanation (not the package's code), with one
    mistake switched on at a time."""
    block = dict(BLOCK)
    if swap_norms:
        block["ln_1"], block["ln_2"] = "norm2", "norm1"

    def convert(hf_state):
        out = {}
        for key, value in hf_state.items():
            parts = key.removeprefix("transformer.").split(".")
            if parts[0] in TOP:
                if transpose_embeddings and value.dim() == 2:
                    value = value.t()
                out[f"{TOP[parts[0]]}.{parts[1]}"] = value
                continue
            layer, module, kind = parts[1], ".".join(parts[2:-1]), parts[-1]
            if module == "attn" and kind in ("bias", "masked_bias"):
                if keep_buffers:
                    out[f"blocks.{layer}.attn.{kind}"] = value
                continue
            if module == "attn" and kind == "masked_bias":
                continue
            if kind == "weight" and module in transpose:
                value = value.t()
            out[f"blocks.{layer}.{block[module]}.{kind}"] = value
        return out

    return convert




# --- 10.1


def test_10_1_the_three_non_square_weights_pass():
    assert check("10.1", {"attn.c_attn", "mlp.c_fc", "mlp.c_proj"}, quiet=True)


def test_10_1_including_the_square_projection_is_named():
    assert "square" in _failed("10.1", set(CONV1D))


def test_10_1_missing_the_mlp_projection_is_named():
    assert "mlp.c_proj is stored as (3072, 768)" in _failed("10.1", {"attn.c_attn", "mlp.c_fc"})


def test_10_1_unknown_names_and_a_bare_string_are_refused():
    assert "not Conv1D weights" in _failed("10.1", {"ln_1"})
    assert "give a set of names" in _failed("10.1", "attn.c_attn")


# --- 10.2


def test_10_2_a_correct_converter_passes():
    result = check("10.2", make_converter(), quiet=True)
    assert result and "logits" in result.message


def test_10_2_forgetting_every_transpose_is_caught_by_shape():
    assert "forgot to transpose the Conv1D weight" in _failed("10.2", make_converter(transpose=()))


def test_10_2_forgetting_only_the_square_transpose_is_caught_by_value():
    message = _failed("10.2", make_converter(transpose=("attn.c_attn", "mlp.c_fc", "mlp.c_proj")))
    assert "untransposed" in message and "square" in message


def test_10_2_transposing_the_embeddings_is_named():
    assert "Embeddings are (rows, C) on both sides" in _failed("10.2", make_converter(transpose_embeddings=True))


def test_10_2_copying_the_mask_buffers_is_named():
    assert "causal-mask buffers" in _failed("10.2", make_converter(keep_buffers=True))


def test_10_2_swapped_layer_norms_are_named():
    assert "swapped" in _failed("10.2", make_converter(swap_norms=True))


def test_10_2_a_head_that_is_not_the_embedding_is_refused():
    def with_head(hf_state):
        out = make_converter()(hf_state)
        out["lm_head.weight"] = torch.zeros_like(out["token_embedding.weight"])
        return out

    assert "ties them" in _failed("10.2", with_head)


# --- 10.3


def test_10_3_the_head_matrix_passes_and_near_misses_are_named():
    assert check("10.3", 101 * 48, quiet=True)
    assert "no bias" in _failed("10.3", 101 * 48 + 101)
    assert "real gpt2" in _failed("10.3", 50257 * 768)
    assert "whole number" in _failed("10.3", 48.5)
