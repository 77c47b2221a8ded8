"""mingpt_lite.model: parameter counts against minGPT's, input checks, the modern options in a whole model,
and the import graph around the model (no circle with generation, pretrained and modelfile)."""


import pytest
import torch
from conftest import OPTIONS, tiny_config

from mingpt_lite import GPT, GPTConfig, lm_loss
from mingpt_lite.loss import lm_loss

# --- parameter counts: minGPT's printed figures -------------------------------------------

def formula_count(vocab, block, n_layer, n_embd):
    """Parameters without the head: embeddings + per block (12 C^2 + 13 C) + final LayerNorm."""
    return vocab * n_embd + block * n_embd + n_layer * (12 * n_embd**2 + 13 * n_embd) + 2 * n_embd


MINGPT_COUNTS = [
    # preset, vocab, block, minGPT's count without the lm head
    ("gpt-nano", 3, 11, 85_584),
    ("gpt-micro", 65, 128, 818_048),
    ("gpt-mini", 65, 128, 2_706_624),
    ("gpt2", 50257, 1024, 124_439_808),
    ("gpt2-medium", 50257, 1024, 354_823_168),
    ("gpt2-large", 50257, 1024, 774_030_080),
    ("gpt2-xl", 50257, 1024, 1_557_611_200),
]


@pytest.mark.parametrize("preset,vocab,block,expected", MINGPT_COUNTS)
def test_parameter_counts_equal_mingpt(preset, vocab, block, expected):
    config = GPTConfig.from_preset(preset, vocab_size=vocab, block_size=block)
    with torch.device("meta"):  # shapes only: gpt2-xl costs nothing
        model = GPT(config)
    assert model.num_parameters() == expected
    assert model.num_parameters(include_head=True) == expected + vocab * config.n_embd


@pytest.mark.parametrize("preset", ["openai-gpt", "gopher-44m"])
def test_other_presets_follow_the_formula(preset):
    config = GPTConfig.from_preset(preset, vocab_size=50257, block_size=1024)
    with torch.device("meta"):
        model = GPT(config)
    assert model.num_parameters() == formula_count(50257, 1024, config.n_layer, config.n_embd)


def test_gpt_nano_with_head():
    model = GPT(GPTConfig.from_preset("gpt-nano", vocab_size=3, block_size=11))
    assert model.num_parameters(include_head=True) == 85_728


def test_tied_head_counts_once():
    config = tiny_config(tie_weights=True)
    model = GPT(config)
    assert model.lm_head.weight is model.token_embedding.weight
    assert model.num_parameters() == model.num_parameters(include_head=True)
    assert model.num_parameters() == formula_count(11, 8, 2, 16)


# --- config errors ------------------------------------------------------------------------


# --- input validation ---------------------------------------------------------------------

def test_sequence_longer_than_block_size():
    model = GPT(tiny_config())
    with pytest.raises(ValueError, match="block_size 8"):
        model(torch.zeros(1, 9, dtype=torch.long))


@pytest.mark.parametrize("bad", [-1, 11, 100])
def test_token_ids_out_of_range(bad):
    model = GPT(tiny_config())
    idx = torch.zeros(2, 4, dtype=torch.long)
    idx[1, 2] = bad
    with pytest.raises(ValueError, match=r"\[0, 11\)"):
        model(idx)


def test_importing_the_package_does_not_import_dynamo():
    # torch._dynamo costs over a second to import; nothing in `import mingpt_lite` needs it
    # (torch.optim and torch.compile import it themselves when they are used)
    import subprocess
    import sys

    code = "import sys, mingpt_lite, mingpt_lite.model, mingpt_lite.trainer; print('torch._dynamo' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _own_imports(path):
    """The package modules ``path`` imports: [(module, at_top_level)] from its relative imports."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            names = [node.module] if node.module else [alias.name for alias in node.names]
            found += [(name.split(".")[0], id(node) in top) for name in names]
    return found


def test_model_generation_pretrained_have_no_import_circle():
    """Issue 24-5: model imports generation and pretrained at the top; neither imports the
    model back (nor modelfile, which imports the model), and none hides an import in a function."""
    from pathlib import Path

    import mingpt_lite

    package = Path(mingpt_lite.__file__).parent
    imports = {name: _own_imports(package / f"{name}.py")
               for name in ("model", "generation", "pretrained", "checks", "device", "data")}
    assert ("generation", True) in imports["model"] and ("pretrained", True) in imports["model"]
    for name in ("generation", "pretrained", "checks"):
        assert not {"model", "modelfile"} & {module for module, _ in imports[name]}, name
    for name, found in imports.items():
        assert all(at_top for _, at_top in found), f"{name}.py imports a package module inside a function"


def test_token_checks_are_skipped_only_while_compiling(monkeypatch):
    from mingpt_lite.checks import check_token_ids

    config, bad = tiny_config(), torch.full((1, 4), 99)
    with pytest.raises(ValueError):
        check_token_ids(bad, config)
    monkeypatch.setattr(torch.compiler, "is_compiling", lambda: True)
    assert check_token_ids(bad, config) is None  # inside a graph: the Trainer checked a batch eagerly


def test_float_ids_rejected():
    model = GPT(tiny_config())
    with pytest.raises(TypeError, match="integer"):
        model(torch.zeros(1, 4))


def test_wrong_rank_and_empty_rejected():
    model = GPT(tiny_config())
    with pytest.raises(ValueError, match="batch, time"):
        model(torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="empty"):
        model(torch.zeros(1, 0, dtype=torch.long))


# --- attention ----------------------------------------------------------------------------


def test_training_steps_off_the_cpu_skip_the_range_check():
    """Issue 26-J: the range check reads ids back to the host, so a training step on any device
    but the CPU (CUDA, MPS) skips it. The meta device stands in for an accelerator: reading from
    it into Python fails, as reading from a GPU would wait for the device."""
    with torch.device("meta"):
        model = GPT(tiny_config())
        idx = torch.zeros(2, 8, dtype=torch.long)
    assert model(idx).shape == (2, 8, 11)  # train mode, grad enabled: a training step
    with torch.no_grad():  # an evaluation forward still checks its ids, and that reads them back
        with pytest.raises((NotImplementedError, RuntimeError)):
            model(idx)


# --- blocks -------------------------------------------------------------------------------


# --- init ---------------------------------------------------------------------------------


# --- loss ---------------------------------------------------------------------------------


# --- optimizer groups ---------------------------------------------------------------------


# --- device -------------------------------------------------------------------------------


pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_model(seed=0, **overrides):
    torch.manual_seed(seed)
    fields = dict(vocab_size=3, block_size=7, n_layer=1, n_head=2, n_embd=16, dropout=0.0)
    fields.update(overrides)
    return GPT(GPTConfig(**fields))


def test_token_id_dtypes_and_target_ranges():
    model = tiny_model().eval()
    ids = torch.tensor([[0, 1, 2, 1]])
    for dtype in (torch.uint8, torch.int16, torch.int8):
        with pytest.raises(TypeError, match=f"token ids must be torch.long .*got dtype {dtype}"):
            model(ids.to(dtype))
    torch.testing.assert_close(model(ids.int()), model(ids), rtol=0, atol=0)

    logits = torch.randn(1, 4, 3)
    assert lm_loss(logits, ids.int()) == lm_loss(logits, ids)  # int32 targets: converted
    assert lm_loss(logits, torch.tensor([[-1, 0, 1, 2]])).isfinite()  # -1: no loss there
    for bad, shown in (([[0, 1, 2, 3]], "from 0 to 3"), ([[0, -2, 1, 1]], "from -2 to 1")):
        with pytest.raises(ValueError, match=rf"targets must be token ids in \[0, 3\) .* or -1 .*got values {shown}"):
            lm_loss(logits, torch.tensor(bad))
    with pytest.raises(TypeError, match="integer token ids"):
        lm_loss(logits, ids.float())


def test_parameter_counts_of_the_options():
    base = GPT(tiny_config()).num_parameters(include_head=True)
    assert GPT(tiny_config(position="rotary")).num_parameters(include_head=True) == base - 8 * 16
    # RMSNorm drops the LayerNorms' biases: 2 per block + the final one
    assert GPT(tiny_config(normalization="rmsnorm")).num_parameters(include_head=True) == base - 16 * (2 * 2 + 1)
    # QK-norm adds a LayerNorm (gain and bias, head_dim 8) for q and for k in each block
    assert GPT(tiny_config(qk_norm=True)).num_parameters(include_head=True) == base + 2 * 2 * 2 * 8
    assert GPT(tiny_config(tie_weights=True)).num_parameters(include_head=True) == base - 11 * 16


@pytest.mark.parametrize("name", OPTIONS)
def test_no_position_sees_the_future(name):
    torch.manual_seed(0)
    model = GPT(tiny_config(**OPTIONS[name])).double().eval()
    idx = torch.randint(0, 11, (2, 8))
    logits = model(idx)
    for t in range(7):
        changed = idx.clone()
        changed[:, t + 1] = (changed[:, t + 1] + 1) % 11
        out = model(changed)
        torch.testing.assert_close(out[:, : t + 1], logits[:, : t + 1], rtol=0, atol=0)
        assert not torch.equal(out[:, t + 1], logits[:, t + 1])

