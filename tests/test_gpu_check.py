"""Tests for tools/gpu_check.sh (issue 26): a fast part of its CPU rehearsal, and its step runner.

The whole rehearsal, ``tools/gpu_check.sh --device cpu OUT`` (after ``tools/gpu_check.sh --prepare``
has put minGPT and nanoGPT into .peer/), takes several minutes; here the steps that need neither
the peers nor a notebook kernel run for real (the machine, the tooling, a short `bench sort`),
and the summary must still list every step.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from conftest import ROOT, load_tool

gpu_check = load_tool("gpu_check")


def test_the_plan_covers_every_step_the_issue_names(tmp_path):
    parallel, alone = gpu_check.plan(sys.executable, "cuda", gpu_check.GPU, tmp_path)
    names = [s.name for s in parallel + alone]
    assert names[:3] == ["env", "tooling", "unit-tests"]
    assert {f"bench-sort-{r}-{p}" for r in ("demo", "fast") for p in ("fp32", "bf16")} <= set(names)
    assert {"bench-generate", "bench-char-fast"} <= set(names)
    notebooks = [n.removeprefix("notebook:") for n in names if n.startswith("notebook:")]
    for chapter in ("chapters/05_trainer.py", "chapters/07_generation.py", "chapters/09_char_gpt.py",
                    "chapters/solutions/07_generation.py"):
        assert chapter in notebooks
    assert "chapters/02_blocks.py" not in notebooks  # trains nothing
    sort = next(s for s in alone if s.name == "bench-sort-fast-bf16").command
    assert sort[sort.index("--device") + 1] == "cuda" and sort[sort.index("--precision") + 1] == "bf16"
    assert all("--peer" in s.command for s in alone if s.name.startswith(("bench-sort", "bench-generate", "bench-char")))
    unit = next(s for s in parallel if s.name == "unit-tests")
    assert unit.env == {"MINGPT_TEST_DEVICE": "cuda"} and "tests/test_attention.py" in unit.command
    # the GPU run fits its 6 minutes whatever the steps do: the budget bounds it
    assert gpu_check.GPU.budget <= 360 and gpu_check.REHEARSAL.budget < 600


def test_rehearsal_subset_writes_a_summary_listing_every_step(tmp_path):
    out = tmp_path / "check"
    done = subprocess.run([str(ROOT / "tools" / "gpu_check.sh"), "--device", "cpu", "--only", "env,tooling,bench-sort-fast-fp32", str(out)],
                          capture_output=True, text=True, timeout=60, env={"PY": sys.executable, "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads((out / "summary.json").read_text())
    parallel, alone = gpu_check.plan(sys.executable, "cpu", gpu_check.REHEARSAL, out)
    assert [s["name"] for s in summary["steps"]] == [s.name for s in parallel + alone]
    status = {s["name"]: s["status"] for s in summary["steps"]}
    assert status.pop("env") == status.pop("tooling") == status.pop("bench-sort-fast-fp32") == "passed"
    assert set(status.values()) == {"skipped"}
    assert summary["counts"] == {"passed": 3, "failed": 0, "timeout": 0, "skipped": len(status)}
    sort = next(s for s in summary["steps"] if s["name"] == "bench-sort-fast-fp32")["result"]
    assert sort["device"] == "cpu" and sort["precision"] == "fp32" and sort["iters"] == 30  # its JSON line
    assert summary["machine"]["torch"] and summary["device"] == "cpu" and summary["rehearsal"]
    assert summary["finished"] and (out / summary["steps"][0]["log"]).is_file()


def test_a_step_past_its_timeout_is_stopped_and_recorded(tmp_path):
    summary = {"steps": [{"name": "slow", "status": "pending"}, {"name": "late", "status": "pending"}],
               "_t0": time.monotonic()}
    run = gpu_check.Run(tmp_path, summary, deadline=time.monotonic() + 8)
    start = time.monotonic()
    # the child's child must go too: the whole process group is stopped
    entry = run.run(gpu_check.Step("slow", ["bash", "-c", "sleep 60 & sleep 60"], timeout=1))
    assert entry["status"] == "timeout" and time.monotonic() - start < 10
    run.deadline = time.monotonic()  # the budget is spent: the next step is skipped, not started
    run.run(gpu_check.Step("late", ["true"], timeout=5))
    written = json.loads((tmp_path / "summary.json").read_text())
    assert [s["status"] for s in written["steps"]] == ["timeout", "skipped"]
    assert "budget" in written["steps"][1]["why"]
