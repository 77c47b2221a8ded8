# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 0. Preface: how to read and run this book
#
# This book rebuilds Andrej Karpathy's [minGPT](https://github.com/karpathy/minGPT), a GPT
# small enough to read in an afternoon, one idea at a time. Its spine is a set of notes that
# one reader wrote while doing the same thing: they read minGPT, rewrote most of it, hit bugs
# that did not crash anything but quietly ate the model's performance, ported it to JAX and
# left a few questions open. The chapters follow that journey and answer those questions with
# code you can run and numbers you can check.
#
# Next to the book lives a small PyTorch package, `mingpt_lite`. Each chapter builds one of
# its pieces from scratch in the simplest form that works, **asserts** that the simple form
# and the package compute the same thing, and from then on uses the package. Every claim along
# the way is checked by an `assert` when the notebook is executed.
#
# What the chapters cover, precisely: the computation of the model (attention, blocks, the
# GPT, its initialisation), the data, the loss, the optimizer's parameter groups, sampling and
# the KV cache, and the weight import are each rebuilt in a chapter and proved equal to the
# package's code. Some of the package is explained and used but not rebuilt line by line: the
# `Trainer`'s loop is the subject of chapter 05, but its callbacks in `mingpt_lite.callbacks`
# (checkpoints and resuming, interruption, progress output) are used and checked by their
# results rather than rebuilt. The exercise checkers (`mingpt_lite/exercises/`) and the notebook
# helpers that start each chapter are not taught either.
#
# `mingpt_lite` is the core: what the chapters build, and nothing else. Beside it sits a second
# package, `mingpt_lab`, the lab: the `mingpt-lite` command line (train, evaluate and sample from
# the shell), the experiments whose results some chapters read as committed data, and the
# benchmarks against minGPT and nanoGPT. The lab imports the core and never the other way round
# (the tests check it), so everything a chapter teaches can be read in `mingpt_lite` alone. The
# module map at the end of this preface is computed from the book's list of chapters and prints
# the core modules that no chapter names.

# %% [markdown]
# ## Before you start
#
# The book assumes you can already do four things. Each comes with one primer; an afternoon
# with the ones you are missing is enough.
#
# - **Python**: functions, classes, list comprehensions, f-strings, and reading a traceback.
#   Primer: [the official Python tutorial](https://docs.python.org/3/tutorial/).
# - **Tensors**: creating, indexing, reshaping and broadcasting PyTorch tensors, and matrix
#   products with `@`. Primer: [PyTorch's "Tensors" tutorial](https://pytorch.org/tutorials/beginner/basics/tensorqs_tutorial.html).
# - **Autograd and `nn.Module`**: what `loss.backward()` computes, what `.grad` holds, how a
#   module registers its parameters, and a minimal training loop. Primer: [PyTorch's "Learn the
#   Basics" series](https://pytorch.org/tutorials/beginner/basics/intro.html), from "Build the
#   Neural Network" to "Optimizing Model Parameters".
# - **Softmax and cross-entropy**: turning scores into probabilities, and why the loss is the
#   negative log-probability of the right answer. Primer: [Dive into Deep Learning, "Softmax
#   Regression"](https://d2l.ai/chapter_linear-classification/softmax-regression.html).
#
# You do not need to know transformers or attention: chapter 01 starts from a weighted average.
# Karpathy's ["Let's build GPT"](https://www.youtube.com/watch?v=kCc8FmEb1nY) video covers the same
# ground as chapters 01, 02 and 09 and is a good companion, not a prerequisite.

# %% [markdown]
# ## How to read it
#
# There are three ways in, all showing the same chapters:
#
# - **Read** the executed notebooks, `chapters/NN_slug.ipynb`, on a code host, or the HTML book
#   that `make book` renders into `_build/html/index.html` (sidebar, search, figures).
# - **Run** a chapter in Jupyter: open `chapters/NN_slug.ipynb`, or open the `.py` file as a
#   notebook with jupytext installed. Every chapter starts from a fixed seed, so numbers that do
#   not come out of training match the stored ones up to the last bits of a float. Numbers from
#   training runs can drift further on another CPU, another thread count or a GPU; that is why
#   the chapters state their spread over several seeds and assert only what holds across them.
# - **Run it as a script**: `python chapters/NN_slug.py` works because the prose cells are
#   comments. Useful to profile a chapter or to run it on a remote machine.
#
# The `.py` file is the source; the `.ipynb` is produced from it by the project's own command
# and committed with its outputs. Each chapter has the same shape. It opens with what it needs
# from earlier chapters (and says so at the point of use when it borrows something a later
# chapter builds). Prose comes first, then code cells of a few lines: each new idea in its most
# explicit form, then checked against `mingpt_lite`, then used. Diagrams of the central idea
# (drawn from source by `tools/diagrams.py`, labelled with the chapter's own sizes) sit before
# the code they explain, and the papers and code a chapter builds on are linked where it uses
# them; the **References** page of the HTML book lists them all. Each chapter ends with
# "What you learned" and two to five numbered **exercises**. The chapters are meant to be read
# in order, but each one runs on its own.

# %% [markdown]
# ## How to run it
#
# From a fresh clone, with Python 3.11 or newer and `make`:
#
# ```bash
# make book    # create .venv if needed, execute every chapter, render HTML into _build/html/
# make test    # unit tests, then every chapter re-executed and compared with its stored outputs
# ```
#
# Both commands create or reuse a virtual environment in `.venv/`. `make test` is also a
# regression test for the book: it re-executes each notebook with
# [nbval](https://github.com/computationalmodelling/nbval) and compares what every cell prints
# with what was committed (after masking what legitimately varies, such as timings and the
# last digits of a float).
#
# The whole book runs in under ten minutes on a two-core laptop CPU. Nothing asks for a GPU,
# but every chapter uses one when it is there: the device is chosen in one place,
# `mingpt_lite.device.pick_device` (CUDA, then Apple's MPS, then the CPU; set `MINGPT_DEVICE`
# to override). Chapters that train offer bigger runs for readers with a GPU:
#
# ```bash
# MINGPT_BOOK_SIZE=full make book
# ```
#
# The committed notebooks always come from the default size, `small`.

# %% [markdown]
# ## Where this copy runs
#
# Every chapter's first cell is the same: `start_chapter` seeds every random number generator,
# picks the device, asks matplotlib for PNG figures and says where the chapter runs.

# %%
import ast
import importlib.util
import tomllib
from pathlib import Path

import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from mingpt_lite.notebook import book_size, start_chapter

device = start_chapter(seed=0)

# %% [markdown]
# The versions of the libraries that matter (this cell's output is not compared by the tests:
# a newer numpy on your machine is not a failure):

# %% tags=["nbval-ignore-output"]
import platform
import sys

import matplotlib
import numpy
import torch

import mingpt_lite

versions = {
    "python": platform.python_version(),
    "torch": torch.__version__,
    "numpy": numpy.__version__,
    "matplotlib": matplotlib.__version__,
    "mingpt_lite": mingpt_lite.__version__,
}
for name, version in versions.items():
    print(f"{name:12s} {version}")
print(f"{'device':12s} {device}, {torch.get_num_threads()} CPU threads, book size {book_size()!r}")
assert sys.version_info >= (3, 11), "the book's tools read book.toml with tomllib (Python 3.11+)"

# %% [markdown]
# ## Exercises, checkers and solutions
#
# An exercise is one of four kinds: *predict* (write your answer down, then run the code),
# *change* (modify the chapter's code and observe), *implement* (write a small piece yourself),
# and *explain*. Where the answer is code or a number, a **checker** in `mingpt_lite.exercises`
# compares your attempt with the package's own implementation and tells you either that it is
# right or what exactly is wrong with it. You call it with the exercise's number,
# `check("N.k", attempt)`. Here is chapter 01's checker given an attention function that forgot
# the causal mask:

# %%
import torch

from mingpt_lite.exercises import check


def attention_without_mask(q, k, v):
    scores = q @ k.transpose(-2, -1) / q.size(-1) ** 0.5
    return torch.softmax(scores, dim=-1) @ v


result = check("1.1", attention_without_mask)
assert not result and "leaks future positions" in result.message

# %% [markdown]
# A check returns a result that is true only when the attempt passed, so your own code can
# `assert check(...)`. Every exercise has a worked solution: one notebook per chapter in
# `chapters/solutions/`, linked from each exercise and collected in the **Solutions** part of the
# HTML book. The solutions are executed and compared by `make test` exactly like the chapters,
# every code answer asserts itself (including passing its checker), and every explain question
# gets a model answer backed by numbers computed in the notebook.

# %% [markdown]
# ## The mental framework
#
# The notes open with a table that places a GPT inside the whole craft of building AI. We quote
# it as the author wrote it (from the "Mental framework" section of the author's notes on
# minGPT):
#
# > | full stack AI         | in abstract                 |
# > | ----------------------------- | --------------------------- |
# > | model                     | form of intelligence      |
# > | dataset                   | online, offline experiences, dynamic simulation |
# > | loss function, reward | feedback loop engineering              |
# > | optimizer                 | making change according to feedbacks               |
# > | training                  | the whole process           |
# > | inference                 | should merge with training to form a continuous process                            |
# >
# > Coding up model from a paper is an interesting, yet tiny step of the full stack.
#
# The table is also a fair map of where the work goes in this book. minGPT bundles the loss
# and the optimizer's configuration into the model class; the notes wondered whether they
# should be separate, and in `mingpt_lite` each row of the table is its own module, so each
# can be read, tested and replaced on its own. The book's list of chapters, `book.toml`, tags
# every chapter with the rows it advances; here is the table again with those chapters:

# %%
def find_book_toml() -> Path:
    """book.toml sits at the project's root; chapters run from chapters/ (or from the root as scripts)."""
    for folder in (Path.cwd(), *Path.cwd().parents):
        if (folder / "book.toml").exists():
            return folder / "book.toml"
    raise FileNotFoundError("book.toml not found above the current directory")


book = tomllib.loads(find_book_toml().read_text(encoding="utf-8"))
chapters = book["chapters"]
number = {c["file"]: Path(c["file"]).stem[:2] for c in chapters}

rows = ["model", "data", "loss", "optimizer", "training", "inference"]
lines = ["| the notes' row | chapters that advance it |", "|---|---|"]
for row in rows:
    where = [f"{number[c['file']]} {c['title']}" for c in chapters if row in c.get("framework", [])]
    assert where, f"no chapter of the book covers the row {row!r}"
    lines.append(f"| {row} | {'; '.join(where)} |")
display(Markdown("\n".join(lines)))

# %% [markdown]
# ## Which chapter builds which module
#
# The same file says which `mingpt_lite` modules each chapter builds or explains. The map
# below is generated from it, with each module's description taken from the first paragraph
# of its own docstring. Reading the source files (not importing them) keeps this cell
# from needing the optional JAX extra, and the assertion fails if `book.toml` ever names a
# module that does not exist.

# %%
def module_summary(name: str) -> str:
    """The first paragraph of a module's docstring, on one line, read from its source without importing it."""
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.origin is not None, f"book.toml names {name}, which does not exist"
    docstring = ast.get_docstring(ast.parse(Path(spec.origin).read_text(encoding="utf-8")))
    assert docstring, f"{name} has no module docstring"
    first_paragraph = " ".join(docstring.split("\n\n")[0].split())
    return first_paragraph.replace("``", "`")


lines = ["| chapter | modules |", "|---|---|"]
for c in chapters:
    label = f"{number[c['file']]} {c['title']}" + (" (appendix)" if c.get("appendix") else "")
    modules = "<br>".join(f"`{m}`: {module_summary(m)}" for m in c["modules"])
    lines.append(f"| {label} | {modules} |")
display(Markdown("\n".join(lines)))

modules_in_book = sorted({m for c in chapters for m in c["modules"]})
print(f"{len(chapters)} chapters, {len(modules_in_book)} modules, every one found")

# %% [markdown]
# Is every module of the package covered by some chapter? The package's files are the other
# side of the map; a module no chapter names would be code the book never explains.

# %%
package_dir = Path(mingpt_lite.__file__).parent
package_modules = [f"mingpt_lite.{path.stem}" for path in package_dir.glob("*.py") if path.stem != "__init__"]
package_modules += [f"mingpt_lite.{path.name}" for path in package_dir.iterdir() if (path / "__init__.py").exists()]
package_modules.sort()
uncovered = [m for m in package_modules if m not in modules_in_book]
print("modules no chapter names:", ", ".join(uncovered) if uncovered else "none")

# %% [markdown]
# The same map as a picture: one row per chapter, one column per module, the columns ordered by
# the chapter that first names the module. A filled dot is where a module is built, a ring is
# where a later chapter comes back to it. The staircase is the book's journey: most modules are
# built once and then reused, which is why they live in a package and not in the notebooks.

# %%
first_chapter = {}
for i, c in enumerate(chapters):
    for m in c["modules"]:
        first_chapter.setdefault(m, i)
columns = sorted(first_chapter, key=lambda m: (first_chapter[m], m))
assert sorted(columns) == modules_in_book

fig, ax = plt.subplots(figsize=(7, 4.5))
for i, c in enumerate(chapters):
    for m in c["modules"]:
        j = columns.index(m)
        built_here = first_chapter[m] == i
        colour = "0.55" if c.get("appendix") else "tab:blue"
        ax.scatter(j, i, s=70 if built_here else 45, marker="o", linewidths=1.5,
                   facecolors=colour if built_here else "none", edgecolors=colour)
ax.set_xticks(range(len(columns)), [m.removeprefix("mingpt_lite.") for m in columns], rotation=50, ha="right", fontsize=8)
ax.set_yticks(range(len(chapters)), [Path(c["file"]).stem for c in chapters], fontsize=8)
ax.invert_yaxis()
ax.grid(alpha=0.3)
ax.set_axisbelow(True)
ax.set_title("which chapter builds (filled) or reuses (ring) which module; appendices in grey", fontsize=9)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Conventions used in every chapter
#
# - Shapes are written in comments with minGPT's letters: `B` batch, `T` time (positions),
#   `C` channels (`n_embd`), `H` heads, `D` the width of one head, `V` the vocabulary.
# - Numbers that matter are checked by `assert` in the cell that computes them. Printed numbers
#   are compared to four decimals at most, because the last bits of a float depend on the CPU
#   and on the number of threads; numbers out of a training run are printed at the precision
#   their spread supports, or asserted with a stated tolerance.
# - Cells that print timings are tagged so the tests ignore their output; a timing is a
#   measurement of your machine, not a property of the code.
# - Long runs show a progress bar only where it helps; nothing a chapter computes is lost if
#   you interrupt it and run the cell again.
#
# The credit for what is rebuilt here goes to minGPT and nanoGPT; the questions come from the
# notes. The code and the prose are this project's own.
#
# ## Things to try first
#
# 1. Run `make test`, then change one printed number in a committed notebook by hand and run it
#    again: see nbval point at the cell. (Then restore the file with `git checkout`.)
# 2. Set `MINGPT_DEVICE=cpu` on a machine with a GPU and compare a training chapter's run time
#    with and without it.
# 3. Open `book.toml`, and find the chapter that builds the module you are most curious about;
#    read that module's source next to the chapter.
# 4. Add a row of your own to the mental-framework table (evaluation? data cleaning?) and ask
#    which chapter would have to exist to cover it.
