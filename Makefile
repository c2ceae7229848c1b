# Two commands a newcomer needs: `make demo` and `make test`. Each makes its own virtualenv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint install system-deps clean fixtures

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Run the main job on the example reports with the embedded default (rules backend, no network).
demo: $(STAMP)
	@mkdir -p out
	$(BIN)/nianbao extract examples/reports -o out/demo
	$(BIN)/nianbao extract examples/reports/004_6f1ea477f42cf686.txt --format table

## System packages the browser and rendering tests use (Debian): Chromium and a CJK font.
system-deps:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; fi; fi

## Rebuild tests/fixtures/docs (seeds as .docx, text PDF, scanned PDF); needs chromium + fonts-noto-cjk.
fixtures: $(STAMP) system-deps
	$(BIN)/python scripts/make_fixtures.py

## Run the whole test suite.
## Scores the eval gate holds the seeds to (issue 2's "Done when"; eval/baselines has today's figures).
EVAL_GATE ?= cell_accuracy=1.0,meta_accuracy=1.0,narrative_recall=0.95,narrative_precision=0.9,finding_recall=1.0,false_positives=0
## The real dev corpus (third-party reports, read from ../shared, never copied here): its own gate, set to what
## today's parser reaches (1808/2825 cells, narrative F1 0.78, 27/31 findings, 74 false flags); raise it as the parser improves.
DEV_CORPUS ?= ../shared/reports/dev
EVAL_GATE_DEV ?= cell_accuracy=0.639,meta_accuracy=0.89,narrative_f1=0.78,finding_recall=0.87,false_positives=74

test: $(STAMP) system-deps
	$(BIN)/ruff check .
	$(BIN)/nianbao eval examples/reports --gold tests/fixtures --backend rules --fail-under $(EVAL_GATE)
	$(BIN)/nianbao eval $(DEV_CORPUS)/raw --gold $(DEV_CORPUS)/gold --backend rules --fail-under $(EVAL_GATE_DEV)
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) out .pytest_cache
