# The README's commands. `make demo` and `make test` each set up .venv on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# The CPU build of torch (a local wheel on the kit's dev machines); override on a GPU box,
# e.g. `make test TORCH_SPEC=torch` or use environment.yml.
TORCH_SPEC ?= torch==2.13.0
PRESET ?= cpu

.PHONY: setup demo test lab html docs figures bench pi-base clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check "$(TORCH_SPEC)"
	$(BIN)/pip install -q --disable-pip-version-check -e ".[dev]"
	touch $@

demo: setup
	$(BIN)/python -m synthrl demo --preset $(PRESET)

# One pytest worker per core (pytest-xdist). Each test file runs whole on one worker: its module-scoped
# runs are built once, and the notebooks run one after another. (--dist loadgroup would place files by
# hand, but with pytest 9.2 and xdist 3.8 its groups are not applied: tests of one group were spread.)
# -rs: every skipped test says why (the browser tests, where no Chromium is installed).
test: setup
	$(BIN)/python -m pytest -q -rs -n auto --dist loadfile tests

# JupyterLab on notebooks/ (the notebook extras installed once), on this machine only; it prints its URL
lab: $(VENV)/.notebook
	$(BIN)/jupyter lab --no-browser --ip=127.0.0.1 --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root)

# each study notebook on the committed cpu results (seconds each, no training), as HTML under docs/notebooks
html: $(VENV)/.notebook
	$(BIN)/python tools/render.py

# the generated tables of README.md and docs/ rewritten from the committed results
docs: setup
	$(BIN)/python tools/docs.py

$(VENV)/.notebook: $(VENV)/.installed
	$(BIN)/pip install -q --disable-pip-version-check -e ".[notebook]"
	touch $@

figures: setup
	$(BIN)/python -m synthrl figures --preset $(PRESET)

# pi_base, pretrained once and shipped in data/models (as a base model comes from a hub)
pi-base: setup
	$(BIN)/python -m synthrl pi-base --preset $(PRESET)

bench: $(VENV)/.bench
	$(BIN)/python -m synthrl bench --preset $(PRESET)

$(VENV)/.bench: $(VENV)/.installed
	$(BIN)/pip install -q --disable-pip-version-check -e ".[bench]"
	touch $@

clean:
	rm -rf $(VENV) runs
