"""mingpt_lab.bench.tokenizer: our BPE trainer and the `tokenizers` library side by side on Tiny Shakespeare."""


import json

import pytest

from mingpt_lab.bench.__main__ import BENCHMARKS
from mingpt_lab.bench.tokenizer import main as bench_tokenizer
from mingpt_lab.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")


def test_bench_tokenizer_is_registered_and_explains_itself(capsys):
    assert "tokenizer" in BENCHMARKS
    with pytest.raises(SystemExit) as done:
        main(["bench", "tokenizer", "--help"])
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith("usage: mingpt-lite bench tokenizer")


def test_both_trainers_learn_the_same_vocabulary_and_the_json_says_so(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert bench_tokenizer(["--sizes", "260,300", "--repeats", "1", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert [row["vocab_size"] for row in result["table"]] == [260, 300]
    for row in result["table"]:  # the same merges, so the same vocabulary and the same token counts
        assert row["tokens_in_both_vocabularies"] == row["vocab_size"]
        assert row["ours_val_tokens"] == row["tokenizers_val_tokens"]
    assert result["about"][0]["repeats"] == 1 and "date" in result["about"][0]


def test_a_vocabulary_below_256_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as done:
        bench_tokenizer(["--sizes", "100"])
    assert done.value.code == 2 and "must be an integer >= 256, got 100" in capsys.readouterr().err

