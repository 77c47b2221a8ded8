"""tools/lock.py: constraints.txt (the exact versions make book/test install) agrees with pyproject.toml."""
from __future__ import annotations

from conftest import ROOT, load_tool
from packaging.requirements import Requirement
from packaging.version import Version

lock = load_tool("lock")


def test_the_lock_pins_every_declared_dependency_inside_its_bounds():
    assert lock.disagreements(lock.read_lock(), lock.declared_requirements()) == []


def test_torch_is_locked_at_the_version_the_makefile_installs_first():
    makefile = (ROOT / "Makefile").read_text()
    pinned = makefile.split("TORCH := torch==", 1)[1].split()[0]
    assert lock.read_lock()["torch"] == Version(pinned)


def test_a_missing_or_out_of_bounds_pin_is_reported(tmp_path):
    pins = {"numpy": Version("1.20.0"), "torch": Version("2.13.0")}
    requirements = [Requirement("numpy>=1.24"), Requirement("torch>=2.4"), Requirement("tqdm>=4.66")]
    assert lock.disagreements(pins, requirements) == [
        "constraints.txt pins numpy==1.20.0, outside pyproject's >=1.24",
        "tqdm is in pyproject.toml but not in constraints.txt",
    ]


def test_a_malformed_lock_line_names_its_line(tmp_path):
    path = tmp_path / "constraints.txt"
    path.write_text("# header\nnumpy==2.0.0\ntorch>=2\n")
    try:
        lock.read_lock(path)
    except ValueError as err:
        assert str(err) == "constraints.txt line 3: expected name==version, got 'torch>=2'"
    else:
        raise AssertionError("a range in the lock was accepted")


def test_extras_are_declared_requirements_too():
    names = {requirement.name for requirement in lock.declared_requirements()}
    assert {"torch", "nbval", "jupyter-book", "jax", "transformers"} <= names


def test_the_makefile_installs_with_the_lock_and_can_renew_it():
    makefile = (ROOT / "Makefile").read_text()
    assert "LOCK ?= -c constraints.txt" in makefile and "$(LOCK) -e '.[book,test,jax]'" in makefile
    for target in ("test-latest:", "lock:"):  # the two documented commands exist as targets
        assert f"\n{target}\n" in makefile, f"the Makefile has no {target} target"
    assert "tools/lock.py write" in makefile and "tools/lock.py diff" in makefile
    # the newest-releases install names torch's pin again: --upgrade-strategy eager would otherwise
    # replace the CPU build with the newest (CUDA) torch, gigabytes of it
    assert "LATEST_INSTALL := --upgrade --upgrade-strategy eager $(TORCH)" in makefile
