"""mingpt_lab.bench.generate: every method at one precision, the JSON saying which, and the same tokens."""

import json

import pytest

from mingpt_lab.bench import generate

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = ["--preset", "gpt-nano", "--vocab-size", "11", "--block-size", "32", "--new-tokens", "12",
        "--batch-sizes", "1,3", "--repeats", "1", "--device", "cpu", "--no-progress"]


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_every_method_runs_at_the_stated_precision_and_agrees(precision, capsys):
    assert generate.main(TINY + ["--precision", precision]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["precision"] == precision
    for batch in ("1", "3"):
        entry = result["batches"][batch]
        assert {"cache", "recompute"} <= set(entry)
        if precision == "fp32":  # bf16 rounding may break a near-tie between two tokens differently
            assert entry["same_tokens"] is True


def test_bad_arguments_are_one_line_usage_errors(capsys):
    with pytest.raises(SystemExit) as exit_info:
        generate.main(TINY + ["--precision", "fp16"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'fp16'" in capsys.readouterr().err
