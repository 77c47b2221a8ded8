"""Two CPU processes under torchrun (DDP, gloo) train like one process with the same global batch."""

import json
import subprocess

import pytest

from mingpt_lite import distributed


# Tiny models: one thread (the fixture is in conftest.py).
pytestmark = pytest.mark.usefixtures("one_thread")


def test_init_without_torchrun_is_a_single_process(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    info = distributed.init_distributed(device="cpu")
    assert (info.rank, info.world_size, info.backend, info.is_main) == (0, 1, None, True)


def test_two_processes_match_one(tmp_path):
    args = ["--iters", "20", "--batch-size", "32", "--seed", "1"]
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    distributed.main(["--out", str(one), *args])  # here, without torchrun: one process
    distributed.run_torchrun(["-m", "mingpt_lite.distributed", "--out", str(two), *args], nproc=2, timeout=300, retries=1)
    a, b = json.loads(one.read_text()), json.loads(two.read_text())
    assert (a["world_size"], b["world_size"], b["backend"]) == (1, 2, "gloo")
    assert len(a["losses"]) == len(b["losses"]) == 20
    # Tolerance. Before any update the two runs see the same weights and the same 32
    # sequences; the loss differs only in how the float32 sum is split (two half-batch
    # means averaged vs one mean): a few ulps, ~1e-7 relative. After that the DDP
    # gradient (an all-reduced average of two half-batch gradients) differs from the
    # one-process gradient by the same few ulps, and Adam, dividing each gradient by
    # its running RMS, passes such differences on at full step size, so they grow
    # slowly: about 1e-5 relative after 30 steps when measured. 1e-4 bounds that with
    # room, and is still 100x below what a real mistake causes (a process training on
    # the wrong slice or gradients not averaged change the losses by 1e-2 or more).
    assert a["losses"][0] == pytest.approx(b["losses"][0], rel=1e-6)
    assert a["losses"] == pytest.approx(b["losses"], rel=1e-4)
    assert a["losses"][-1] < 0.5 * a["losses"][0]  # and it did train


def test_a_different_batch_is_far_outside_the_tolerance(tmp_path):
    # the negative control for the tolerance above: a process that trained on half the
    # batch alone (what a missing gradient average amounts to) is far outside 1e-4
    full, half = tmp_path / "full.json", tmp_path / "half.json"
    distributed.main(["--out", str(full), "--seed", "1", "--iters", "3", "--batch-size", "32"])
    distributed.main(["--out", str(half), "--seed", "1", "--iters", "3", "--batch-size", "16"])
    a, b = json.loads(full.read_text())["losses"], json.loads(half.read_text())["losses"]
    assert min(abs(x - y) / x for x, y in zip(a, b)) > 1e-3


def test_model_state_gb_counts_16_bytes_per_parameter_and_partitions_by_stage():
    # 1e9 parameters on 4 GPUs, by hand: 2 GB fp16 parameters + 2 GB fp16 gradients + 12 GB Adam.
    # stage 0 replicates all of it: 2 + 2 + 12 = 16 GB; stage 1 splits Adam: 2 + 2 + 3 = 7 GB;
    # stage 2 also the gradients: 2 + 0.5 + 3 = 5.5 GB; stage 3 also the parameters: 0.5 + 0.5 + 3 = 4 GB.
    got = [distributed.model_state_gb(1e9, 4, stage) for stage in range(4)]
    assert got == pytest.approx([16.0, 7.0, 5.5, 4.0])
    assert distributed.model_state_gb(1e9, 1, 3) == pytest.approx(16.0)  # one GPU: nothing to split
    assert distributed.model_state_gb(1e9, 4, 0, optimizer_bytes=4) == pytest.approx(8.0)  # K = 4: 2 + 2 + 4
    # the ZeRO paper's worked example: 7.5B parameters on 64 GPUs
    paper = [round(distributed.model_state_gb(7.5e9, 64, stage), 1) for stage in range(4)]
    assert paper == [120.0, 31.4, 16.6, 1.9]
    with pytest.raises(ValueError):
        distributed.model_state_gb(1e9, 4, 4)


def test_flat_gradient_is_every_parameter_gradient_in_one_vector():
    import torch

    from mingpt_lite import GPT, GPTConfig
    from mingpt_lite.data import SortTask

    task = SortTask(length=6, num_digits=3)
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=task.vocab_size, block_size=task.block_size,
                          n_layer=1, n_head=2, n_embd=16, dropout=0.0))
    x, y = task.get_batch("train", 8, torch.Generator().manual_seed(0))
    g = distributed.flat_gradient(model, x, y)
    assert g.shape == (sum(p.numel() for p in model.parameters()),)
    torch.testing.assert_close(g, torch.cat([p.grad.flatten() for p in model.parameters()]))
    # calling it again zeroes the gradients first rather than accumulating
    torch.testing.assert_close(distributed.flat_gradient(model, x, y), g)
    # the sum over scored targets is the mean times their count
    count = int((y != -1).sum())
    torch.testing.assert_close(distributed.flat_gradient(model, x, y, "sum"), count * g, rtol=1e-5, atol=1e-6)
    # the chapter's identity: with equal counts the full batch's gradient is the halves' average
    halves = (distributed.flat_gradient(model, x[:4], y[:4]) + distributed.flat_gradient(model, x[4:], y[4:])) / 2
    torch.testing.assert_close(halves, g, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError):
        distributed.flat_gradient(model, x, y, "max")


class _HangsOnce:
    """A stand-in for torchrun's Popen: the first launch never finishes, the second does."""

    launches = 0

    def __init__(self, command, **kwargs):
        type(self).launches += 1
        self.pid, self.returncode, self.first = 12345, 0, type(self).launches == 1
        self.calls = 0
        assert kwargs.get("start_new_session") is True   # so that killing its group kills the workers

    def communicate(self, timeout=None):
        self.calls += 1
        if self.first and self.calls == 1:
            raise subprocess.TimeoutExpired("torchrun", timeout)
        return "rank 0 done\n", ""


def test_run_torchrun_kills_a_hung_launch_and_retries(monkeypatch, capsys):
    killed = []
    _HangsOnce.launches = 0
    monkeypatch.setattr(distributed.subprocess, "Popen", _HangsOnce)
    monkeypatch.setattr(distributed.os, "killpg", lambda pid, sig: killed.append((pid, sig)))
    done = distributed.run_torchrun(["script.py"], timeout=5, retries=1)
    assert done.stdout == "rank 0 done\n" and _HangsOnce.launches == 2
    assert killed == [(12345, distributed.signal.SIGKILL)]
    assert "did not finish within 5 s" in capsys.readouterr().err
    _HangsOnce.launches = 0
    with pytest.raises(RuntimeError, match="did not finish within 5 s"):
        distributed.run_torchrun(["script.py"], timeout=5, retries=0)
