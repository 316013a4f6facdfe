# hospfab: two entry points for a newcomer, `make demo` and `make test`.
# Everything the project needs is installed from here: Debian packages (prusa-slicer, admesh) through
# scripts/install-system-deps, hospfab and its Python dependencies into .venv, and a real OctoPrint
# (for the demo and the integration tests) into its own venv, .octoprint-venv.

PYTHON ?= python3
VENV ?= .venv
OCTOPRINT_VENV ?= .octoprint-venv
OCTOPRINT_VERSION ?= 1.11.8
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: setup system-deps venv octoprint demo test bench lint clean

setup: system-deps venv octoprint

system-deps:
	@bash scripts/install-system-deps

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

octoprint: $(OCTOPRINT_VENV)/.installed

$(OCTOPRINT_VENV)/.installed:
	$(PYTHON) -m venv $(OCTOPRINT_VENV)
	$(OCTOPRINT_VENV)/bin/python -m pip install --quiet --disable-pip-version-check 'octoprint==$(OCTOPRINT_VERSION)'
	touch $@

demo: setup
	$(PY) -m hospfab demo

test: setup
	HOSPFAB_OCTOPRINT=$(CURDIR)/$(OCTOPRINT_VENV)/bin/octoprint $(PY) -m pytest -q $(PYTEST_ARGS)

bench: setup
	for b in bench/*_bench.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) $(OCTOPRINT_VENV) .pytest_cache build *.egg-info src/*.egg-info
