"""The dependency lock: ``constraints.txt``, the exact versions the committed outputs were recorded with.

``make book`` and ``make test`` install with ``pip install -c constraints.txt``, so a fresh clone gets the
same versions as the recording machine; pyproject.toml keeps lower bounds only, for people who
``pip install`` the package. ``make test-latest`` installs the newest releases into ``.venv-latest`` and
runs the same tests (it first prints what differs from the lock); ``make lock`` renews the lock from
that environment.

    python tools/lock.py write PYTHON   # freeze PYTHON's environment into constraints.txt
    python tools/lock.py diff PYTHON    # what PYTHON's environment has that differs from the lock
    python tools/lock.py check          # the lock agrees with pyproject.toml (tests/test_lock.py runs this)
"""
from __future__ import annotations

import datetime
import platform
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "constraints.txt"
PYPROJECT = ROOT / "pyproject.toml"
# The distribution itself is installed from the checkout, never from the lock.
SELF = "mingpt-lite"


def read_lock(path: Path = LOCK) -> dict[str, Version]:
    """``{canonical name: version}`` from a constraints file of ``name==version`` lines."""
    pins = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)", line)
        if match is None:
            raise ValueError(f"{path.name} line {number}: expected name==version, got {line!r}")
        pins[canonicalize_name(match[1])] = Version(match[2])
    return pins


def declared_requirements(path: Path = PYPROJECT) -> list[Requirement]:
    """Every requirement pyproject.toml declares: the dependencies and every optional extra."""
    project = tomllib.loads(path.read_text())["project"]
    lines = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        lines += extra
    return [Requirement(line) for line in lines]


def disagreements(pins: dict[str, Version], requirements: list[Requirement]) -> list[str]:
    """One line per requirement the lock misses or pins outside pyproject's bounds."""
    problems = []
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        if name not in pins:
            problems.append(f"{requirement.name} is in pyproject.toml but not in constraints.txt")
        elif not requirement.specifier.contains(pins[name], prereleases=True):
            problems.append(f"constraints.txt pins {requirement.name}=={pins[name]}, outside pyproject's "
                            f"{requirement.specifier}")
    return problems


def installed(python: str) -> dict[str, Version]:
    """``{canonical name: version}`` of the distributions installed for ``python`` (local labels dropped)."""
    out = subprocess.run([python, "-m", "pip", "list", "--format=freeze", "--exclude-editable",
                          "--disable-pip-version-check"], check=True, capture_output=True, text=True).stdout
    versions = {}
    for line in out.splitlines():
        if "==" in line:
            name, version = line.split("==", 1)
            # torch==2.13.0+cpu: the local label names the build (CPU or CUDA); the lock pins the release
            versions[canonicalize_name(name)] = Version(Version(version).public)
    # the installer's own tools are not the project's dependencies
    for name in (SELF, "pip", "setuptools", "wheel"):
        versions.pop(canonicalize_name(name), None)
    return versions


def write(python: str) -> None:
    versions = installed(python)
    header = [
        "# The exact versions `make book` and `make test` install (pip install -c constraints.txt).",
        "# Renew with `make lock` (newest releases, see tools/lock.py); never edit by hand.",
        f"# Written {datetime.date.today().isoformat()} with Python {platform.python_version()} "
        f"on {platform.machine()}.",
    ]
    lines = [f"{name}=={versions[name]}" for name in sorted(versions)]
    LOCK.write_text("\n".join(header + lines) + "\n")
    print(f"wrote {len(lines)} pins to {LOCK.name}")
    problems = disagreements(read_lock(), declared_requirements())
    if problems:
        sys.exit("the new lock disagrees with pyproject.toml:\n" + "\n".join(problems))


def diff(python: str) -> None:
    pins, versions = read_lock(), installed(python)
    changed = [f"  {name}: {pins.get(name, '(not locked)')} -> {versions[name]}"
               for name in sorted(versions) if pins.get(name) != versions[name]]
    print(f"{len(changed)} of {len(versions)} installed packages differ from constraints.txt"
          + (":\n" + "\n".join(changed) if changed else ""))


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] in ("write", "diff"):
        (write if argv[0] == "write" else diff)(argv[1])
        return 0
    if argv == ["check"]:
        problems = disagreements(read_lock(), declared_requirements())
        print("\n".join(problems) or "constraints.txt agrees with pyproject.toml")
        return 1 if problems else 0
    print(__doc__.split("\n\n")[-1], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
