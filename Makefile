# The two commands a reader needs: `make book` and `make test`. Both create (or reuse) a local
# virtual environment in .venv, so nothing has to be installed first except Python 3.11+.
#
#   make book        execute every chapter into _build/ and render HTML into _build/html/
#                    (tracked files are not modified; MINGPT_BOOK_SIZE=full for bigger runs);
#                    the pages read offline (MathJax is bundled), and the build fails if one
#                    loads a script or stylesheet from another host
#   make test        unit tests + nbval over every notebook in book.toml (chapters and solutions)
#                    + the sync check, the notebooks re-run on the CPU under a setting different
#                    from the recording one (see below)
#   make test-gpu    unit tests (device-aware ones on the GPU) + every notebook executed on the
#                    GPU, assertions checked, no outputs compared; refuses without a CUDA GPU
#   make test-latest the same tests in .venv-latest with the newest releases of every dependency
#                    (prints what differs from constraints.txt first): how a new release is caught
#   make lock        maintainer: renew constraints.txt from the newest releases (then `make notebooks`
#                    if an output changed, and `make test`)
#   make gpu-check   the prepared GPU check (after make gpu-check-prepare); gpu-check-rehearsal: on the CPU
#   make notebooks   maintainer: re-execute the committed chapters/*.ipynb from the .py sources
#   make clean       remove _build/ and caches (keeps .venv; `make distclean` removes it too)

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Rebuilt when pyproject.toml or the lock changes; otherwise the environment is reused as it is.
STAMP := $(VENV)/.installed-stamp
# The lock: the exact versions the committed outputs were recorded with (tools/lock.py). pyproject.toml
# has lower bounds only; installing with the lock as constraints makes a fresh clone match the recording
# machine. `make test-latest` and `make lock` install without it (LOCK= ), into .venv-latest.
LOCK ?= -c constraints.txt
LATEST := .venv-latest
# torch first, pinned: here it resolves to the CPU build; an unpinned torch pulls gigabytes of CUDA packages.
TORCH := torch==2.13.0
# The thread count the committed outputs were produced with (tools/book.py execute uses 2 too).
THREADS := OMP_NUM_THREADS=2 MKL_NUM_THREADS=2

.PHONY: book test test-gpu test-latest lock gpu-check gpu-check-prepare gpu-check-rehearsal notebooks check clean \
	distclean venv

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet $(LOCK) -e '.[book,test,jax]'
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (ipykernel)"
	touch $(STAMP)

book: $(STAMP)
	$(PY) tools/book.py build

# What `make test` compares under. The stored outputs were recorded by `tools/book.py execute`
# with 2 threads and PyTorch's default CPU kernels (AVX2 or AVX-512 on the recording machine). The notebook
# kernels nbval starts here inherit this environment instead: the portable, non-vectorised
# kernels (ATEN_CPU_CAPABILITY=default) and one thread. That moves the last bits of
# floating-point sums the way another CPU (ARM, AVX-512) or another thread count does, so a
# stored output or an asserted claim that holds only on the recording machine fails on every
# run, here and in CI, instead of on a reader's machine. The unit tests in the same session keep
# 2 torch threads (tests/conftest.py) and run on the portable kernels too.
# MINGPT_DEVICE=cpu: the references were recorded on the CPU, so the comparison never uses a
# GPU even where there is one (`make test-gpu` does). Override for a one-off comparison under
# another setting, e.g. `make test COMPARE_THREADS=4` or `make test COMPARE_KERNELS=avx2`.
COMPARE_THREADS ?= 1
COMPARE_KERNELS ?= default
COMPARE_ENV := ATEN_CPU_CAPABILITY=$(COMPARE_KERNELS) OMP_NUM_THREADS=$(COMPARE_THREADS) \
	MKL_NUM_THREADS=$(COMPARE_THREADS) MINGPT_DEVICE=cpu MINGPT_BOOK_SIZE=small
# nbval's limit for one cell: no chapter may take over 4 minutes under these settings, so 10
# minutes for a single cell only stops a cell that hangs.
CELL_TIMEOUT := 600
# What the session collects; the default is everything. Override to run a part under the same
# settings, e.g. `make test TEST_PATHS="tests/test_book.py chapters/05_trainer.ipynb"` (include a
# file under tests/ so that tests/conftest.py applies its nbval rules).
TEST_PATHS ?= tests chapters
# Two pytest-xdist workers: the notebooks are compared at one thread each, so two run side by side on a
# 2-core machine. --dist loadscope keeps each notebook (a module to pytest) on one worker, its cells in
# order in one kernel, as nbval needs. TEST_WORKERS=0 runs everything in this one process.
TEST_WORKERS ?= 2

# One pytest session: unit tests (tests/), tests/test_book.py (book.toml, .py/.ipynb sync,
# every cell executed, README table) and nbval over chapters/ (conftest keeps it to book.toml's
# chapters and their solutions, and skips stderr). pytest exits non-zero on any failure, and
# with 5 if nothing ran.
test: $(STAMP)
	@echo "make test: notebooks re-run on the CPU (MINGPT_DEVICE=cpu, where their outputs were recorded) with ATEN_CPU_CAPABILITY=$(COMPARE_KERNELS) OMP_NUM_THREADS=$(COMPARE_THREADS), compared with outputs recorded with the default kernels and 2 threads"
	$(COMPARE_ENV) $(PY) -m pytest -p no:cacheprovider -n $(TEST_WORKERS) --dist loadscope $(TEST_PATHS) \
		--nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=$(CELL_TIMEOUT)

# The GPU run. Without a CUDA GPU it says so in one line and fails. With one: the unit tests,
# whose device-aware tests (those taking the `device` fixture) run on cuda, then every notebook
# executed with MINGPT_DEVICE=cuda into _build/run-cuda/ (the committed .ipynb are not touched):
# a failed assertion fails the run, but no output is compared, because numbers computed on a GPU
# need not match the CPU's bits. Both parts run; either failing fails the target, and each
# notebook's result is printed on its own line.
# On a machine that already has a CUDA build of torch (a cluster node, a cloud image), possibly
# offline: `make test-gpu PY=python3` uses that Python as it is, with no venv step and no pip;
# the package is found through PYTHONPATH. (tools/gpu_check.sh --prepare, run beforehand where
# there is a network, puts wheels for missing notebook tooling into .peer/wheels.)
test-gpu: $(if $(filter $(VENV)/bin/python,$(PY)),$(STAMP))
	@$(PY) -c 'import sys, torch; print(f"make test-gpu: {sys.executable}, torch {torch.__version__} (CUDA {torch.version.cuda}) from {torch.__file__}"); torch.cuda.is_available() or sys.exit("make test-gpu: no CUDA GPU here (torch.cuda.is_available() is False), so nothing was run; make test runs everything on the CPU")'
	@echo "make test-gpu: unit tests with MINGPT_TEST_DEVICE=cuda, then every notebook executed with MINGPT_DEVICE=cuda into _build/run-cuda/ (assertions checked, outputs not compared)"
	status=0; export PYTHONPATH="$(CURDIR)$${PYTHONPATH:+:$$PYTHONPATH}"; \
	MINGPT_TEST_DEVICE=cuda $(THREADS) MINGPT_BOOK_SIZE=small $(PY) -m pytest -p no:cacheprovider tests || status=1; \
	MINGPT_BOOK_SIZE=small $(PY) tools/book.py run --device cuda --timeout $(CELL_TIMEOUT) || status=1; \
	exit $$status

# The prepared GPU check (tools/gpu_check.sh, tools/gpu_check.py): one JSON summary and a log per step in
# GPU_CHECK_OUT. gpu-check-prepare runs first, on a machine with a network (wheels for the notebook
# tooling and the minGPT / nanoGPT checkouts into the ignored .peer/); gpu-check then runs on the GPU
# machine in at most 6 minutes; gpu-check-rehearsal runs every step on the CPU, smaller, in under 10.
GPU_CHECK_OUT ?= _build/gpu-check
gpu-check-prepare: $(STAMP)
	tools/gpu_check.sh --prepare
gpu-check:
	PY=$(PY) tools/gpu_check.sh $(GPU_CHECK_OUT)
gpu-check-rehearsal: $(STAMP)
	PY=$(PY) tools/gpu_check.sh --device cpu $(GPU_CHECK_OUT)-cpu

# The newest releases: a fresh install into .venv-latest with no lock, what differs from the lock,
# then the very same `make test` with that environment. torch stays pinned (TORCH, named again in
# the upgrade so that --upgrade-strategy eager cannot replace the CPU build with a new CUDA one).
LATEST_INSTALL := --upgrade --upgrade-strategy eager $(TORCH)
test-latest:
	rm -f $(LATEST)/.installed-stamp
	$(MAKE) venv VENV=$(LATEST) LOCK="$(LATEST_INSTALL)"
	$(LATEST)/bin/python tools/lock.py diff $(LATEST)/bin/python
	$(MAKE) test VENV=$(LATEST) LOCK="$(LATEST_INSTALL)"

# Renew the lock from the newest releases (the same install as test-latest), then rebuild .venv from it.
lock:
	rm -f $(LATEST)/.installed-stamp
	$(MAKE) venv VENV=$(LATEST) LOCK="$(LATEST_INSTALL)"
	$(LATEST)/bin/python tools/lock.py diff $(LATEST)/bin/python
	$(LATEST)/bin/python tools/lock.py write $(LATEST)/bin/python
	$(MAKE) venv

notebooks: $(STAMP)
	$(PY) tools/book.py execute

check: $(STAMP)
	$(PY) tools/book.py check

clean:
	rm -rf _build .pytest_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) $(LATEST)
