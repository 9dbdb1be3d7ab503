# Two commands for a fresh machine with python3: `make demo` and `make test`.
# Each creates ./.venv itself and installs what it needs (again only when pyproject.toml changes).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint xor clean

demo: $(VENV)/.installed-runtime
	$(BIN)/python examples/solve_iris.py

xor: $(VENV)/.installed-runtime
	$(BIN)/python examples/solve_xor.py

test: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

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

clean:
	rm -rf $(VENV) build *.egg-info iris_model.npz outputs .pytest_cache .ruff_cache .hypothesis
