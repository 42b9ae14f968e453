# Every target sets up what it needs: a fresh machine only needs python3 (3.11+) and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
INDEX_DIR ?= index
CORPUS := data/daily-papers.txt
HOST   ?= 127.0.0.1
PORT   ?= 8000
export ABSTRACTQA_INDEX_DIR := $(INDEX_DIR)
# Browser tests drive Debian's Chromium (never a browser downloaded by Playwright).
CHROMIUM := /usr/bin/chromium
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test index lint bench screenshot clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch==2.13.0 is the CPU build pip finds on this kind of machine; see pyproject.toml.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

$(INDEX_DIR)/CURRENT: | $(VENV)/.installed
	$(BIN)/abstractqa index add $(CORPUS)

index: $(INDEX_DIR)/CURRENT

run: $(VENV)/.installed $(INDEX_DIR)/CURRENT
	$(BIN)/abstractqa serve --host $(HOST) --port $(PORT)

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium

test: $(VENV)/.installed-dev $(CHROMIUM)
	$(BIN)/python -m pytest -q

# Refreshes the README's picture of the chat page (tests themselves never write tracked files).
screenshot: $(VENV)/.installed-dev $(CHROMIUM)
	$(BIN)/python -m pytest -q tests/web/test_chat_page.py \
		-k test_a_citation_chip_shows_the_paper_abstract_with_the_quoted_sentence_highlighted \
		--docs-screenshot docs/screenshot-chat.png

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/bench_index.py
	$(BIN)/python benchmarks/bench_answers.py
	$(BIN)/python benchmarks/bench_service.py
	$(BIN)/python benchmarks/bench_coldstart.py --phases
	$(BIN)/python benchmarks/bench_load.py
	$(BIN)/python benchmarks/bench_scale.py
	$(BIN)/python benchmarks/cv_retrieval.py
	$(BIN)/python benchmarks/render_docs.py

clean:
	rm -rf $(VENV) $(INDEX_DIR) build *.egg-info
