"""Tests for mingpt_lite.device, and for the device handling of the chapters' code (issue 26).

There is no GPU here, so what a GPU or Apple's MPS would refuse is played by stand-ins:
``OnAccelerator``, a CPU tensor that refuses what a tensor in device memory refuses (NumPy
conversion, which matplotlib needs; float64, which MPS lacks), and patched ``torch.cuda`` /
``torch.mps`` functions. Each test here failed on the code before its fix.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import matplotlib
import pytest
import torch

from mingpt_lite import device as device_module
from mingpt_lite.device import pick_device, synchronize
from mingpt_lite.exercises import check

matplotlib.use("Agg")  # no window; set before pyplot is imported

import matplotlib.pyplot as plt  # noqa: E402
import pytest
import torch

from mingpt_lite import pick_device

CHAPTERS = Path(__file__).resolve().parent.parent / "chapters"


class OnAccelerator(torch.Tensor):
    """A CPU tensor that behaves like one in a GPU's memory where it matters to the chapters:
    NumPy (and so matplotlib) cannot read it, float64 is refused as on MPS, and ``.cpu()``
    returns an ordinary tensor. Results of operations on it stay ``OnAccelerator``."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in (torch.Tensor.numpy, torch.Tensor.__array__):
            raise TypeError("can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() to copy the "
                            "tensor to host memory first.")
        if func is torch.Tensor.double or (func is torch.Tensor.to and torch.float64 in (*args, *kwargs.values())):
            raise TypeError("Cannot convert a MPS Tensor to float64 dtype as the MPS framework doesn't support float64.")
        if func is torch.Tensor.cpu:
            with torch._C.DisableTorchFunctionSubclass():
                return args[0].clone()  # an ordinary tensor: in host memory now
        return super().__torch_function__(func, types, args, kwargs)


def on_accelerator(tensor: torch.Tensor) -> OnAccelerator:
    return tensor.as_subclass(OnAccelerator)


def chapter_cell(path: Path, marker: str) -> str:
    """The source of the one code cell of a chapter's .py file that contains ``marker``."""
    cells = [c for c in re.split(r"^# %%.*$", path.read_text(encoding="utf-8"), flags=re.M) if marker in c]
    assert len(cells) == 1, f"{len(cells)} cells of {path.name} contain {marker!r}"
    return cells[0]


# --- the stand-in itself --------------------------------------------------------------------

def test_the_stand_in_refuses_what_device_memory_refuses():
    t = on_accelerator(torch.rand(3))
    assert isinstance(t * 2, OnAccelerator)
    with pytest.raises(TypeError, match="numpy"):
        plt.subplots()[1].bar(range(3), t)
    plt.close("all")
    with pytest.raises(TypeError, match="float64"):
        t.double()
    assert type(t.cpu()) is torch.Tensor and type(t.cpu().double().numpy()).__name__ == "ndarray"


# --- mingpt_lite.device ---------------------------------------------------------------------

def test_synchronize_waits_for_the_device_it_names(monkeypatch):
    """Issue 26-C: chapter 07 timed a GPU with perf_counter alone; its timer now calls this."""
    waited = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: waited.append(("cuda", device)))
    monkeypatch.setattr(torch.mps, "synchronize", lambda: waited.append(("mps", None)))
    synchronize("cpu")
    assert waited == []
    synchronize(torch.device("cuda", 1))
    synchronize("mps")
    assert waited == [("cuda", torch.device("cuda", 1)), ("mps", None)]


def test_auto_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.delenv(device_module.DEVICE_ENV, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device().type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert pick_device("auto").type == "mps"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert pick_device().type == "cpu"
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        pick_device("cuda")


# --- the chapters on a device ----------------------------------------------------------------

def test_chapter_07_figure_reads_host_memory():
    """Issue 26-B: chapter 07 passed a GPU tensor to ax.bar. Its figure cell runs here on logits
    that live (as far as matplotlib can tell) on an accelerator."""
    source = chapter_cell(CHAPTERS / "07_generation.py", "ax.bar(")
    logits = on_accelerator(torch.randn(1, 40, generator=torch.Generator().manual_seed(0)))
    text = type("Text", (), {"chars": list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN")})()
    namespace = {"torch": torch, "plt": plt, "logits": logits, "probs": logits.softmax(-1)[0], "text": text}
    plt.show = lambda *args, **kwargs: None  # Agg has no window; the figure is drawn below
    try:
        exec(compile(source, "07_generation.py (figure cell)", "exec"), namespace)
        plt.gcf().canvas.draw()
    finally:
        plt.close("all")


def test_chapter_07_trains_where_the_chapter_runs():
    """Issue 26-A: every Trainer and the text of chapter 07 (and its solutions) name the chapter's
    device, so the data, the model and the Trainer's generator are on one device."""
    for path in (CHAPTERS / "07_generation.py", CHAPTERS / "solutions" / "07_generation.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", getattr(node.func, "id", None))
            keywords = {k.arg for k in node.keywords}
            if name == "TrainerConfig":
                spread = [k.value for k in node.keywords if k.arg is None]  # TrainerConfig(**fast)
                names = keywords | {k.arg for d in spread if isinstance(d, ast.Name)
                                    for k in _dict_keywords(tree, d.id)}
                assert "device" in names, f"{path.name}:{node.lineno}: TrainerConfig without device="
            if name in ("default", "from_corpus") and path.name == "07_generation.py" and node.lineno < 120:
                assert "device" in keywords, f"{path.name}:{node.lineno}: the text is built off the device"


def _dict_keywords(tree, name):
    """The keywords of ``name = dict(...)`` in ``tree``."""
    for node in ast.walk(tree):
        if (isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets)
                and isinstance(node.value, ast.Call)):
            return node.value.keywords
    return []


def test_checker_1_3_reads_weights_from_an_mps_tensor():
    """Issue 26-J: the chapter 01 checker turned the weights into float64 before moving them to the
    CPU, which MPS refuses. A previous-token head's weights, 'on MPS':"""
    T = 6
    weights = torch.zeros(T, T)
    weights[0, 0] = 1.0
    weights[torch.arange(1, T), torch.arange(0, T - 1)] = 1.0
    assert check("1.3", on_accelerator(weights))


pytestmark = pytest.mark.usefixtures("one_thread")


def test_pick_device_override(monkeypatch):
    monkeypatch.setenv("MINGPT_DEVICE", "cpu")
    assert pick_device() == torch.device("cpu")
    assert pick_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            pick_device("cuda")

