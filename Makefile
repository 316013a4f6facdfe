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

MUTATION_VENV ?= .mutation-venv
FUZZ_SECONDS ?= 300
MUTANTS ?=
MUTATION_CHILDREN ?= 2

.PHONY: setup system-deps venv octoprint demo test typecheck fuzz mutation bench lint clean

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

test: setup typecheck
	HOSPFAB_OCTOPRINT=$(CURDIR)/$(OCTOPRINT_VENV)/bin/octoprint $(PY) -m pytest -q $(PYTEST_ARGS)

# mypy in strict mode on the packages listed in pyproject.toml's [tool.mypy] (the core packages: see the README).
typecheck: venv
	$(PY) -m mypy

# Fuzz the STL reader, the G-code tokenizer and the YAML loaders for FUZZ_SECONDS in all (the normal test run
# has a few-second slice of each). A crashing input is printed: add it to the fuzzer's REGRESSIONS list.
fuzz: venv
	FUZZ_SECONDS=$(FUZZ_SECONDS) $(PY) -m pytest -q -p no:cacheprovider tests/test_fuzz_stl.py \
		tests/test_fuzz_gcode.py tests/test_fuzz_yaml.py -k fuzz_

# Mutation testing with mutmut ([tool.mutmut] in pyproject.toml says which modules and which tests), in its
# own venv (mutmut brings click, which changes what httpx imports). One module: make mutation MUTANTS='hospfab.gcode.rules*'
# MUTATION_CHILDREN (default 2) mutants run at once: `make mutation MUTATION_CHILDREN=1` on a shared machine.
mutation: $(MUTATION_VENV)/.installed
	rm -rf mutants
	nice $(MUTATION_VENV)/bin/mutmut run --max-children $(MUTATION_CHILDREN) $(MUTANTS)
	$(MUTATION_VENV)/bin/mutmut results

$(MUTATION_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(MUTATION_VENV)
	$(MUTATION_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]' 'mutmut==3.8.1'
	touch $@

bench: setup
	for b in bench/*_bench.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) $(OCTOPRINT_VENV) $(MUTATION_VENV) mutants .pytest_cache .mypy_cache build *.egg-info src/*.egg-info
