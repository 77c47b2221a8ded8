"""The Tiny Shakespeare corpus, the char benchmark's pieces (estimator, nanoGPT checkpoint reader,
time budget, recipes) and the Muon optimizer. Fast: no benchmark is run here."""

import json
import math
import subprocess
import sys

import pytest
import torch

from mingpt_lab.bench import char
from mingpt_lab.cli import main
from mingpt_lite import GPT, GPTConfig
from mingpt_lite.trainer import Trainer, TrainerConfig

pytestmark = pytest.mark.usefixtures("one_thread")


# --- the corpus --------------------------------------------------------------------------------


# --- the estimator --------------------------------------------------------------------------------

def test_val_windows_are_consecutive_and_shifted():
    ids = torch.arange(200)
    x, y = char.val_windows(ids, window=64)
    assert x.shape == y.shape == (3, 64)          # (200 - 1) // 64 windows
    assert torch.equal(x.flatten(), ids[:192]) and torch.equal(y, x + 1)


def test_windowed_val_loss_is_the_mean_cross_entropy():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=7, block_size=16, n_layer=1, n_head=2, n_embd=8, dropout=0.0))
    ids = torch.randint(0, 7, (100,))
    x, y = char.val_windows(ids, window=16)
    with torch.no_grad():
        logits = model(x)
        want = torch.nn.functional.cross_entropy(logits.reshape(-1, 7), y.reshape(-1)).item()
    assert math.isclose(char.windowed_val_loss(model, ids, window=16, batch_size=2), want, rel_tol=1e-6)
    assert model.training  # left as it was


# --- nanoGPT's checkpoint ------------------------------------------------------------------------

def _as_nanogpt_checkpoint(model: GPT) -> dict:
    """Our model's weights under nanoGPT's names, as its train.py saves them."""
    names = {
        "token_embedding.": "transformer.wte.", "position_embedding.": "transformer.wpe.",
        "final_norm.": "transformer.ln_f.", "norm1.": "ln_1.", "norm2.": "ln_2.", "attn.qkv.": "attn.c_attn.",
        "attn.residual_proj.": "attn.c_proj.", "mlp.expand.": "mlp.c_fc.", "mlp.residual_proj.": "mlp.c_proj.",
    }
    state = {}
    for name, tensor in model.state_dict().items():
        for ours, theirs in names.items():
            name = name.replace(ours, theirs)
        name = name.replace("blocks.", "transformer.h.")
        state[name] = tensor.clone()
    c = model.config
    args = dict(n_layer=c.n_layer, n_head=c.n_head, n_embd=c.n_embd, block_size=c.block_size, bias=c.bias,
                vocab_size=c.vocab_size, dropout=0.0)
    return {"model": state, "model_args": args, "iter_num": 7, "best_val_loss": torch.tensor(2.5)}


@pytest.mark.parametrize("bias", [False, True])
def test_nanogpt_checkpoint_is_read_into_our_gpt(tmp_path, bias):
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=11, block_size=16, n_layer=2, n_head=2, n_embd=8, dropout=0.0, bias=bias,
                       tie_weights=True)
    source = GPT(config).eval()
    torch.save(_as_nanogpt_checkpoint(source), tmp_path / "ckpt.pt")
    model, ckpt = char.load_nanogpt_checkpoint(tmp_path / "ckpt.pt")
    assert ckpt["iter_num"] == 7 and model.config.bias == bias
    for block in source.blocks:  # nanoGPT's GELU is the exact one
        block.mlp.gelu = torch.nn.GELU()
    idx = torch.randint(0, 11, (2, 16))
    torch.testing.assert_close(model(idx), source(idx), rtol=0, atol=0)
    assert model.lm_head.weight is model.token_embedding.weight


# --- the time budget and the recipes ----------------------------------------------------------------

def test_time_budget_schedule_and_stop():
    now = [0.0]
    model = GPT(GPTConfig(vocab_size=5, block_size=4, n_layer=1, n_head=1, n_embd=4, dropout=0.0))

    class Data:
        splits = ("train", "val")
        vocab_size, block_size = 5, 4

        def get_batch(self, split, batch_size, generator=None):
            now[0] += 1.0  # every step costs one second of the fake clock
            x = torch.randint(0, 5, (batch_size, 4), generator=generator)
            return x, x

    config = TrainerConfig(max_iters=10**6, batch_size=2, learning_rate=1e-3, min_lr=1e-4, warmup_iters=2,
                           lr_schedule="cosine", progress=False, device="cpu")
    schedule, budget = char.time_budget(config, 10.0, clock=lambda: now[0])
    trainer = Trainer(model, Data(), config, schedule=schedule, callbacks=(budget,))
    lrs = []
    trainer.add_callback("on_batch_end", lambda t: lrs.append(t.optimizer.param_groups[0]["lr"]))
    trainer.train()
    assert 9 <= trainer.iter_num <= 11          # stopped when the 10 s were spent
    assert lrs[:2] == pytest.approx([5e-4, 1e-3])  # warmup in steps
    assert lrs[2] > lrs[5] > lrs[-1] >= 1e-4       # then the cosine over the clock


def test_recipes_and_ablation_are_valid_configs():
    for name, recipe in char.RECIPES.items():
        GPTConfig(vocab_size=65, **recipe["model"])
        TrainerConfig(**recipe["train"])
    assert char.RECIPES["nanogpt-cpu"]["train"]["max_iters"] == 2000
    for variant in char.ABLATION.values():
        GPTConfig(vocab_size=65, **dict(char.RECIPES[char.ABLATION_BASE]["model"], **variant["model"]))


def test_train_recipe_runs_and_saves(tmp_path):
    figures = char.train_recipe("fast", 0, tmp_path, threads=1, progress=False, iters=2)
    assert figures["iters"] == 2 and (tmp_path / "model.safetensors").is_file()


# --- Muon ---------------------------------------------------------------------------------------------


def test_nanogpt_runs_on_our_device_at_our_precision():
    assert char.nanogpt_args("cuda", "bf16")[-2:] == ["--device=cuda", "--dtype=bfloat16"]
    assert char.nanogpt_args("cpu", "fp32")[-2:] == ["--device=cpu", "--dtype=float32"]
    assert not any(arg.startswith("--device=") for arg in char.NANOGPT_ARGS)  # never a fixed device


@pytest.mark.parametrize("precision, autocast", [("fp32", "none"), ("bf16", "bfloat16")])
def test_the_child_trains_on_the_device_and_precision_it_is_given(tmp_path, precision, autocast):
    if precision == "bf16" and torch.backends.cpu.get_cpu_capability() == "DEFAULT":
        # torch 2.13's bf16 attention kernel needs the vectorised kernels on some CPUs ("pack_vnni2 is
        # only supported when avx512 is supported", seen on an Intel Xeon under ATEN_CPU_CAPABILITY=default)
        pytest.skip("bf16 attention on the CPU needs torch's vectorised kernels")
    figures = char.train_recipe("fast", 0, tmp_path, threads=1, progress=False, iters=2, device="cpu",
                                precision=precision)
    assert figures["iters"] == 2 and (tmp_path / "model.safetensors").is_file()
    assert (figures["device"], figures["autocast"]) == ("cpu", autocast)


# --- the results file and the --out folder (issue 28: runs that meet, planted links) -------------------

def test_merging_runs_keeps_every_run_and_follows_no_planted_link(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("not yours")
    results = tmp_path / "ablation.json"
    (tmp_path / "ablation.json.tmp").symlink_to(outside)  # the names the old writer used
    char._merge_run(results, {"command": "a"}, "base | seed 0", {"val_loss": 2.5})
    char._merge_run(results, {"command": "b"}, "base | seed 1", {"val_loss": 2.4})
    assert outside.read_text() == "not yours" and not results.is_symlink()
    saved = json.loads(results.read_text())
    assert set(saved["runs"]) == {"base | seed 0", "base | seed 1"} and saved["meta"]["command"] == "a"


def test_a_second_run_into_a_busy_out_is_refused_in_one_line(tmp_path, capsys):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom mingpt_lite.runstate import run_lock\n"
         "with run_lock(sys.argv[1]):\n    print('held', flush=True)\n    time.sleep(60)", str(tmp_path)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert char.main(["--out", str(tmp_path), "--iters", "1", "--device", "cpu"]) == 1
        error = capsys.readouterr().err.strip()
        assert len(error.splitlines()) == 1 and str(holder.pid) in error
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("option, value, says", [("--iters", "-5", "must be an integer >= 1, got -5"),
                                                 ("--budget", "0", "must be a finite number > 0, got 0"),
                                                 ("--threads", "0", "must be an integer >= 1, got 0")])
def test_numbers_that_cannot_work_are_one_line_usage_errors(option, value, says, capsys):
    with pytest.raises(SystemExit) as exit_info:
        char.main([option, value])
    assert exit_info.value.code == 2
    assert f"{option}: {says}" in capsys.readouterr().err


def test_nanogpt_seeded_copy_changes_only_the_seed_line(tmp_path):
    peer = tmp_path / "nanoGPT"
    peer.mkdir()
    original = "import torch\nseed_offset = 0\ntorch.manual_seed(1337 + seed_offset)\nprint('train')\n"
    (peer / "train.py").write_text(original)
    script = char.seeded_nanogpt_script(peer, 5, tmp_path)
    changed = [(a, b) for a, b in zip(original.splitlines(), script.read_text().splitlines()) if a != b]
    assert changed == [("torch.manual_seed(1337 + seed_offset)", "torch.manual_seed(1337 + 5 + seed_offset)")]
    assert (peer / "train.py").read_text() == original and script.parent == tmp_path  # the checkout is untouched
    (peer / "train.py").write_text("print('no seed here')\n")
    with pytest.raises(SystemExit, match="cannot change only its seed"):
        char.seeded_nanogpt_script(peer, 5, tmp_path)


def test_bench_char_with_a_tokenizer_scores_bits_per_character(tmp_path, capsys):
    # through the console script: `mingpt-lite bench char --tokenizer FILE`
    from mingpt_lab.bench import char as bench_char
    from mingpt_lite.data import load_corpus
    from mingpt_lite.tokenizer import train_bpe

    text = load_corpus("tinyshakespeare")
    tokenizer = train_bpe(text[: int(len(text) * 0.9)], 300)
    tokenizer.save(tmp_path / "bpe.json")
    assert main(["bench", "char", "--tokenizer", str(tmp_path / "bpe.json"), "--iters", "1", "--threads", "1",
                 "--device", "cpu"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["tokenizer"] == str((tmp_path / "bpe.json").resolve()) and result["iters"] == 1
    # nats per token -> bits per character, with the validation text's characters per token
    chars_per_token = len(text[int(len(text) * 0.9):]) / len(tokenizer.encode(text[int(len(text) * 0.9):]))
    expected = result["val_loss"] / math.log(2) / chars_per_token
    assert result["val_bits_per_char"] == pytest.approx(expected, rel=2e-3)
    # with bytes only (no merges) a token is a character: bits per character = nats per token / ln 2
    ids = torch.tensor(train_bpe("ab", 256).encode("hello world, hello"))
    assert bench_char.bits_per_char(1.5, ids, train_bpe("ab", 256), window=4) == pytest.approx(1.5 / math.log(2))


def test_bench_char_refuses_a_bad_tokenizer_in_one_line(tmp_path, capsys):
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    for args, words in ((["--tokenizer", str(tmp_path / "absent.json")], "no tokenizer file"),
                        (["--tokenizer", str(broken)], "not valid JSON"),
                        (["--tokenizer", str(broken), "--peer", str(tmp_path)], "leave them out")):
        assert main(["bench", "char", *args, "--iters", "1", "--device", "cpu"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("error: --tokenizer") and words in err, err

