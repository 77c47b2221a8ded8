"""The built book reads offline: math typeset by a bundled MathJax, no script or stylesheet from
another host, diagrams in markdown shown, the references page in the table of contents.

One real Jupyter Book build of a tiny book (a start page, a notebook chapter with math and a
diagram, a references page) with the _config.yml that ``tools/book.py`` generates for book.toml.
It takes a few seconds, nearly all of it Sphinx starting. ``make book`` runs the same offline
check over the whole rendered book (``tools/book.py check-html``, called by ``build``).
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import ROOT, book_tool

import jupyter_book  # noqa: F401  (a required test dependency: the book extra)

DIAGRAM = ('<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40">'
           '<rect width="120" height="40" fill="#4c72b0"/></svg>')


def _notebook(cells: list[dict]) -> str:
    return json.dumps({"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                    "language": "python"}},
                       "nbformat": 4, "nbformat_minor": 5})


class _Tags(HTMLParser):
    """Every start tag of a page, as (tag, attributes)."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))


def _tags(page: Path) -> list[tuple[str, dict]]:
    parser = _Tags()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.tags


@pytest.fixture(scope="module")
def html(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tiny_book")
    src = root / "src"
    (src / "chapters" / "figures").mkdir(parents=True)
    (src / "_config.yml").write_text(book_tool.jupyter_book_config(book_tool.load_book()), encoding="utf-8")
    # The table of contents as build writes it, for one chapter and the references page.
    chapter = book_tool.Chapter(number=1, slug="tiny", title="Tiny", summary="", modules=(), framework=(),
                                appendix=False, py=ROOT / "chapters" / "01_tiny.py",
                                ipynb=ROOT / "chapters" / "01_tiny.ipynb")
    (src / "_toc.yml").write_text(book_tool.jupyter_book_toc([chapter], references=True), encoding="utf-8")
    (src / "index.md").write_text("# Tiny book\n\nInline $a^2 + b^2 = c^2$.\n", encoding="utf-8")
    (src / "chapters" / "01_tiny.ipynb").write_text(_notebook([
        {"cell_type": "markdown", "id": "a", "metadata": {},
         "source": "# Tiny chapter\n\n$$\\mathrm{softmax}\\left(\\frac{QK^\\top}{\\sqrt{d}}\\right)V$$\n\n"
                   "![the tiny diagram](figures/01_tiny.svg)\n"},
        {"cell_type": "code", "id": "b", "metadata": {}, "execution_count": 1, "source": "print(6 * 7)",
         "outputs": [{"output_type": "stream", "name": "stdout", "text": "42\n"}]},
    ]), encoding="utf-8")
    (src / "chapters" / "figures" / "01_tiny.svg").write_text(DIAGRAM, encoding="utf-8")
    (src / "chapters" / "references.md").write_text("# References\n\n- [minGPT](https://github.com/karpathy/minGPT)\n",
                                                     encoding="utf-8")
    book_tool.copy_book_static(src)
    result = book_tool.render_html(src, root)
    assert result.returncode == 0, result.stdout[-2000:]
    return root / "_build" / "html"


def test_math_is_typeset_by_a_mathjax_shipped_with_the_book(html):
    for page in (html / "index.html", html / "chapters" / "01_tiny.html"):
        scripts = [attrs["src"] for tag, attrs in _tags(page) if tag == "script" and "mathjax" in attrs.get("src", "")]
        assert scripts, f"{page.name} loads no MathJax"
        for src in scripts:
            assert not src.startswith(("http:", "https:", "//")), src
            assert (page.parent / src).resolve().is_file(), f"{page.name}: {src} is not in the build"
    # MathJax's CommonHTML output needs its web fonts next to it.
    assert list((html / "_static" / "mathjax" / "output" / "chtml" / "fonts").rglob("*.woff"))
    chapter = (html / "chapters" / "01_tiny.html").read_text(encoding="utf-8")
    assert "\\sqrt{d}" in chapter and 'class="math' in chapter  # the TeX is there for MathJax to typeset


def test_no_page_loads_a_script_or_stylesheet_from_another_host(html):
    assert book_tool.external_assets(html) == []
    assert book_tool.html_problems(html) == []


def test_a_diagram_in_markdown_is_shown(html):
    page = html / "chapters" / "01_tiny.html"
    images = [attrs for tag, attrs in _tags(page) if tag == "img" and attrs.get("src", "").endswith("01_tiny.svg")]
    assert [attrs["alt"] for attrs in images] == ["the tiny diagram"]
    assert (page.parent / images[0]["src"]).resolve().read_text(encoding="utf-8") == DIAGRAM


def test_the_references_page_is_in_the_table_of_contents(html):
    assert (html / "chapters" / "references.html").is_file()
    links = [attrs["href"] for tag, attrs in _tags(html / "index.html") if tag == "a"]
    assert "chapters/references.html" in links


def test_the_check_finds_every_kind_of_external_load(tmp_path):
    (tmp_path / "index.html").write_text("""<html><head>
        <script src="_static/local.js"></script>
        <script defer src="https://cdn.example.org/mathjax.js"></script>
        <link rel="stylesheet" href="//fonts.example.org/font.css">
        <link rel="preload" as="script" href="http://cdn.example.org/preloaded.js">
        <link rel="stylesheet" href="_static/local.css">
        <link rel="canonical" href="https://example.org/page.html">
        </head><body><a href="https://arxiv.org/abs/1706.03762">a link is not a load</a></body></html>""",
                                         encoding="utf-8")
    (tmp_path / "local.css").write_text(
        '@import url("https://fonts.example.org/x.css");\n'
        'a { background: url("data:image/svg+xml;utf8,<svg xmlns=\'http://www.w3.org/2000/svg\'/>") }\n',
        encoding="utf-8")
    found = book_tool.external_assets(tmp_path)
    assert found == ["index.html: https://cdn.example.org/mathjax.js", "index.html: //fonts.example.org/font.css",
                     "index.html: http://cdn.example.org/preloaded.js", "local.css: https://fonts.example.org/x.css"]
    assert book_tool.main(["check-html", str(tmp_path)]) == 1
    assert book_tool.html_problems(tmp_path / "missing") == [f"{tmp_path / 'missing'}/index.html does not exist: "
                                                              "build the book first"]


def test_diagrams_can_be_enlarged_by_a_script_shipped_with_the_book(html):
    # The diagrams are wider than the text column; tools/book_static/diagram-zoom.js lets a click
    # show one at the window's width. It must reach every page, from the book itself.
    page = html / "chapters" / "01_tiny.html"
    tags = _tags(page)
    scripts = [attrs["src"] for tag, attrs in tags if tag == "script" and "diagram-zoom" in attrs.get("src", "")]
    sheets = [attrs["href"] for tag, attrs in tags if tag == "link" and "diagram-zoom" in attrs.get("href", "")]
    assert scripts and sheets, "diagram-zoom.js/.css are not on the chapter page"
    for address in scripts + sheets:
        assert not book_tool._EXTERNAL.match(address)
        assert (page.parent / address.split("?")[0]).resolve().is_file(), address
    assert "article img[src$='.svg']" in (html / "_static" / "diagram-zoom.js").read_text(encoding="utf-8")
