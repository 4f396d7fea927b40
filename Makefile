# Quick start:  make run   (set up .venv, run the embedded default)
#               make plan  (what the run will cost here and on Slurm, before it starts)
#               make test  (set up .venv, run the test suite)
#               make lint  (ruff, snakefmt, snakemake --lint; CI runs it before the tests)
PY := .venv/bin/python
SNAKEMAKE := .venv/bin/snakemake

.PHONY: setup run smoke plan report test lint bench

setup: .venv/.installed

# pip on these machines takes torch==2.14.1/torchvision==0.29.1 from local disk (see pyproject.toml).
.venv/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

run: setup
	$(SNAKEMAKE) --cores all

smoke: setup
	$(SNAKEMAKE) --cores all --configfile config/config.yaml config/presets/smoke.yaml

# What a run will cost before it starts (jobs, steps, images, bytes, wall and CPU time locally and on
# Slurm), for the jobs the store still needs; e.g. make plan ARGS='--configfile config/config.yaml config/presets/smoke.yaml'
plan: setup
	PYTHONPATH=lib $(PY) -m diffattr.plan --cores all $(ARGS)

# The HTML report of the finished default run (offline, self-contained); builds nothing new.
report: setup
	$(SNAKEMAKE) --report report.html

# Two pytest-xdist workers share the tests and one background smoke run; the Slurm tests (mostly waiting
# on the test cluster) are one group on one worker (tests/conftest.py). Without -n pytest runs them one by one.
test: setup
	$(PY) -m pytest -q -ra -n 2 --dist loadgroup tests

# ruff (Python: lint and format) and snakefmt + snakemake --lint (the workflow), one line length (120).
lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/snakefmt --check Snakefile rules/
	$(SNAKEMAKE) --lint

bench: setup
	$(PY) bench/common_noise.py
