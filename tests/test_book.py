"""The book's structure: book.toml, the chapter files, their sync and execution, the README table.

nbval (run by ``make test`` over the same chapters) compares the stored outputs; these tests
make sure there is something real for it to compare: a cell whose stored execution_count is
null is silently skipped by nbval, so an unexecuted notebook would pass vacuously.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import ROOT, book_tool

BOOK = book_tool.load_book()
CHAPTERS = BOOK.chapters
IDS = [chapter.name for chapter in CHAPTERS]

HEADER = """\
# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---
"""


def test_book_toml_lists_numbered_chapters_in_order():
    numbers = [c.number for c in CHAPTERS]
    assert numbers[0] == 0 and all(a < b for a, b in zip(numbers, numbers[1:])), numbers
    assert CHAPTERS[0].slug == "preface"
    appendix_flags = [c.appendix for c in CHAPTERS]
    assert appendix_flags == sorted(appendix_flags), "appendices come after the chapters"
    assert len({c.slug for c in CHAPTERS}) == len(CHAPTERS)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_chapter_source_and_notebook_exist(chapter):
    missing = [p.relative_to(ROOT).as_posix() for p in (chapter.py, chapter.ipynb) if not p.exists()]
    assert not missing, f"listed in book.toml but missing: {missing}"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_chapter_starts_with_the_jupytext_header(chapter):
    text = chapter.py.read_text(encoding="utf-8")
    assert text.startswith(HEADER), f"{chapter.rel_py} must start with the header from .team/CHAPTERS.md"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_notebook_inputs_equal_the_source(chapter):
    problems = book_tool.sync_problems(chapter)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_every_code_cell_was_executed_top_to_bottom(chapter):
    problems = book_tool.execution_problems(chapter)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_notebook_has_a_png_figure_and_no_svg(chapter):
    import nbformat

    nb = nbformat.read(chapter.ipynb, as_version=4)
    kinds = [key for cell in nb.cells if cell.cell_type == "code"
             for out in cell.outputs for key in out.get("data", {})]
    assert "image/svg+xml" not in kinds, "SVG output differs on every run; start_chapter() selects PNG"
    assert "image/png" in kinds, f"{chapter.rel_ipynb} has no figure (every chapter shows at least one)"


def test_no_chapter_files_outside_book_toml():
    listed = {c.py for c in CHAPTERS} | {c.ipynb for c in CHAPTERS}
    on_disk = {p.resolve() for pattern in ("*.py", "*.ipynb") for p in (ROOT / "chapters").glob(pattern)}
    stray = sorted(p.relative_to(ROOT).as_posix() for p in on_disk - listed)
    assert not stray, f"chapter files not listed in book.toml: {stray}"


def test_readme_chapter_table_is_generated_from_book_toml():
    problems = book_tool.readme_problems(BOOK)
    assert not problems, "\n".join(problems)


# --- the validation in tools/book.py itself, on small made-up book.toml files


def _toml(chapters: str) -> str:
    return '[book]\ntitle = "T"\nauthor = "A"\ndescription = "D"\n' + chapters


def _entry(file: str, appendix: bool = False) -> str:
    return (f'[[chapters]]\nfile = "{file}"\ntitle = "t"\nsummary = "s"\nmodules = ["mingpt_lite.model"]\n'
            f"appendix = {'true' if appendix else 'false'}\n")


def test_load_book_accepts_a_well_formed_file(tmp_path: Path):
    path = tmp_path / "book.toml"
    path.write_text(_toml(_entry("chapters/00_a.py") + _entry("chapters/01_b.py", appendix=True)))
    book = book_tool.load_book(path)
    assert [c.name for c in book.chapters] == ["00_a", "01_b"]
    assert [c.appendix for c in book.chapters] == [False, True]


@pytest.mark.parametrize("chapters, message", [
    (_entry("chapters/01_a.py") + _entry("chapters/00_b.py"), "numbered 00 after chapter 01"),
    (_entry("chapters/00_a.py") + _entry("chapters/00_a.py"), "numbered 00 after chapter 00"),
    (_entry("chapters/00_a.py", appendix=True) + _entry("chapters/01_b.py"), "after an appendix"),
    (_entry("chapters/0_a.py"), "chapters/NN_slug.py"),
    (_entry("chapters/00_a.py").replace('title = "t"', 'title = ""'), "non-empty string `title`"),
    (_entry("chapters/00_a.py").replace('"mingpt_lite.model"', '"numpy"'), "mingpt_lite module names"),
])
def test_load_book_rejects_malformed_files(tmp_path: Path, chapters: str, message: str):
    path = tmp_path / "book.toml"
    path.write_text(_toml(chapters))
    with pytest.raises(book_tool.BookError, match=re.escape(message)):
        book_tool.load_book(path)
