# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
DEMO := demo

.PHONY: demo test test-fast lint benchmark clean-demo

$(INSTALLED): envs/requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required (set PYTHON=...)"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r envs/requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

# Simulate a short session around a 3C286 transit, run the workflow on it, check the products against the truth.
demo: $(INSTALLED)
	test -d $(DEMO)/incoming || $(BIN)/dsa110-continuum simulate --preset demo --incoming $(DEMO)/incoming \
		--truth $(DEMO)/truth --calibrators config/calibrators.csv --transit 3C286
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/snakemake
	$(BIN)/dsa110-continuum summary --truth $(DEMO)/truth

test: $(INSTALLED)
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/python -m pytest -q tests

# Unit tests only: no Snakemake runs, a minute or so.
test-fast: $(INSTALLED)
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/python -m pytest -q -m "not e2e" tests

lint: $(INSTALLED)
	$(BIN)/snakemake --lint

benchmark: $(INSTALLED)
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/python benchmarks/bench_convert.py

clean-demo:
	rm -rf $(DEMO) .snakemake
