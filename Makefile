# Lore's two entry points are `make demo` and `make test`; each sets itself up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.installed-runtime
DEV_STAMP := $(VENV)/.installed-dev
NATIVE_SOURCES := rust/Cargo.toml $(wildcard rust/Cargo.lock) $(wildcard rust/src/*.rs rust/src/*/*.rs)
VSCODE := editors/vscode

.PHONY: demo test test-rust test-python test-editors lint vsix bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# An editable install: Python edits take effect at once, Rust edits rebuild through these stamps.
$(RUNTIME_STAMP): $(BIN)/python pyproject.toml $(NATIVE_SOURCES)
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEV_STAMP): $(BIN)/python pyproject.toml $(NATIVE_SOURCES)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(RUNTIME_STAMP)

demo: $(RUNTIME_STAMP)
	$(BIN)/lore index docs
	$(BIN)/lore search "request queue priority" --root docs -k 5
	$(BIN)/lore ask "What happens to the index when indexing is killed?" --root docs

test: test-rust lint test-editors test-python

test-rust:
	cargo test --quiet --manifest-path rust/Cargo.toml

lint: $(DEV_STAMP)
	$(BIN)/ruff check server tests bench

test-editors: $(VSCODE)/node_modules/.installed
	cd $(VSCODE) && npm run --silent lint && npm run --silent typecheck && npm test

$(VSCODE)/node_modules/.installed: $(VSCODE)/package.json $(VSCODE)/package-lock.json
	cd $(VSCODE) && npm ci --no-audit --no-fund
	touch $@

test-python: $(DEV_STAMP)
	$(BIN)/python -m pytest

vsix: $(VSCODE)/node_modules/.installed
	cd $(VSCODE) && npm run --silent package

bench: $(DEV_STAMP)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) rust/target $(VSCODE)/node_modules $(VSCODE)/dist docs/.lore
