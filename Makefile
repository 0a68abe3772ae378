# mathdl course: `make lab` to learn, `make test` to check everything.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
ROOT_FLAG := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)
ASSIGNMENT ?=

.PHONY: lab test setup lint format bench exercises grade clean

setup: $(STAMP)

# (Re)install only when a requirements file or pyproject.toml changed.
$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab $(ROOT_FLAG) --notebook-dir=. notebooks/00_welcome.ipynb

test: $(STAMP)
	$(PY) -m pytest

# ruff for lint and format (configured in pyproject.toml); `make format` applies the formatter.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(STAMP)
	$(PY) benchmarks/bench_engine.py

# End to end: JupyterHub (deploy/) with nbgrader's exchange, an instructor and two students as
# real unix users, release -> grade -> feedback (docs/hub.md). Needs root; builds the class
# environment in /opt/mathdl-hub-test (MATHDL_HUB_TEST_PREFIX) the first time (a few minutes).
.PHONY: hub-test
hub-test: $(STAMP)
	$(PY) -m pytest -q -s -rA tests/test_hub.py

# Student versions: exercises/<a>/<a>.ipynb from every solutions/<a>/<a>.ipynb (nbgrader
# generate_assignment with a throw-away gradebook; deterministic, committed).
exercises: $(STAMP)
	$(PY) tools/make_exercises.py

# Grade every submission under submitted/<student>/$(ASSIGNMENT)/: autograded/, feedback/ (HTML),
# grades.csv, and a report in nbgrader_work/$(ASSIGNMENT)/report.md. See docs/instructors.md.
# Optional: GRADE_TIMEOUT=<seconds per cell> GRADE_MEMORY_MB=<kernel memory cap>.
grade: $(STAMP)
	@test -n "$(ASSIGNMENT)" || { echo "usage: make grade ASSIGNMENT=<name>, one of:"; ls solutions; exit 2; }
	$(PY) tools/grade.py $(ASSIGNMENT)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
