# The two commands a reader needs: `make book` and `make test`. Both create (or reuse) a local
# virtual environment in .venv, so nothing has to be installed first except Python 3.11+.
#
#   make book        execute every chapter into _build/ and render HTML into _build/html/
#                    (tracked files are not modified; MINGPT_BOOK_SIZE=full for bigger runs)
#   make test        unit tests + nbval over every chapter in book.toml + the sync check
#   make notebooks   maintainer: re-execute the committed chapters/*.ipynb from the .py sources
#   make clean       remove _build/ and caches (keeps .venv; `make distclean` removes it too)

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Rebuilt when pyproject.toml changes; otherwise the environment is reused as it is.
STAMP := $(VENV)/.installed-stamp
# torch first, pinned: here it resolves to the CPU build; an unpinned torch pulls gigabytes of CUDA packages.
TORCH := torch==2.13.0
# The thread count the committed outputs were produced with (tools/book.py execute uses 2 too).
THREADS := OMP_NUM_THREADS=2 MKL_NUM_THREADS=2

.PHONY: book test notebooks check clean distclean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -e '.[book,test,jax]'
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (ipykernel)"
	touch $(STAMP)

book: $(STAMP)
	$(PY) tools/book.py build

# One pytest session: unit tests (tests/), tests/test_book.py (book.toml, .py/.ipynb sync,
# every cell executed, README table) and nbval over chapters/ (conftest keeps it to book.toml's
# chapters and skips stderr). pytest exits non-zero on any failure, and with 5 if nothing ran.
test: $(STAMP)
	$(THREADS) MINGPT_BOOK_SIZE=small $(PY) -m pytest -p no:cacheprovider tests chapters \
		--nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=600

notebooks: $(STAMP)
	$(PY) tools/book.py execute

check: $(STAMP)
	$(PY) tools/book.py check

clean:
	rm -rf _build .pytest_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
