# Two commands a newcomer needs:  make lab   and   make test
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8888

.PHONY: lab test setup lint format release clean hub

setup: $(STAMP)

# Reinstall only when what we depend on changes.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[autograder,dev,hub,cluster]"
	$(BIN)/python -m autograder.lab.setup
	@# The hub's proxy (configurable-http-proxy, Node.js) from deploy/hub/package-lock.json.
	@if command -v npm >/dev/null; then npm ci --prefix deploy/hub --no-audit --no-fund --silent; \
	else echo "npm not found: make hub and its tests need Node.js and npm (apt-get install nodejs npm)"; fi
	@touch $(STAMP)

# JupyterLab serves the learner's workspace, never notebooks/ (tracked, rewritten by each
# release): work/both/, or work/en/ or work/zh/ with COURSE_LANG=en|zh. `course workspace`
# makes it from notebooks/ and brings in each new release, keeping every file the learner
# changed; autograder.lab.serve prints the link to open. LAB_ARGS go to JupyterLab.
LAB_LANG := $(or $(filter en zh,$(COURSE_LANG)),both)
WORKSPACE := work/$(LAB_LANG)

lab: $(STAMP)
	@$(BIN)/python -m autograder.lab.setup
	@$(BIN)/course workspace --lang $(LAB_LANG) --dir $(WORKSPACE)
	@$(BIN)/python -m autograder.lab.serve $(WORKSPACE) --port $(PORT) $(LAB_ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile --nbval-lax tests solutions notebooks $(PYTEST_ARGS)

# A JupyterHub for the course on this machine (as root): learners, an instructor, nbgrader's
# exchange and Formgrader. It prints the URL and the logins; HUB_IP=0.0.0.0 to open it wider.
HUB_IP ?= 127.0.0.1
HUB_PORT ?= 8000
hub: $(STAMP)
	$(BIN)/course hub --ip $(HUB_IP) --port $(HUB_PORT) $(HUB_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

release: $(STAMP)
	$(BIN)/course release

clean:
	rm -rf $(VENV) .exchange autograded feedback submitted gradebook.db
