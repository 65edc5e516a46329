# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
DEMO := demo
RUN := PATH=$(abspath $(BIN)):$$PATH

.PHONY: demo test test-fast lint benchmark clean-demo

$(INSTALLED): envs/requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required (set PYTHON=...)"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r envs/requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

# Simulate an hour around a 3C286 transit, run the workflow on it, check the products against the truth.
demo: $(INSTALLED)
	test -d $(DEMO)/incoming || $(BIN)/dsa110-continuum simulate --preset demo --incoming $(DEMO)/incoming \
		--truth $(DEMO)/truth --calibrators config/calibrators.csv --transit 3C286
	$(RUN) $(BIN)/snakemake
	$(BIN)/dsa110-continuum summary --truth $(DEMO)/truth

# Installs the Debian packages the tests use (WSClean, SLURM, PostgreSQL, Chromium) where missing, starts a
# one-node SLURM cluster and a PostgreSQL server for the tests, and stops them afterwards.
test: $(INSTALLED)
	tools/setup-system
	tools/slurm-cluster start
	tools/postgres-server start
	status=0; $(RUN) $(BIN)/python -m pytest -q --durations=20 tests || status=$$?; \
		tools/postgres-server stop; tools/slurm-cluster stop; exit $$status

# Unit tests only: no Snakemake runs, a minute or so.
test-fast: $(INSTALLED)
	$(RUN) $(BIN)/python -m pytest -q -m "not e2e" tests

lint: $(INSTALLED)
	$(BIN)/snakemake --lint

benchmark: $(INSTALLED)
	$(RUN) $(BIN)/python benchmarks/bench_observation.py
	$(RUN) $(BIN)/python benchmarks/bench_science.py
	$(RUN) $(BIN)/python benchmarks/bench_dag.py
	$(RUN) $(BIN)/python benchmarks/bench_workflow.py

clean-demo:
	rm -rf $(DEMO) .snakemake
