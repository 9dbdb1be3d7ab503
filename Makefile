# Two commands for a fresh machine with python3: `make demo` and `make test`.
# Each creates ./.venv itself and installs what it needs (again only when pyproject.toml changes).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test test-slow lint xor clean bench

demo: $(VENV)/.installed-runtime
	$(BIN)/python examples/solve_iris.py

xor: $(VENV)/.installed-runtime
	$(BIN)/python examples/solve_xor.py

test: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

# the slow tests `make test` leaves out (pytest marker `slow`): killed saves, a few minutes at most
test-slow: $(VENV)/.installed-test
	$(BIN)/python -m pytest -m slow

# The benchmark unsets OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE (set on some machines for old OpenBLAS
# builds; they force a slower kernel on current NumPy) for its own run only, never for tests or CI,
# and records what it unset (MINITORCH_BENCH_UNSET). Threads: bench.py gives every timed process the
# same count (--threads, default 2). BENCH_ARGS passes options, e.g. BENCH_ARGS=--quick (< 1 minute).
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

$(VENV)/.installed-bench: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	touch $@ $(VENV)/.installed-runtime

clean:
	rm -rf $(VENV) build *.egg-info iris_model.npz outputs .pytest_cache .ruff_cache .hypothesis
