# Two entry points: `make eval` runs the promotion suites on the demo models, `make test` runs the
# harness's own tests. Both create .venv and install the harness into it on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: install eval test lint lock clean-cache

install: $(VENV)/.installed

# constraints.txt pins every library to the versions CI passed with (the numbers depend on them);
# constraints-cpu.txt adds the CPU build of torch when the environment has no torch yet.
$(VENV)/.installed: pyproject.toml constraints.txt constraints-cpu.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@if $(PY) -c "import torch" 2>/dev/null; then \
		echo "torch is already installed in $(VENV); keeping it"; \
		$(PY) -m pip install --quiet -c constraints.txt -e '.[dev,embeddings,serving]'; \
	else \
		$(PY) -m pip install --quiet -c constraints.txt -c constraints-cpu.txt -e '.[dev,embeddings,serving]'; \
	fi
	@touch $@

# Re-pin constraints.txt to what is installed now (after deliberately upgrading, and a green `make test`).
lock: install
	@{ sed -n '1,3p' constraints.txt; $(PY) -m pip freeze --exclude-editable | grep -v '^torch==' | sort -f; } > constraints.txt.new
	@mv constraints.txt.new constraints.txt

eval: install
	$(PY) -m pytest suites/ $(PYTEST_ARGS)

test: install
	$(PY) -m pytest tests/ -n 2 $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check harness fixtures suites tests bench

clean-cache:
	rm -rf .harness
