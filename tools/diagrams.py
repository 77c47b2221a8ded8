#!/usr/bin/env python3
"""Draw the book's explanatory diagrams from their source, or check that they are up to date.

    .venv/bin/python tools/diagrams.py            draw every diagram (``make diagrams``)
    .venv/bin/python tools/diagrams.py ch01 ch06  draw only these sources' diagrams
    .venv/bin/python tools/diagrams.py --check    exit 1 if a committed diagram is missing, was
                                                  edited by hand, or is older than its source

The sources are ``chapters/figures/src/chNN.py``; each defines ``FIGURES``, a dict from an output
file name (``NN_something.svg``) to a function returning a matplotlib Figure, drawn with the kit
in ``chapters/figures/src/draw.py``. The drawings land in ``chapters/figures/``, and
``chapters/figures/manifest.json`` records, for each one, the source that drew it and the SHA-256
of that source (with the kit), and of the file. ``--check`` compares those hashes only, so it
needs no drawing and gives the same answer on every machine, whatever its fonts or matplotlib.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIGURES_DIR = ROOT / "chapters" / "figures"
SOURCE_DIR = FIGURES_DIR / "src"
KIT = SOURCE_DIR / "draw.py"
MANIFEST = FIGURES_DIR / "manifest.json"


def _sha256(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def sources() -> list[Path]:
    """The diagram sources, ``chapters/figures/src/chNN*.py``, in name order."""
    return sorted(SOURCE_DIR.glob("ch*.py"))


def _load(source: Path):
    sys.path.insert(0, str(SOURCE_DIR))  # so a source can `from draw import ...`
    try:
        spec = importlib.util.spec_from_file_location(f"diagram_{source.stem}", source)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(SOURCE_DIR))
    figures = getattr(module, "FIGURES", None)
    if not isinstance(figures, dict) or not figures:
        raise SystemExit(f"{source.relative_to(ROOT)} must define FIGURES = {{'NN_name.svg': function, ...}}")
    return figures


def read_manifest() -> dict:
    return json.loads(MANIFEST.read_text(encoding="utf-8")) if MANIFEST.exists() else {}


def draw(selected: list[Path]) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # Same bytes for the same drawing: no date in the file, fixed ids.
    plt.rcParams["svg.hashsalt"] = "mingpt-lite"
    plt.rcParams["svg.fonttype"] = "path"
    manifest = read_manifest()
    for source in selected:
        figures = _load(source)
        rel = source.relative_to(ROOT).as_posix()
        # Forget what this source drew before (a renamed figure must not linger in the manifest).
        for name in [n for n, entry in manifest.items() if entry["source"] == rel]:
            del manifest[name]
        for name, function in figures.items():
            if not name.endswith((".svg", ".png")) or "/" in name:
                raise SystemExit(f"{rel}: figure name {name!r} must be a plain file name ending in .svg or .png")
            figure = function()
            target = FIGURES_DIR / name
            partial = target.with_name(target.name + ".partial")
            figure.savefig(partial, format=target.suffix[1:], metadata={"Date": None} if name.endswith(".svg") else None,
                           dpi=150)
            plt.close(figure)
            os.replace(partial, target)
            manifest[name] = {"source": rel, "source_sha256": _sha256(source, KIT), "sha256": _sha256(target)}
            print(f"drew {target.relative_to(ROOT)}")
    MANIFEST.write_text(json.dumps(dict(sorted(manifest.items())), indent=1) + "\n", encoding="utf-8")
    return 0


def check_problems() -> list[str]:
    """What is stale: each problem as one line (empty when every diagram is up to date)."""
    manifest = read_manifest()
    problems = []
    drawn_by = {}
    for name, entry in manifest.items():
        source = ROOT / entry["source"]
        target = FIGURES_DIR / name
        drawn_by.setdefault(entry["source"], []).append(name)
        if not source.exists():
            problems.append(f"{name}: its source {entry['source']} no longer exists")
        elif _sha256(source, KIT) != entry["source_sha256"]:
            problems.append(f"{name}: {entry['source']} (or draw.py) changed since it was drawn")
        if not target.exists():
            problems.append(f"{name}: missing from chapters/figures/")
        elif _sha256(target) != entry["sha256"]:
            problems.append(f"{name}: the file differs from what its source drew (edited by hand?)")
    for source in sources():
        if source.relative_to(ROOT).as_posix() not in drawn_by:
            problems.append(f"{source.relative_to(ROOT)} has never been drawn")
    return [p + " -> run `.venv/bin/python tools/diagrams.py`" for p in problems]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sources", nargs="*", help="source names to draw (ch01 or ch01.py); default: all")
    parser.add_argument("--check", action="store_true", help="only check that the committed diagrams are current")
    args = parser.parse_args(argv)
    if args.check:
        problems = check_problems()
        print("\n".join(problems) if problems else "every diagram is up to date with its source")
        return 1 if problems else 0
    selected = sources()
    if args.sources:
        wanted = {Path(s).stem for s in args.sources}
        unknown = wanted - {s.stem for s in selected}
        if unknown:
            print(f"unknown diagram sources: {sorted(unknown)} (known: {[s.stem for s in selected]})", file=sys.stderr)
            return 2
        selected = [s for s in selected if s.stem in wanted]
    return draw(selected)


if __name__ == "__main__":
    sys.exit(main())
