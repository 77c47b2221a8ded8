"""The plumbing of the GPU run, tested on the CPU.

``make test-gpu`` must refuse cleanly where there is no CUDA GPU; ``tools/book.py run`` executes
notebooks with the device it is given into a scratch folder and fails on a failed assertion;
``$MINGPT_TEST_DEVICE`` chooses the device of the device-aware unit tests (the ``device``
fixture) and refuses one that is not here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import torch

from conftest import ROOT, TEST_DEVICE_ENV, book_tool, resolve_test_device

HEADER = "# ---\n# jupyter:\n#   kernelspec:\n#     display_name: Python 3\n#     language: python\n#     name: python3\n# ---\n"
no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is here: the refusal cannot happen")


@no_gpu
@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_test_gpu_refuses_in_one_line_without_a_gpu():
    # -o: never (re)install the environment from here; PY: this interpreter
    result = subprocess.run(["make", "-s", "-o", ".venv/.installed-stamp", "test-gpu", f"PY={sys.executable}"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "make test-gpu: no CUDA GPU here" in result.stderr
    assert "Traceback" not in output
    assert "unit tests with MINGPT_TEST_DEVICE=cuda" not in output  # it stopped before running anything


@no_gpu
def test_run_refuses_a_device_that_is_not_here(capsys):
    assert book_tool.main(["run", "--device", "cuda"]) == 1
    assert "CUDA is not available here; nothing was run" in capsys.readouterr().err


def _notebook(path, number, body):
    path.write_text(f"{HEADER}\n# %%\n{body}\n", encoding="utf-8")
    return book_tool.Chapter(number=number, slug=path.stem.split("_", 1)[1], title=path.stem, summary="",
                             modules=(), framework=(), appendix=False, py=path, ipynb=path.with_suffix(".ipynb"))


def test_run_executes_with_the_device_into_a_scratch_folder_and_fails_on_an_assertion(tmp_path, monkeypatch):
    monkeypatch.setenv("MINGPT_DEVICE", "left-alone")
    good = _notebook(tmp_path / "01_good.py", 1,
                     'import os\nassert os.environ["MINGPT_DEVICE"] == "cpu"\nprint("device", os.environ["MINGPT_DEVICE"])')
    bad = _notebook(tmp_path / "02_bad.py", 2, "assert 1 + 1 == 3, 'arithmetic changed'")
    out = tmp_path / "scratch"
    timings, failures = book_tool.run_notebooks([good, bad], out, "cpu", timeout=120)
    assert [chapter.name for chapter, _ in timings] == ["01_good"]
    assert failures == [bad.rel_py]
    executed = json.loads((out / "01_good.ipynb").read_text(encoding="utf-8"))
    assert "".join(executed["cells"][0]["outputs"][0]["text"]) == "device cpu\n"
    assert not (out / "02_bad.ipynb").exists()
    assert not good.ipynb.exists() and not bad.ipynb.exists()  # nothing written next to the sources
    assert os.environ["MINGPT_DEVICE"] == "left-alone"  # the environment is restored


def test_the_test_device_comes_from_the_environment():
    assert resolve_test_device(None) == torch.device("cpu")
    assert resolve_test_device("") == torch.device("cpu")
    assert resolve_test_device("cpu") == torch.device("cpu")
    with pytest.raises(pytest.UsageError, match=f"{TEST_DEVICE_ENV}=no-such-device"):
        resolve_test_device("no-such-device")


@no_gpu
def test_asking_for_cuda_tests_without_a_gpu_is_a_usage_error():
    with pytest.raises(pytest.UsageError, match="CUDA is not available here"):
        resolve_test_device("cuda")


def test_device_aware_tests_get_the_device_the_environment_names(device):
    assert device == resolve_test_device(os.environ.get(TEST_DEVICE_ENV))
