# The two commands of the README:
#   make book   build the whole book: environment, install, execute every notebook, static site
#   make test   build the full book (as make book), then run every test on it (lint, unit tests +
#               coverage, controls, claims ledger, notebooks at quick sizes, pairing, browser,
#               the student and PDF editions)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The pinned torch and torchvision of the published build (timm needs torchvision). Installed
# first so that nothing later pulls another torch; override for another build, e.g. with
# PIP_EXTRA_INDEX_URL pointing at CPU-only wheels.
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
STAMP := $(VENV)/.gantheory-installed

.PHONY: book test env browser sync setup-cells lint serve clean

$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q $(TORCH_SPEC)
	$(BIN)/python -m pip install -q -e ".[test]"
	@touch $@

env: $(STAMP)

book: env
	$(BIN)/python tools/build_book.py

# Debian's chromium for the headless-browser test (no browser download by playwright).
browser:
	@if command -v chromium >/dev/null 2>&1 || [ -n "$$GANTHEORY_CHROMIUM" ]; then :; \
	elif command -v apt-get >/dev/null 2>&1; then \
	  echo "installing Debian's chromium for the browser test"; \
	  $(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq && \
	  $(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "no chromium: set GANTHEORY_CHROMIUM=/path/to/chromium"; fi

# The full-size book first (same command and cache as `make book`: it fails when a claim does
# not hold), then every test on it; nbval runs the .ipynb files at quick sizes.
test: env browser pdf-deps
	$(BIN)/python tools/build_book.py
	GANTHEORY_BOOK_BUILT=1 GANTHEORY_QUICK=1 $(BIN)/python -m pytest tests notebooks --nbval-lax --nbval-current-env \
	  --nbval-cell-timeout=600 --cov=gantheory --cov-report=term-missing --cov-fail-under=90

sync: env
	$(BIN)/python tools/sync_notebooks.py

setup-cells: env
	$(BIN)/python tools/setup_cells.py

lint: env
	$(BIN)/ruff check .

serve:
	$(PYTHON) -m http.server --directory _build/html 8000

clean:
	rm -rf _build .pytest_cache .coverage

# Course editions (README, "Course editions"): built from the main build's execution cache,
# executing nothing (`make book` first). make student -> _build/student/html (no solutions);
# make pdf -> _build/pdf/book.pdf (LaTeX; pdf-deps installs Debian's TeX and chromium; kaleido
# and pypdf come with the `site` extra of pyproject.toml). make test checks both editions.
.PHONY: student pdf pdf-deps
student: env
	@test -d _build/.jupyter_cache || $(BIN)/python tools/build_book.py
	$(BIN)/python tools/build_edition.py student

TEX_PACKAGES := texlive-xetex texlive-latex-recommended texlive-latex-extra \
  texlive-fonts-recommended fonts-freefont-otf latexmk poppler-utils
pdf-deps: env browser
	@if command -v xelatex >/dev/null 2>&1 && command -v latexmk >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1; then \
	  echo "installing Debian's TeX for the PDF"; \
	  $(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq && \
	  $(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends $(TEX_PACKAGES) >/dev/null; \
	else echo "no TeX: install XeLaTeX, latexmk and the FreeFont fonts"; fi

pdf: env pdf-deps
	@test -d _build/.jupyter_cache || $(BIN)/python tools/build_book.py
	$(BIN)/python tools/build_edition.py pdf
