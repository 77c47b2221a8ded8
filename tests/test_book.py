"""The book's structure: book.toml, the chapter files, their sync and execution, the README table.

nbval (run by ``make test`` over the same chapters) compares the stored outputs; these tests
make sure there is something real for it to compare: a cell whose stored execution_count is
null is silently skipped by nbval, so an unexecuted notebook would pass vacuously.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
from nbval.plugin import get_sanitize_patterns

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


@pytest.mark.parametrize("chapter", BOOK.notebooks, ids=[n.rel_py for n in BOOK.notebooks])
def test_chapter_source_and_notebook_exist(chapter):
    missing = [p.relative_to(ROOT).as_posix() for p in (chapter.py, chapter.ipynb) if not p.exists()]
    assert not missing, f"listed in book.toml but missing: {missing}"


@pytest.mark.parametrize("chapter", BOOK.notebooks, ids=[n.rel_py for n in BOOK.notebooks])
def test_chapter_starts_with_the_jupytext_header(chapter):
    text = chapter.py.read_text(encoding="utf-8")
    assert text.startswith(HEADER), f"{chapter.rel_py} must start with the header from .team/CHAPTERS.md"


@pytest.mark.parametrize("chapter", BOOK.notebooks, ids=[n.rel_py for n in BOOK.notebooks])
def test_notebook_inputs_equal_the_source(chapter):
    problems = book_tool.sync_problems(chapter)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("chapter", BOOK.notebooks, ids=[n.rel_py for n in BOOK.notebooks])
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
    listed = {c.py for c in BOOK.notebooks} | {c.ipynb for c in BOOK.notebooks}
    on_disk = {p.resolve() for folder in ("chapters", "chapters/solutions") for pattern in ("*.py", "*.ipynb")
               for p in (ROOT / folder).glob(pattern)}
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


# --- the teaching scaffolding every chapter carries (chapters 01 onwards; the preface is exempt)
#
# Conventions (the chapters' markdown; see the README's "Writing a chapter"):
#   - near the top, a heading "## What you need from earlier chapters";
#   - at least one explanatory diagram, ![alt](figures/NN_name.svg), drawn by tools/diagrams.py;
#   - links to the papers and code the chapter builds on, at the point of use;
#   - "## What you learned" with 3 to 6 bullet points, then "## Exercises" with headings
#     "### Exercise N.k (kind): title", kind one of predict/change/implement/explain, k = 1, 2, ...,
#     each linking to its worked solution in solutions/NN_slug.ipynb;
#   - the solutions notebook has a heading "## Exercise N.k" for every exercise.

TAUGHT = [c for c in CHAPTERS if c.number >= 1]
TAUGHT_IDS = [c.name for c in TAUGHT]
NOTEBOOKS = BOOK.notebooks
NOTEBOOK_IDS = [n.rel_py for n in NOTEBOOKS]
EXERCISE_HEADING = re.compile(r"^### Exercise (\d+)\.(\d+) \((predict|change|implement|explain)\): \S", re.M)
SOLUTION_HEADING = re.compile(r"^## Exercise (\d+)\.(\d+)\b", re.M)
MARKDOWN_LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def _markdown_cells(path: Path) -> list[str]:
    import jupytext

    return [cell.source for cell in jupytext.read(path).cells if cell.cell_type == "markdown"]


def _links(path: Path) -> list[tuple[bool, str]]:
    """(is_image, target) of every markdown link in a notebook's markdown cells."""
    return [(bang == "!", target) for text in _markdown_cells(path) for bang, _, target in MARKDOWN_LINK.findall(text)]


@pytest.mark.parametrize("chapter", TAUGHT, ids=TAUGHT_IDS)
def test_chapter_opens_with_what_it_needs(chapter):
    first = "\n".join(_markdown_cells(chapter.py)[:3])
    assert re.search(r"^## What you need from earlier chapters\s*$", first, re.M), \
        f"{chapter.rel_py}: one of the first markdown cells needs '## What you need from earlier chapters'"


@pytest.mark.parametrize("chapter", TAUGHT, ids=TAUGHT_IDS)
def test_chapter_ends_with_a_summary_then_numbered_exercises(chapter):
    text = "\n\n".join(_markdown_cells(chapter.py))
    learned = re.search(r"^## What you learned\s*$(.*?)(?=^## )", text, re.M | re.S)
    assert learned, f"{chapter.rel_py}: needs '## What you learned' followed by '## Exercises'"
    points = re.findall(r"^[-*] \S", learned.group(1), re.M)
    assert 3 <= len(points) <= 6, f"{chapter.rel_py}: 'What you learned' has {len(points)} points (3 to 6)"
    exercises_at = text.find("\n## Exercises")
    assert exercises_at > learned.start(), f"{chapter.rel_py}: '## Exercises' must come after the summary"
    found = EXERCISE_HEADING.findall(text[exercises_at:])
    assert all(int(n) == chapter.number for n, _, _ in found), f"{chapter.rel_py}: exercises are numbered {chapter.number}.k"
    assert [int(k) for _, k, _ in found] == list(range(1, len(found) + 1)), \
        f"{chapter.rel_py}: exercises must be numbered {chapter.number}.1, {chapter.number}.2, ... ({found})"
    assert 2 <= len(found) <= 5, f"{chapter.rel_py}: {len(found)} exercises (2 to 5)"
    assert "explain" in {kind for _, _, kind in found}, f"{chapter.rel_py}: at least one (explain) exercise"
    assert chapter.solutions is not None, f"{chapter.rel_py}: book.toml needs solutions = \"chapters/solutions/{chapter.py.name}\""
    assert f"solutions/{chapter.name}.ipynb" in text[exercises_at:], \
        f"{chapter.rel_py}: the exercises must link to solutions/{chapter.name}.ipynb"


@pytest.mark.parametrize("chapter", TAUGHT, ids=TAUGHT_IDS)
def test_every_exercise_has_a_worked_solution(chapter):
    text = "\n\n".join(_markdown_cells(chapter.py))
    asked = {(int(n), int(k)) for n, k, _ in EXERCISE_HEADING.findall(text)}
    assert chapter.solutions is not None and chapter.solutions.exists(), f"{chapter.rel_py} has no solutions notebook"
    answered = {(int(n), int(k)) for n, k in SOLUTION_HEADING.findall("\n\n".join(_markdown_cells(chapter.solutions)))}
    assert asked == answered, f"exercises {sorted(asked)} vs solutions {sorted(answered)}"


def test_every_checker_belongs_to_an_exercise_in_the_book():
    from mingpt_lite.exercises import exercises

    asked = {f"{n}.{k}" for c in TAUGHT for n, k, _ in EXERCISE_HEADING.findall("\n\n".join(_markdown_cells(c.py)))}
    orphans = sorted(set(exercises()) - asked)
    assert not orphans, f"checkers for exercises no chapter asks: {orphans}"
    assert exercises(), "no exercise has a checker"


@pytest.mark.parametrize("chapter", TAUGHT, ids=TAUGHT_IDS)
def test_chapter_has_an_explanatory_diagram(chapter):
    images = [target for is_image, target in _links(chapter.py) if is_image and target.startswith("figures/")]
    assert any(t.endswith(".svg") and Path(t).name.startswith(f"{chapter.number:02d}_") for t in images), \
        f"{chapter.rel_py}: needs a diagram ![...](figures/{chapter.number:02d}_name.svg) drawn by tools/diagrams.py"


@pytest.mark.parametrize("chapter", TAUGHT, ids=TAUGHT_IDS)
def test_chapter_cites_its_sources(chapter):
    external = [target for is_image, target in _links(chapter.py) if not is_image and target.startswith("http")]
    assert external, f"{chapter.rel_py} links no paper or code"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=NOTEBOOK_IDS)
def test_links_are_well_formed_and_local_targets_exist(notebook):
    from urllib.parse import urlsplit

    problems = []
    for is_image, target in _links(notebook.py):
        if target.startswith(("http://", "https://")):
            parts = urlsplit(target)
            if parts.scheme != "https" or "." not in parts.netloc or not re.fullmatch(r"[\w.-]+", parts.netloc):
                problems.append(f"{target}: use https and a host name")
            if "arxiv.org" in parts.netloc and not re.fullmatch(r"/abs/\d{4}\.\d{4,5}", parts.path):
                problems.append(f"{target}: arXiv links look like https://arxiv.org/abs/1706.03762")
        elif target.startswith("#") or target.startswith("mailto:"):
            continue
        else:
            local = (notebook.py.parent / target.split("#", 1)[0]).resolve()
            if not local.exists():
                problems.append(f"{target}: no such file {local.relative_to(ROOT) if local.is_relative_to(ROOT) else local}")
            elif is_image and "figures" in local.parts and local.suffix not in (".svg", ".png"):
                problems.append(f"{target}: diagrams are .svg or .png")
    assert not problems, f"{notebook.rel_py}:\n  " + "\n  ".join(problems)


def test_committed_diagrams_are_up_to_date_with_their_source():
    spec = importlib.util.spec_from_file_location("diagrams_tool", ROOT / "tools" / "diagrams.py")
    diagrams = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(diagrams)
    assert diagrams.sources(), "no diagram sources in chapters/figures/src"
    problems = diagrams.check_problems()
    assert not problems, "\n".join(problems)


# The sources the book must cite (issue list), by a stable part of their address.
REQUIRED_REFERENCES = {
    "Vaswani et al. 2017": "arxiv.org/abs/1706.03762",
    "Radford et al. 2018 (GPT)": "cdn.openai.com/research-covers/language-unsupervised/language_understanding_paper.pdf",
    "Radford et al. 2019 (GPT-2)": "cdn.openai.com/better-language-models/language_models_are_unsupervised_multitask_learners.pdf",
    "Ba et al. 2016 (LayerNorm)": "arxiv.org/abs/1607.06450",
    "Hendrycks & Gimpel 2016 (GELU)": "arxiv.org/abs/1606.08415",
    "Xiong et al. 2020": "arxiv.org/abs/2002.04745",
    "Liu et al. 2020": "arxiv.org/abs/2004.08249",
    "Loshchilov & Hutter 2019 (AdamW)": "arxiv.org/abs/1711.05101",
    "Fan et al. 2018 (top-k)": "arxiv.org/abs/1805.04833",
    "Holtzman et al. 2020 (top-p)": "arxiv.org/abs/1904.09751",
    "Pope et al. 2022 (inference)": "arxiv.org/abs/2211.05102",
    "Li et al. 2020 (PyTorch DDP)": "arxiv.org/abs/2006.15704",
    "Rajbhandari et al. 2020 (ZeRO)": "arxiv.org/abs/1910.02054",
    "minGPT": "github.com/karpathy/minGPT",
    "nanoGPT": "github.com/karpathy/nanoGPT",
    "char-rnn": "github.com/karpathy/char-rnn",
}


def test_references_page_lists_the_required_sources():
    assert BOOK.references is not None and BOOK.references.exists(), "book.toml [book] needs references = \"chapters/references.md\""
    text = BOOK.references.read_text(encoding="utf-8")
    missing = [name for name, address in REQUIRED_REFERENCES.items() if f"https://{address}" not in text]
    assert not missing, f"references page lacks: {missing}"
    cited = "\n".join("\n".join(_markdown_cells(c.py)) for c in CHAPTERS)
    uncited = [name for name, address in REQUIRED_REFERENCES.items() if address not in cited]
    assert not uncited, f"no chapter cites at the point of use: {uncited}"


def test_the_sanitizer_masks_release_numbers_and_keeps_the_books_floats():
    patterns = get_sanitize_patterns((ROOT / "tests" / "nbval_sanitize.cfg").read_text())

    def clean(text):
        for regex, replace in patterns:
            text = re.sub(regex, replace, text)
        return text

    # a new release of any dependency does not change a compared output...
    assert clean("transformers 5.24.0\n") == clean("transformers 5.25.0\n")
    assert clean("jax 0.10.2, flax 0.12.8, optax 0.2.8") == clean("jax 0.11.0, flax 0.13.0rc1, optax 0.2.9")
    assert clean("torch 2.13.0+cpu, python 3.11.7,") == clean("torch 2.14.1+cu128, python 3.12.1,")
    # ...while a loss or an accuracy still does
    assert clean("val loss 1.8807") != clean("val loss 1.8929")
    assert clean("accuracy 0.9949") != clean("accuracy 1.0000")
