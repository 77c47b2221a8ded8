#!/usr/bin/env python3
"""The book's machinery: execute, check and render the chapters listed in ``book.toml``.

Run it with the project's virtual environment (``.venv/bin/python tools/book.py ...``):

    execute [CHAPTER ...]   refresh the committed notebooks: run each chapters/NN_slug.py and
                            write the executed chapters/NN_slug.ipynb (all chapters by default).
                            This is the maintainer command (``make notebooks``).
    build                   what ``make book`` runs: execute every chapter into _build/src/
                            (tracked files are left alone), write the Jupyter Book 1 config
                            there from book.toml and render HTML into _build/html/, then run
                            check-html on it.
    run [CHAPTER ...] --device DEVICE
                            execute notebooks (chapters and solutions; all by default) with
                            MINGPT_DEVICE=DEVICE into a scratch folder (_build/run-DEVICE/):
                            every assertion is checked, no output is compared, nothing
                            tracked changes. ``make test-gpu`` runs it with --device cuda.
    check-html [DIR]        fail if a built page loads a script or stylesheet from another
                            host (the book must read offline; default DIR _build/html).
    check                   the sync check: each .py and its .ipynb have the same input cells,
                            every code cell of every committed notebook was executed, and the
                            README's chapter table is the one book.toml gives.
    readme                  rewrite the README's chapter table from book.toml.
    list                    print the chapter files, one per line.

A CHAPTER is a path (chapters/01_attention.py or .ipynb), a number (1 or 01) or a slug
(attention). Execution never looks at file timestamps: the .py is always the source.

Committed notebooks come from ``execute``, which runs with two threads (the thread count the
tests use, so nbval sees the same bits) and the default book size ("small"), whatever the
environment says. ``build`` keeps your environment: MINGPT_BOOK_SIZE=full and all cores.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOOK_TOML = ROOT / "book.toml"
README = ROOT / "README.md"
BUILD_DIR = ROOT / "_build"

README_START = "<!-- chapters:start (generated from book.toml by `tools/book.py readme`; do not edit) -->"
README_END = "<!-- chapters:end -->"

# The environment committed notebooks are executed in: the same thread count the tests use
# (1 vs 2 threads changes the last bits of a float) and the default book size.
EXECUTE_ENV = {
    "OMP_NUM_THREADS": "2",
    "MKL_NUM_THREADS": "2",
    "MINGPT_BOOK_SIZE": "small",
}

# The rows of the mental-framework table in the author's notes, in their order.
FRAMEWORK = ("model", "data", "loss", "optimizer", "training", "inference")

CHAPTER_FILE = re.compile(r"^chapters/(?P<number>\d\d)_(?P<slug>[a-z0-9_]+)\.py$")
# A chapter's worked solutions: chapters/solutions/ with the chapter's own file name.
SOLUTIONS_DIR = "chapters/solutions"


class BookError(Exception):
    """book.toml is malformed, or a chapter could not be found or executed."""


@dataclass(frozen=True)
class Chapter:
    """One entry of book.toml's ``[[chapters]]`` list."""

    number: int
    slug: str
    title: str
    summary: str
    modules: tuple[str, ...]
    framework: tuple[str, ...]
    appendix: bool
    py: Path  # absolute path of the jupytext source
    ipynb: Path  # absolute path of the executed notebook
    solutions: Path | None = None  # the jupytext source of the chapter's worked solutions, if any
    is_solutions: bool = False  # True for the solutions notebook itself (see ``solutions_notebook``)

    def solutions_notebook(self) -> "Chapter | None":
        """The chapter's solutions as a notebook of their own (executed, checked and compared by
        nbval like a chapter), or None when the chapter has none."""
        if self.solutions is None:
            return None
        return Chapter(number=self.number, slug=self.slug, title=f"Solutions: {self.title}",
                       summary=f"Worked solutions to the exercises of chapter {self.number:02d}.",
                       modules=self.modules, framework=(), appendix=self.appendix,
                       py=self.solutions, ipynb=self.solutions.with_suffix(".ipynb"), is_solutions=True)

    @property
    def name(self) -> str:
        """``NN_slug``, the file name without extension."""
        return self.py.stem

    @property
    def rel_py(self) -> str:
        return _shown(self.py)

    @property
    def rel_ipynb(self) -> str:
        return _shown(self.ipynb)


def _shown(path: Path) -> str:
    """``path`` relative to the repository when it is inside it (how messages name files)."""
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)


@dataclass(frozen=True)
class Book:
    """book.toml: the ``[book]`` table and the ordered chapters."""

    title: str
    author: str
    description: str
    chapters: tuple[Chapter, ...]
    references: Path | None = None  # a markdown page listing the book's sources

    @property
    def solutions(self) -> tuple[Chapter, ...]:
        """The solutions notebooks, in chapter order."""
        return tuple(s for s in (c.solutions_notebook() for c in self.chapters) if s is not None)

    @property
    def notebooks(self) -> tuple[Chapter, ...]:
        """Every executed notebook of the book: the chapters, then the solutions."""
        return self.chapters + self.solutions


# --------------------------------------------------------------------------- book.toml


def load_book(path: Path = BOOK_TOML) -> Book:
    """Read and validate book.toml; raise :class:`BookError` listing every problem found."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BookError(f"{path} not found") from None
    except tomllib.TOMLDecodeError as err:
        raise BookError(f"{path} is not valid TOML: {err}") from None

    problems: list[str] = []
    meta = data.get("book")
    if not isinstance(meta, dict):
        raise BookError(f"{path}: missing the [book] table")
    for key in ("title", "author", "description"):
        if not isinstance(meta.get(key), str) or not meta[key].strip():
            problems.append(f"[book] needs a non-empty string `{key}`")
    references = meta.get("references")
    if references is not None and not (isinstance(references, str) and references.endswith(".md")):
        problems.append("[book] `references` must be the path of a markdown page")
        references = None

    entries = data.get("chapters")
    if not isinstance(entries, list) or not entries:
        raise BookError(f"{path}: needs a non-empty [[chapters]] list")

    chapters: list[Chapter] = []
    seen_appendix = False
    known_keys = {"file", "title", "summary", "modules", "framework", "appendix", "solutions"}
    previous_number = -1
    for position, entry in enumerate(entries):
        where = f"[[chapters]] #{position} ({entry.get('file', '?')})"
        unknown = set(entry) - known_keys
        if unknown:
            problems.append(f"{where}: unknown keys {sorted(unknown)} (known: {sorted(known_keys)})")
        file = entry.get("file")
        match = CHAPTER_FILE.match(file) if isinstance(file, str) else None
        if not match:
            problems.append(f"{where}: `file` must look like chapters/NN_slug.py (two digits, lower-case slug)")
            continue
        number = int(match["number"])
        # Numbers rise in book order; a gap is allowed (a chapter still being written keeps
        # its number without renumbering the ones after it).
        if number <= previous_number:
            problems.append(f"{where}: numbered {number:02d} after chapter {previous_number:02d}; "
                            "chapter numbers must rise in book order")
        previous_number = max(previous_number, number)
        for key in ("title", "summary"):
            value = entry.get(key)
            if not isinstance(value, str) or not value.strip():
                problems.append(f"{where}: needs a non-empty string `{key}`")
            elif "\n" in value or "|" in value:
                problems.append(f"{where}: `{key}` must be one line without '|' (it goes into tables)")
        modules = entry.get("modules", [])
        if not isinstance(modules, list) or not all(isinstance(m, str) and re.fullmatch(r"mingpt_lite(\.\w+)*", m) for m in modules):
            problems.append(f"{where}: `modules` must be a list of mingpt_lite module names")
            modules = []
        framework = entry.get("framework", [])
        if not isinstance(framework, list) or not set(framework) <= set(FRAMEWORK):
            problems.append(f"{where}: `framework` must be a list drawn from {list(FRAMEWORK)}")
            framework = []
        appendix = entry.get("appendix", False)
        if not isinstance(appendix, bool):
            problems.append(f"{where}: `appendix` must be true or false")
            appendix = False
        if seen_appendix and not appendix:
            problems.append(f"{where}: a chapter after an appendix must be an appendix too")
        seen_appendix = seen_appendix or appendix
        solutions = entry.get("solutions")
        if solutions is not None and solutions != f"{SOLUTIONS_DIR}/{Path(file).name}":
            problems.append(f"{where}: `solutions` must be \"{SOLUTIONS_DIR}/{Path(file).name}\" "
                            "(the chapter's file name under chapters/solutions/)")
            solutions = None
        py = ROOT / file
        chapters.append(Chapter(number=number, slug=match["slug"], title=entry.get("title", ""),
                                summary=entry.get("summary", ""), modules=tuple(modules),
                                framework=tuple(framework), appendix=appendix,
                                py=py, ipynb=py.with_suffix(".ipynb"),
                                solutions=ROOT / solutions if solutions else None))

    names = [c.name for c in chapters]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"chapter {name} is listed more than once")
    slugs = [c.slug for c in chapters]
    for slug in sorted({s for s in slugs if slugs.count(s) > 1}):
        problems.append(f"slug {slug!r} is used by more than one chapter")
    if problems:
        raise BookError(f"{path}:\n  " + "\n  ".join(problems))
    return Book(title=meta["title"], author=meta["author"], description=meta["description"],
                chapters=tuple(chapters), references=ROOT / references if references else None)


def select_chapters(book: Book, wanted: list[str]) -> list[Chapter]:
    """The notebooks named by ``wanted``, in book order; every notebook if empty.

    A number, slug or ``NN_slug`` names a chapter *and* its solutions; a path names just that
    notebook (chapters/05_trainer.py, or chapters/solutions/05_trainer.py for the solutions).
    """
    if not wanted:
        return list(book.notebooks)
    chosen: list[Chapter] = []
    for item in wanted:
        path = Path(item).resolve()
        found = [n for n in book.notebooks if path in (n.py, n.ipynb)]
        if not found:
            found = [n for n in book.notebooks
                     if item in (n.slug, n.name, f"{n.number:02d}", str(n.number))]
        if not found:
            known = ", ".join(c.rel_py for c in book.notebooks)
            raise BookError(f"{item!r} is not a chapter in book.toml (known: {known})")
        chosen += [n for n in found if n not in chosen]
    return sorted(chosen, key=lambda c: (c.is_solutions, c.number))


# --------------------------------------------------------------------------- executing


def _kernel_manager_class():
    """An nbclient kernel manager that always starts ipykernel with *this* Python.

    A kernel spec found on disk may name a plain ``python`` (ipykernel's wheel installs one) or
    another environment's interpreter; the book must run in the venv that runs this script.
    """
    import ipykernel.kernelspec
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class CurrentEnvKernelSpecManager(KernelSpecManager):
        def get_kernel_spec(self, kernel_name):
            return self.kernel_spec_class(resource_dir=ipykernel.kernelspec.RESOURCES,
                                          **ipykernel.kernelspec.get_kernel_dict())

    class CurrentEnvKernelManager(AsyncKernelManager):
        @default("kernel_spec_manager")
        def _default_kernel_spec_manager(self):
            return CurrentEnvKernelSpecManager(data_dir=self.data_dir)

    return CurrentEnvKernelManager


def normalize_notebook(nb) -> None:
    """Remove what changes from run to run or machine to machine, in place.

    Cell ids become their position (``cell-000``...), so re-executing an unchanged chapter
    rewrites the same file; per-cell timing, widget state and the jupytext version go.
    """
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{index:03d}"
        for key in ("execution", "collapsed", "scrolled", "ExecuteTime"):
            cell.metadata.pop(key, None)
    nb.metadata.pop("widgets", None)
    jupytext_meta = nb.metadata.get("jupytext", {})
    jupytext_meta.pop("text_representation", None)
    language_info = nb.metadata.get("language_info")
    if isinstance(language_info, dict):
        # Keep the language, drop the exact interpreter version (it churns with every patch release).
        language_info.pop("version", None)


def execute_chapter(chapter: Chapter, output: Path, timeout: int) -> float:
    """Execute ``chapter.py`` in a fresh kernel whose working directory is the chapter's folder,
    and write the executed notebook to ``output`` (atomically). Returns the seconds it took."""
    import jupytext
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    if not chapter.py.exists():
        raise BookError(f"{chapter.rel_py} does not exist (it is listed in book.toml)")
    nb = jupytext.read(chapter.py)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        kernel_manager_class=_kernel_manager_class(),
        record_timing=False,
        store_widget_state=False,
        allow_errors=False,
        resources={"metadata": {"path": str(chapter.py.parent)}},
    )
    start = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as err:
        message = re.sub(r"\x1b\[[0-9;]*m", "", str(err))  # drop the traceback's terminal colours
        raise BookError(f"{chapter.rel_py} failed while executing:\n{message}") from None
    except CellTimeoutError as err:
        raise BookError(f"{chapter.rel_py}: a cell ran longer than {timeout} s ({err})") from None
    except DeadKernelError as err:
        raise BookError(f"{chapter.rel_py}: the kernel died ({err})") from None
    seconds = time.perf_counter() - start
    normalize_notebook(nb)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    partial.write_text(jupytext.writes(nb, fmt="ipynb"), encoding="utf-8")
    os.replace(partial, output)  # an interrupted run leaves the previous notebook intact
    return seconds


def _print_timings(timings: list[tuple[Chapter, float]]) -> None:
    if not timings:
        return
    print("\nexecution time per chapter:")
    for chapter, seconds in timings:
        print(f"  {chapter.rel_py:<42} {seconds:7.1f} s")
    print(f"  {'total':<42} {sum(s for _, s in timings):7.1f} s")


def _run_chapters(chapters: list[Chapter], output_for, timeout: int) -> tuple[list[tuple[Chapter, float]], list[str]]:
    timings, failures = [], []
    for chapter in chapters:
        target = output_for(chapter)
        print(f"executing {chapter.rel_py} -> {_shown(target)}", flush=True)
        try:
            seconds = execute_chapter(chapter, target, timeout)
        except BookError as err:
            print(f"FAILED: {err}", file=sys.stderr, flush=True)
            failures.append(chapter.rel_py)
            continue
        print(f"  done in {seconds:.1f} s", flush=True)
        timings.append((chapter, seconds))
    return timings, failures


def command_execute(args) -> int:
    book = load_book()
    chapters = select_chapters(book, args.chapters)
    for key, value in EXECUTE_ENV.items():
        if os.environ.get(key, value) != value:
            print(f"note: committed notebooks are executed with {key}={value} (ignoring {os.environ[key]!r})")
        os.environ[key] = value
    timings, failures = _run_chapters(chapters, lambda c: c.ipynb, args.timeout)
    _print_timings(timings)
    if failures:
        print(f"\n{len(failures)} chapter(s) failed, their notebooks were left as they were: {', '.join(failures)}",
              file=sys.stderr)
        return 1
    return 0


class _environment:
    """Set environment variables for the ``with`` block (kernels started inside inherit them),
    then restore what was there."""

    def __init__(self, values: dict[str, str]):
        self.values = values
        self.saved: dict[str, str | None] = {}

    def __enter__(self):
        for key, value in self.values.items():
            self.saved[key] = os.environ.get(key)
            os.environ[key] = value

    def __exit__(self, *exc):
        for key, value in self.saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_notebooks(notebooks: list[Chapter], out_dir: Path, device: str,
                  timeout: int = 600) -> tuple[list[tuple[Chapter, float]], list[str]]:
    """Execute ``notebooks`` with ``MINGPT_DEVICE=device`` into ``out_dir`` (same relative paths).

    A cell that raises fails its notebook (nbclient stops there), so every assertion is checked;
    no output is compared with the stored one, because outputs computed on another device need
    not match the CPU's bits. Returns (timings, failed notebooks).
    """
    size = os.environ.get("MINGPT_BOOK_SIZE") or EXECUTE_ENV["MINGPT_BOOK_SIZE"]

    def output_for(notebook: Chapter) -> Path:
        inside = notebook.ipynb.is_relative_to(ROOT)
        return out_dir / (notebook.rel_ipynb if inside else notebook.ipynb.name)

    with _environment({"MINGPT_DEVICE": device, "MINGPT_BOOK_SIZE": size}):
        return _run_chapters(notebooks, output_for, timeout)


def command_run(args) -> int:
    from mingpt_lite.device import pick_device

    try:
        device = pick_device(args.device)  # refuses a device that is not here, before any kernel starts
    except RuntimeError as err:
        print(f"error: {err}; nothing was run", file=sys.stderr)
        return 1
    book = load_book()
    notebooks = select_chapters(book, args.chapters)
    out_dir = Path(args.out) if args.out else BUILD_DIR / f"run-{device.type}"
    print(f"executing {len(notebooks)} notebook(s) with MINGPT_DEVICE={args.device} into {_shown(out_dir.resolve())}/ "
          "(assertions checked, outputs not compared)", flush=True)
    timings, failures = run_notebooks(notebooks, out_dir.resolve(), args.device, args.timeout)
    _print_timings(timings)
    if failures:
        print(f"\n{len(failures)} notebook(s) failed on {args.device}: {', '.join(failures)}", file=sys.stderr)
        return 1
    print(f"all {len(timings)} notebook(s) ran on {args.device} without a failed assertion")
    return 0


# --------------------------------------------------------------------------- checking


def _cells(nb) -> list[tuple[str, str, tuple[str, ...]]]:
    """(cell type, source, tags) of each cell: what the sync check compares."""
    return [(cell.cell_type, cell.source, tuple(cell.metadata.get("tags", ()))) for cell in nb.cells]


def sync_problems(chapter: Chapter) -> list[str]:
    """Differences between the input cells of ``chapter.py`` and ``chapter.ipynb``."""
    import jupytext

    missing = [p.relative_to(ROOT).as_posix() for p in (chapter.py, chapter.ipynb) if not p.exists()]
    if missing:
        return [f"{name} does not exist" for name in missing]
    py_cells = _cells(jupytext.read(chapter.py))
    nb_cells = _cells(jupytext.read(chapter.ipynb))
    if py_cells == nb_cells:
        return []
    # Show where they part, as a diff of the two as percent scripts.
    problems = [f"{chapter.rel_ipynb} is out of sync with {chapter.rel_py} "
                f"({len(py_cells)} vs {len(nb_cells)} cells); re-run `tools/book.py execute {chapter.rel_py}`"]
    for index, (a, b) in enumerate(zip(py_cells, nb_cells)):
        if a != b:
            diff = difflib.unified_diff(b[1].splitlines(), a[1].splitlines(), f"{chapter.rel_ipynb} cell {index}",
                                        f"{chapter.rel_py} cell {index}", lineterm="", n=1)
            detail = "\n".join(list(diff)[:20])
            if a[0] != b[0]:
                detail = f"cell type {b[0]} vs {a[0]}\n" + detail
            if a[2] != b[2]:
                detail = f"tags {list(b[2])} vs {list(a[2])}\n" + detail
            problems.append(f"first differing cell is #{index}:\n{detail}")
            break
    return problems


def execution_problems(chapter: Chapter) -> list[str]:
    """Code cells of the committed notebook that were not executed, or not in one top-to-bottom run."""
    import nbformat

    if not chapter.ipynb.exists():
        return [f"{chapter.rel_ipynb} does not exist"]
    nb = nbformat.read(chapter.ipynb, as_version=4)
    problems = []
    counts = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if not cell.source.strip():
            problems.append(f"{chapter.rel_ipynb} cell #{index} is an empty code cell (remove it from the .py)")
            continue
        if cell.execution_count is None:
            problems.append(f"{chapter.rel_ipynb} cell #{index} was never executed (nbval would skip it)")
        counts.append(cell.execution_count)
        tags = cell.metadata.get("tags", ())
        if "raises-exception" not in tags and any(out.get("output_type") == "error" for out in cell.outputs):
            problems.append(f"{chapter.rel_ipynb} cell #{index} stored an error")
    if not problems and counts != list(range(1, len(counts) + 1)):
        problems.append(f"{chapter.rel_ipynb}: execution counts {counts} are not 1..{len(counts)}: "
                        "it was not executed top to bottom in one run by tools/book.py execute")
    return problems


def readme_table(book: Book) -> str:
    """The README's chapter table (markdown), from book.toml."""
    rows = ["| # | Chapter | What it does | Modules |", "|---|---|---|---|"]
    for chapter in book.chapters:
        number = f"{chapter.number:02d}" + (" (appendix)" if chapter.appendix else "")
        modules = ", ".join(f"`{m}`" for m in chapter.modules)
        rows.append(f"| {number} | [{chapter.title}]({chapter.rel_ipynb}) | {chapter.summary} | {modules} |")
    return "\n".join(rows)


def readme_problems(book: Book) -> list[str]:
    """Whether README.md's generated chapter table matches book.toml."""
    if not README.exists():
        return ["README.md does not exist"]
    text = README.read_text(encoding="utf-8")
    if README_START not in text or README_END not in text:
        return [f"README.md lacks the chapter table markers ({README_START} ... {README_END})"]
    current = text.split(README_START, 1)[1].split(README_END, 1)[0].strip()
    if current != readme_table(book):
        return ["README.md's chapter table differs from book.toml: run `tools/book.py readme`"]
    return []


def command_check(args) -> int:
    book = load_book()
    problems = readme_problems(book)
    for chapter in select_chapters(book, args.chapters):
        problems += sync_problems(chapter)
        problems += execution_problems(chapter)
    problems = list(dict.fromkeys(problems))  # a missing notebook is reported once
    for problem in problems:
        print(problem)
    print(f"\n{len(problems)} problem(s)" if problems else "book.toml, README table and notebooks agree")
    return 1 if problems else 0


def command_readme(args) -> int:
    book = load_book()
    text = README.read_text(encoding="utf-8")
    if README_START not in text or README_END not in text:
        raise BookError(f"README.md lacks the markers {README_START} ... {README_END}")
    head, rest = text.split(README_START, 1)
    tail = rest.split(README_END, 1)[1]
    new = f"{head}{README_START}\n{readme_table(book)}\n{README_END}{tail}"
    if new != text:
        README.write_text(new, encoding="utf-8")
        print("README.md chapter table updated")
    else:
        print("README.md chapter table already up to date")
    return 0


def command_list(args) -> int:
    for chapter in load_book().notebooks:
        print(chapter.rel_ipynb if args.ipynb else chapter.rel_py)
    return 0


# --------------------------------------------------------------------------- building


def _yaml_string(value: str) -> str:
    """A double-quoted YAML scalar (JSON string syntax is valid YAML)."""
    import json

    return json.dumps(value)


OFFLINE_MATHJAX_EXTENSION = "sphinx-mathjax-offline"


def jupyter_book_config(book: Book) -> str:
    """_config.yml for Jupyter Book 1: notebooks are rendered as stored (already executed)."""
    return "\n".join([
        "# Generated by tools/book.py build from book.toml; do not edit.",
        f"title: {_yaml_string(book.title)}",
        f"author: {_yaml_string(book.author)}",
        "copyright: \"\"",
        "only_build_toc_files: true",
        "exclude_patterns: [_build, \"**.ipynb_checkpoints\"]",
        "execute:",
        "  execute_notebooks: \"off\"",
        "html:",
        "  use_repository_button: false",
        "  use_issues_button: false",
        "  use_edit_page_button: false",
        "  home_page_in_navbar: true",
        "launch_buttons:",
        "  notebook_interface: \"classic\"",
        "  binderhub_url: \"\"",
        "  colab_url: \"\"",
        "  thebe: false",
        "sphinx:",
        # MathJax 3 from the sphinx-mathjax-offline package, copied into _static/mathjax/: math is
        # typeset with no network (Sphinx's default loads MathJax from a CDN).
        "  extra_extensions:",
        f"    - {OFFLINE_MATHJAX_EXTENSION}",
        "  config:",
        "    nb_merge_streams: true",
        "    nb_render_markdown_format: myst",  # display(Markdown(...)) tables are GFM, not CommonMark
        "",
    ])


def jupyter_book_toc(notebooks: list[Chapter], references: bool = False) -> str:
    """_toc.yml: the start page, the chapters, the appendices, the solutions and the references,
    in book.toml's order. ``notebooks`` are the ones rendered (chapters and solutions)."""
    lines = ["# Generated by tools/book.py build from book.toml; do not edit.", "format: jb-book", "root: index",
             "parts:"]
    parts = (("Chapters", [c for c in notebooks if not c.is_solutions and not c.appendix]),
             ("Appendices", [c for c in notebooks if not c.is_solutions and c.appendix]),
             ("Solutions", [c for c in notebooks if c.is_solutions]))
    for caption, part in parts:
        if not part:
            continue
        lines += [f"  - caption: {caption}", "    chapters:"]
        lines += [f"      - file: {Path(c.rel_py).with_suffix('').as_posix()}" for c in part]
    if references:
        lines += ["  - caption: References", "    chapters:", "      - file: chapters/references"]
    return "\n".join(lines) + "\n"


def index_page(book: Book, rendered: list[Chapter]) -> str:
    """The book's start page: the title, what it is, and the chapter list with summaries
    (chapters that failed to execute are listed without a link)."""
    lines = [f"# {book.title}", "", book.description, "",
             "Every chapter is a notebook executed when this site was built; its code imports the small "
             "`mingpt_lite` package it builds, and its claims are checked by assertions in the cells.", ""]
    for caption, appendix in (("Chapters", False), ("Appendices", True)):
        part = [c for c in book.chapters if c.appendix == appendix]
        if not part:
            continue
        lines += [f"## {caption}", ""]
        for c in part:
            title = f"[{c.title}](chapters/{c.name}.ipynb)" if c in rendered else f"{c.title} (not built)"
            lines.append(f"{c.number:02d}. {title}: {c.summary}")
        lines.append("")
    solved = [c for c in book.solutions if c in rendered]
    if solved:
        lines += ["## Solutions", "",
                  "Every exercise has a worked solution, executed and checked like the chapters:", ""]
        lines += [f"- [{c.title}]({c.rel_ipynb})" for c in solved]
        lines.append("")
    if book.references is not None:
        lines += ["## References", "", "The papers and code the book builds on: [References](chapters/references.md).", ""]
    return "\n".join(lines)


BOOK_STATIC = ROOT / "tools" / "book_static"


def copy_book_static(src: Path) -> list[Path]:
    """Copy the book's own scripts and stylesheets (tools/book_static: the diagram zoom) into
    ``src``/_static, where Jupyter Book 1 adds every .js and .css file to every page. Returns the
    copies."""
    static = src / "_static"
    static.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copy2(f, static / f.name)) for f in sorted(BOOK_STATIC.iterdir())
            if f.suffix in (".js", ".css")]


def render_html(src: Path, path_output: Path) -> subprocess.CompletedProcess:
    """Render the Jupyter Book in ``src`` (with its _config.yml and _toc.yml) into
    ``path_output``/_build/html/. Warnings and errors go to stderr; stdout is returned."""
    # jupyter_book.cli.main has no __main__ guard: call its click entry point the way its script does.
    jb = [sys.executable, "-c", "import sys; from jupyter_book.cli.main import main; sys.exit(main())",
          "build", str(src), "--path-output", str(path_output), "--builder", "html", "--quiet"]
    return subprocess.run(jb, cwd=ROOT, stdout=subprocess.PIPE, text=True)


class _AssetFinder(HTMLParser):
    """Collects the addresses a page loads scripts and stylesheets from."""

    def __init__(self):
        super().__init__()
        self.assets: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = {name: value or "" for name, value in attrs}
        if tag == "script" and attrs.get("src"):
            self.assets.append(attrs["src"])
        elif tag == "link" and attrs.get("href"):
            rel = set(attrs.get("rel", "").lower().split())
            loads = attrs.get("as", "").lower() in ("script", "style", "font")
            if "stylesheet" in rel or (rel & {"preload", "modulepreload"} and loads):
                self.assets.append(attrs["href"])


# Another host: http://..., https://... or protocol-relative //...
_EXTERNAL = re.compile(r"^\s*(?:https?:)?//", re.IGNORECASE)
# In a stylesheet: @import "//..." or url(//...) pointing at another host (data: URIs are local).
_CSS_EXTERNAL = re.compile(r"""(?:@import\s+|url\(\s*)['"]?((?:https?:)?//[^'")\s;]+)""", re.IGNORECASE)


def external_assets(html_dir: Path) -> list[str]:
    """Every script and stylesheet (and stylesheet import or font) that a built page under
    ``html_dir`` would fetch from another host, as ``"page: address"``. Empty means the book
    reads offline."""
    found = []
    for page in sorted(html_dir.rglob("*.html")):
        finder = _AssetFinder()
        finder.feed(page.read_text(encoding="utf-8", errors="replace"))
        found += [f"{page.relative_to(html_dir)}: {url}" for url in finder.assets if _EXTERNAL.match(url)]
    for sheet in sorted(html_dir.rglob("*.css")):
        text = sheet.read_text(encoding="utf-8", errors="replace")
        found += [f"{sheet.relative_to(html_dir)}: {url}" for url in _CSS_EXTERNAL.findall(text)]
    return found


def html_problems(html_dir: Path) -> list[str]:
    """What keeps the built book in ``html_dir`` from being read offline."""
    if not (html_dir / "index.html").exists():
        return [f"{_shown(html_dir)}/index.html does not exist: build the book first"]
    return [f"loads from another host: {item}" for item in external_assets(html_dir)]


def command_check_html(args) -> int:
    html_dir = Path(args.html_dir).resolve()
    problems = html_problems(html_dir)
    for problem in problems:
        print(problem)
    pages = len(list(html_dir.rglob("*.html")))
    print(f"\n{len(problems)} problem(s)" if problems else
          f"{pages} page(s) in {_shown(html_dir)}: no script or stylesheet from another host")
    return 1 if problems else 0


def command_build(args) -> int:
    book = load_book()
    src = BUILD_DIR / "src"
    html = BUILD_DIR / "html"
    for stale in (src, html, BUILD_DIR / ".doctrees", BUILD_DIR / "jupyter_execute"):
        shutil.rmtree(stale, ignore_errors=True)
    (src / "chapters").mkdir(parents=True)
    notebooks = list(book.notebooks)

    def output_for(notebook: Chapter) -> Path:
        return src / notebook.rel_ipynb  # chapters/NN_slug.ipynb or chapters/solutions/NN_slug.ipynb

    start = time.perf_counter()
    if args.committed:
        # Render the committed notebooks as they are (fast; no execution).
        timings, failures = [], []
        for notebook in notebooks:
            if notebook.ipynb.exists():
                output_for(notebook).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(notebook.ipynb, output_for(notebook))
            else:
                print(f"FAILED: {notebook.rel_ipynb} does not exist", file=sys.stderr)
                failures.append(notebook.rel_ipynb)
    else:
        timings, failures = _run_chapters(notebooks, output_for, args.timeout)
    _print_timings(timings)
    # Render what did execute even when a chapter failed, so its neighbours can be read; the
    # command still fails at the end.
    rendered = [n for n in notebooks if output_for(n).exists()]
    if not rendered:
        print("no chapter could be executed; nothing to render", file=sys.stderr)
        return 1
    # The diagrams the chapters' markdown links to (figures/...), and the references page.
    figures = ROOT / "chapters" / "figures"
    if figures.is_dir():
        shutil.copytree(figures, src / "chapters" / "figures", ignore=shutil.ignore_patterns("src", "__pycache__"))
    if book.references is not None:
        shutil.copy2(book.references, src / "chapters" / "references.md")
    (src / "_config.yml").write_text(jupyter_book_config(book), encoding="utf-8")
    (src / "_toc.yml").write_text(jupyter_book_toc(rendered, references=book.references is not None),
                                  encoding="utf-8")
    (src / "index.md").write_text(index_page(book, rendered), encoding="utf-8")
    copy_book_static(src)

    render_start = time.perf_counter()
    # Its stdout is a banner; warnings and errors arrive on stderr, which is passed through.
    result = render_html(src, ROOT)
    if result.returncode != 0:
        print(result.stdout)
        print("jupyter-book build failed", file=sys.stderr)
        return result.returncode
    index = html / "index.html"
    if not index.exists():
        print(f"jupyter-book finished but {index.relative_to(ROOT)} is missing", file=sys.stderr)
        return 1
    for chapter in rendered:
        page = html / Path(chapter.rel_py).with_suffix(".html")
        figures = page.read_text(encoding="utf-8").count("<img") if page.exists() else 0
        print(f"  {page.relative_to(ROOT)}: " + (f"{figures} figure(s)" if page.exists() else "MISSING"))
    print(f"\nrendered {len(rendered)} chapter(s) as HTML in {time.perf_counter() - render_start:.1f} s; "
          f"whole build {time.perf_counter() - start:.1f} s")
    print(f"open {index}")
    offline = html_problems(html)
    for problem in offline:
        print(problem, file=sys.stderr)
    if offline:
        print(f"\n{len(offline)} script(s) or stylesheet(s) load from another host: the book would not read "
              "offline", file=sys.stderr)
    if failures:
        print(f"\n{len(failures)} chapter(s) failed and are missing from the HTML: {', '.join(failures)}",
              file=sys.stderr)
    return 1 if failures or offline else 0


# --------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tools/book.py", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    commands = parser.add_subparsers(dest="command", required=True)

    execute = commands.add_parser("execute", help="refresh the committed notebooks from the .py sources")
    execute.add_argument("chapters", nargs="*", help="chapters to execute (default: all, in book order)")
    execute.add_argument("--timeout", type=int, default=600, help="seconds a single cell may run (default 600)")
    execute.set_defaults(run=command_execute)

    build = commands.add_parser("build", help="execute into _build/src and render HTML into _build/html")
    build.add_argument("--timeout", type=int, default=600, help="seconds a single cell may run (default 600)")
    build.add_argument("--committed", action="store_true",
                       help="render the committed notebooks without executing them (quick look at the HTML)")
    build.set_defaults(run=command_build)

    check = commands.add_parser("check", help="check .py/.ipynb sync, execution and the README table")
    check.add_argument("chapters", nargs="*", help="chapters to check (default: all)")
    check.set_defaults(run=command_check)

    run = commands.add_parser("run", help="execute notebooks on a device into a scratch folder, comparing no output")
    run.add_argument("chapters", nargs="*", help="chapters to run (default: all, with their solutions)")
    run.add_argument("--device", required=True, help="cpu, cuda, cuda:1, mps ... (becomes MINGPT_DEVICE)")
    run.add_argument("--out", help="folder for the executed notebooks (default: _build/run-DEVICE)")
    run.add_argument("--timeout", type=int, default=600, help="seconds a single cell may run (default 600)")
    run.set_defaults(run=command_run)

    check_html = commands.add_parser("check-html", help="fail if a built page loads a script or stylesheet "
                                                        "from another host")
    check_html.add_argument("html_dir", nargs="?", default=str(BUILD_DIR / "html"),
                            help="the rendered book (default: _build/html)")
    check_html.set_defaults(run=command_check_html)

    readme = commands.add_parser("readme", help="rewrite the README's chapter table from book.toml")
    readme.set_defaults(run=command_readme)

    listing = commands.add_parser("list", help="print the chapter files in book order")
    listing.add_argument("--ipynb", action="store_true", help="print the notebooks instead of the .py sources")
    listing.set_defaults(run=command_list)

    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except BookError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
