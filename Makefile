# Two entry points: `make eval` runs the promotion suites on the demo models, `make test` runs the
# harness's own tests. Both create .venv and install the harness into it on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: install eval test lint clean-cache

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints-cpu.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@if $(PY) -c "import torch" 2>/dev/null; then \
		echo "torch is already installed in $(VENV); keeping it"; \
		$(PY) -m pip install --quiet -e '.[dev,embeddings]'; \
	else \
		$(PY) -m pip install --quiet -c constraints-cpu.txt -e '.[dev,embeddings]'; \
	fi
	@touch $@

eval: install
	$(PY) -m pytest suites/ $(PYTEST_ARGS)

test: install
	$(PY) -m pytest tests/ -n 2 $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check harness fixtures suites tests bench

clean-cache:
	rm -rf .harness
