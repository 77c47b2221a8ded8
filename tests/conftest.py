"""Shared test set-up: fixed threads and seeds for unit tests, the device of device-aware tests,
and nbval's rules for the chapters.

``make test`` runs one pytest session over ``tests/`` (unit tests) and ``chapters/`` with
``--nbval``. The hooks below keep nbval to the notebooks book.toml lists (chapters and their
solutions) and stop it from comparing stderr (warnings carry per-run paths such as
/tmp/ipykernel_1234/...; progress bars live there too). Everything nbval does compare is passed
through tests/nbval_sanitize.cfg.

The notebook kernels nbval starts inherit this process's environment. ``make test`` runs them
with ``ATEN_CPU_CAPABILITY=default OMP_NUM_THREADS=1`` (portable kernels, one thread), which is
not how the stored outputs were recorded (AVX2 kernels, two threads): see the Makefile. The unit
tests here still use two torch threads (``torch.set_num_threads`` below).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Thread count: the same for unit tests and for the notebook kernels nbval starts (they inherit
# the environment), and the same as `tools/book.py execute` used to write the stored outputs.
TEST_THREADS = 2
# Under pytest-xdist (make test runs two workers on a 2-core machine) each worker's unit tests get one
# thread: two workers of two threads each would oversubscribe the cores, and OpenMP's waiting threads
# then make each op many times slower.
if os.environ.get("PYTEST_XDIST_WORKER"):
    TEST_THREADS = 1
# setdefault: a thread count given by the caller (make test gives the kernels 1) is kept for
# the notebook kernels; this process's own torch threads are set below either way.
os.environ.setdefault("OMP_NUM_THREADS", str(TEST_THREADS))
os.environ.setdefault("MKL_NUM_THREADS", str(TEST_THREADS))

import torch  # noqa: E402  (after the thread variables, which torch reads when it starts)

torch.set_num_threads(TEST_THREADS)

from mingpt_lite.config import GPTConfig  # noqa: E402  (after torch's thread count is set)
from mingpt_lite.exercises import check  # noqa: E402


def load_tool(name: str):
    """``tools/<name>.py`` as a module (tools/ is a folder of scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f"{name}_tool", ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


book_tool = load_tool("book")


# Device-aware unit tests take the ``device`` fixture and run there; every other test runs on the
# CPU. The CPU unless $MINGPT_TEST_DEVICE names another device (``make test-gpu`` sets cuda).
TEST_DEVICE_ENV = "MINGPT_TEST_DEVICE"


def resolve_test_device(name: str | None) -> torch.device:
    """The device ``$MINGPT_TEST_DEVICE`` names (the CPU when unset or empty). A device that is
    not here is a usage error, reported in one line before any test runs."""
    from mingpt_lite.device import pick_device

    try:
        return pick_device(name or "cpu")
    except RuntimeError as err:  # pick_device: asked for a device that is not available
        raise pytest.UsageError(f"{TEST_DEVICE_ENV}={name}: {err}") from None


def pytest_configure(config):
    config.test_device = resolve_test_device(os.environ.get(TEST_DEVICE_ENV))


def pytest_report_header(config):
    return f"device-aware unit tests run on: {config.test_device} (${TEST_DEVICE_ENV})"


def tiny_config(**overrides) -> GPTConfig:
    """The small model most unit tests build: 2 layers, 2 heads, width 16, vocabulary 11, context 8."""
    fields = dict(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16, dropout=0.0)
    fields.update(overrides)
    return GPTConfig(**fields)


# Each later change to GPT-2's recipe (chapter 13) as GPTConfig overrides, and all of them at once.
OPTIONS = {
    "rmsnorm": dict(normalization="rmsnorm"),
    "rotary": dict(position="rotary"),
    "relu2": dict(mlp="relu2"),
    "swiglu": dict(mlp="swiglu"),
    "qk_norm": dict(qk_norm=True),
    "no_bias": dict(bias=False),
    "tied": dict(tie_weights=True),
    "all": dict(normalization="rmsnorm", position="rotary", mlp="relu2", qk_norm=True, bias=False,
                tie_weights=True),
}


def failed(exercise: str, attempt, *args, **kwargs) -> str:
    """The hint an exercise checker gives ``attempt``; fails the test if the attempt was accepted.

    Shared by the exercise-checker tests (``from conftest import failed``), so a test reads
    ``assert "hint words" in failed("2.1", wrong)``.
    """
    result = check(exercise, attempt, *args, quiet=True, **kwargs)
    assert not result, f"{exercise} accepted a wrong attempt: {result}"
    return result.message


@pytest.fixture
def device(request) -> torch.device:
    """Where a device-aware test puts its model and tensors (see TEST_DEVICE_ENV)."""
    return request.config.test_device


@pytest.fixture
def one_thread():
    """One torch thread for the test, restored afterwards. Tiny models gain nothing from a
    second thread, and on a busy 2-core machine OpenMP's waiting threads make each op many
    times slower. Modules opt in with ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _seeded():
    """Every unit test starts from the same RNG state, whatever ran before it."""
    torch.manual_seed(0)
    yield


def pytest_collection_modifyitems(session, config, items):
    """Keep nbval to the chapters in book.toml, and make it ignore stderr.

    This runs once for the whole session (not per folder), so it sees the notebook cells
    collected under chapters/ even though this conftest lives in tests/.
    """
    try:
        from nbval.plugin import IPyNbCell
    except ImportError:  # nbval not installed: nothing to adjust
        return
    book_notebooks = {notebook.ipynb for notebook in book_tool.load_book().notebooks}
    kept, dropped = [], []
    for item in items:
        if isinstance(item, IPyNbCell):
            if Path(str(item.fspath)).resolve() not in book_notebooks:
                dropped.append(item)
                continue
            notebook = item.parent
            if "stderr" not in notebook.skip_compare:
                notebook.skip_compare = tuple(notebook.skip_compare) + ("stderr",)
        kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
