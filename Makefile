# Two commands for a fresh machine with python3: `make demo` and `make test`.
# Each creates ./.venv itself and installs what it needs (again only when pyproject.toml changes).
# `make test` runs every test and every Python block of README.md and docs/ (not the slow tests), in
# one worker process per core (pytest-xdist, at most 4), a test file in one worker (a page's blocks
# share a namespace and run in order);
# `make test-plain` runs the tests again with the kernels off (MINITORCH_KERNELS=0: the plain formulas);
# `make test-slow` builds the site and the wheel and installs the wheel in a fresh venv;
# `make docs` builds the site into site/ (strict, offline); `make docs-serve` serves it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test test-plain test-slow lint xor clean bench docs docs-serve

demo: $(VENV)/.installed-runtime
	$(BIN)/python examples/solve_iris.py

xor: $(VENV)/.installed-runtime
	$(BIN)/python examples/solve_xor.py

PARALLEL := -n auto --maxprocesses=4 --dist loadfile
# pytest with Python's bytecode caches on (__pycache__/, git-ignored), also where the environment sets
# PYTHONDONTWRITEBYTECODE: else every worker recompiles and re-rewrites the asserts of every test module
# at each run (about 8 s of CPU a worker), and each test that starts a fresh interpreter (the import-order
# and allocator tests, the examples) compiles the whole package again (half of their time)
PYTEST := env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest

test: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(PYTEST) $(PARALLEL)

# every test with the kernels off: the plain formulas alone give every answer, and a test of the
# kernels sets its own switch rather than inheriting the run's
test-plain: $(VENV)/.installed-test
	MINITORCH_KERNELS=0 $(PYTEST) -q $(PARALLEL)

# the slow tests `make test` leaves out (pytest marker `slow`): killed saves, the site build, the wheel
# built and installed in a fresh venv, whole example runs, the costliest duplicate grids (tests/suite_marks.py);
# a few minutes at most
test-slow: $(VENV)/.installed-slow
	$(PYTEST) -m slow

docs: $(VENV)/.installed-docs
	$(BIN)/mkdocs build --strict

docs-serve: $(VENV)/.installed-docs
	$(BIN)/mkdocs serve

# The benchmark unsets OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE (set on some machines for old OpenBLAS
# builds; they force a slower kernel on current NumPy) for its own run only, never for tests or CI,
# and records what it unset (MINITORCH_BENCH_UNSET). Threads: bench.py gives every timed process the
# same count (--threads, default 2). BENCH_ARGS passes options, e.g. BENCH_ARGS=--quick (< 1 minute).
# Results go to benchmarks/runs/ (untracked); BENCH_ARGS="--json benchmarks/results.json" for a run of record.
bench: $(VENV)/.installed-bench
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
	  MINITORCH_BENCH_UNSET="OPENBLAS_CORETYPE=$${OPENBLAS_CORETYPE-<unset>} OPENBLAS_L2_SIZE=$${OPENBLAS_L2_SIZE-<unset>}" \
	  $(BIN)/python benchmarks/bench.py $(BENCH_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .

$(VENV)/.installed-runtime: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed-runtime

$(VENV)/.installed-docs: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[docs]'
	touch $@ $(VENV)/.installed-runtime

$(VENV)/.installed-slow: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[test,docs,release]'
	touch $@ $(VENV)/.installed-test $(VENV)/.installed-docs $(VENV)/.installed-runtime

$(VENV)/.installed-bench: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	touch $@ $(VENV)/.installed-runtime

clean:
	rm -rf $(VENV) build dist site *.egg-info iris_model.npz outputs .pytest_cache .ruff_cache .hypothesis
