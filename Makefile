# mathdl course: `make lab` to learn, `make test` to check everything.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
ROOT_FLAG := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)
ASSIGNMENT ?=

.PHONY: lab test test-fast setup lint format bench exercises grade report export site clean clean-grading

setup: $(STAMP)

# (Re)install only when a requirements file or pyproject.toml changed.
$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@# formgrader refuses URLs that would inject script (mathdl_grading/formgrader_guard.py)
	@mkdir -p $(VENV)/etc/jupyter/jupyter_server_config.d
	@echo '{"ServerApp": {"jpserver_extensions": {"mathdl_grading.formgrader_guard": true}}}' \
	  > $(VENV)/etc/jupyter/jupyter_server_config.d/mathdl_grading.json
	@touch $(STAMP)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab $(ROOT_FLAG) --notebook-dir=. notebooks/00_welcome.ipynb

# Two processes, each test file whole in one (its module fixtures built once; tests/conftest.py).
# TEST_JOBS=1: one process.
TEST_JOBS ?= 2
test: $(STAMP)
	$(PY) -m pytest $(if $(filter-out 1,$(TEST_JOBS)),-n $(TEST_JOBS) --dist loadfile)

# The quick loop while editing mathdl: everything but the tests marked slow, which are those in
# tests/e2e/ (kernels, grading, browser, site, hub). `make test` still runs everything.
test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow"

# ruff for lint and format, mypy for the types of the mathdl package (both configured in
# pyproject.toml); `make format` applies the formatter.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

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
	$(PY) -m pytest -q -s -rA tests/e2e/test_hub.py

# Student versions: exercises/<a>/<a>.ipynb from every solutions/<a>/<a>.ipynb (nbgrader
# generate_assignment with a throw-away gradebook; deterministic, committed).
exercises: $(STAMP)
	$(VENV)/bin/mathdl-make-exercises

# Grade every submission under submitted/<student>/$(ASSIGNMENT)/: autograded/, feedback/ (HTML),
# grades.csv, and a report in nbgrader_work/$(ASSIGNMENT)/report.md. See docs/instructors.md.
# Optional: GRADE_TIMEOUT=<seconds per cell> GRADE_MEMORY_MB=<kernel memory cap>,
# JOBS=<students graded at once> (default: the number of cores).
JOBS ?=
grade: $(STAMP)
	@test -n "$(ASSIGNMENT)" || { echo "usage: make grade ASSIGNMENT=<name>, one of:"; ls solutions; exit 2; }
	$(VENV)/bin/mathdl-grade $(ASSIGNMENT) $(if $(JOBS),--jobs $(JOBS))

# Grades per part for the LMS (docs/instructors.md): nbgrader_work/export/<a>.csv, canvas.csv and
# moodle.csv, for ASSIGNMENT or, without it, every assignment in the gradebook.
export: $(STAMP)
	$(VENV)/bin/mathdl-export $(ASSIGNMENT)

# Which parts and mistakes the class struggled with (after make grade): nbgrader_work/<a>/class-report.html
# and .json; without ASSIGNMENT, every graded assignment side by side (nbgrader_work/class-report.html).
report: $(STAMP)
	$(VENV)/bin/mathdl-report $(ASSIGNMENT)

# The course website (docs/site.md): Jupyter Book 1 executes every lesson and builds build/site/.
# Its packages (requirements-site.txt) go into .venv only here, so `make lab` stays lean; the
# browser assets are vendored with npm ci from book/package-lock.json. Pages load nothing remote.
SITE_STAMP := $(VENV)/.site-installed
NPM_STAMP  := book/node_modules/.installed

$(SITE_STAMP): $(STAMP) requirements-site.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-site.txt
	@touch $@

$(NPM_STAMP): book/package.json book/package-lock.json
	cd book && npm ci --ignore-scripts --no-audit --no-fund
	@touch $@

site: $(SITE_STAMP) $(NPM_STAMP)
	$(PY) book/build.py

# Everything the build, the tests and the benchmarks generate. Grading results are the
# instructor's data (manual grades live in gradebook.db): `make clean-grading CONFIRM=yes`.
clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache .mypy_cache test-artifacts build *.egg-info
	rm -rf book/node_modules
	find . -name __pycache__ -type d -prune -not -path './.git/*' -exec rm -rf {} +
	find . -name .ipynb_checkpoints -type d -prune -not -path './.git/*' -exec rm -rf {} +
	@for f in gradebook.db grades.csv autograded feedback nbgrader_work; do \
	  test ! -e $$f || echo "kept $$f (grading results): make clean-grading CONFIRM=yes removes it"; done

# Grading outputs: the gradebook (with any manual grades), autograded/, feedback/, grades.csv
# and the reports. Submissions (submitted/, downloaded/) are students' work and are never removed.
clean-grading:
	@test "$(CONFIRM)" = yes || { echo "this deletes gradebook.db (manual grades too): make clean-grading CONFIRM=yes"; exit 2; }
	rm -rf gradebook.db grades.csv autograded feedback nbgrader_work
