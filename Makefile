# GreenLab: `make lab` opens the course, `make test` runs every test. Each sets up .venv when it is missing.
VENV   ?= .venv
PYTHON ?= python3
# The CPU build of PyTorch, installed before anything that depends on torch (a plain `torch` may pull CUDA).
TORCH  ?= torch==2.13.0
BIN    := $(VENV)/bin

.PHONY: lab test install student-labs clean

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[lab,test]"
	touch $@

install: $(BIN)/.installed

lab: $(BIN)/.installed
	$(BIN)/jupyter lab --allow-root --ServerApp.root_dir=. notebooks/00_green_ai_intro.ipynb

test: $(BIN)/.installed
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 $(BIN)/python -m pytest

student-labs: $(BIN)/.installed
	$(BIN)/greenlab assign labs student-labs

clean:
	rm -rf $(VENV) student-labs
