# GreenLab: `make lab` opens the course, `make test` runs every test. Each sets up a virtual environment when it
# is missing: .venv for the default python3; `make test PYTHON=python3.13` uses .venv-py3.13 (one per Python).
PYTHON ?= python3
ifeq ($(origin PYTHON),file)
VENV   ?= .venv
else
VENV   ?= .venv-py$(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
endif
# PyTorch, installed first and on its own (a plain `torch` may pull a CUDA build): the CPU build where one lies on
# disk (our course machines, Python 3.11), else the registry's build of the same release.
TORCH  ?= torch==2.13.0
# Every other package at the exact version the test run passed with (constraints.txt; `make constraints` rewrites it).
CONSTRAINTS := constraints.txt
BIN    := $(VENV)/bin
PYTEST := HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 $(BIN)/python -m pytest
# Another CPU's code path: PyTorch, oneDNN and MKL limited to AVX2. A compared output that depends on the CPU
# fails here, not on a learner's laptop. Inductor (FlexAttention) gets a cache of its own: its cache key leaves out
# the CPU capability, so kernels compiled for this CPU's AVX-512 would be reused on the AVX2 path, and give wrong
# results there.
FOREIGN_CPU := ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2 \
               TORCHINDUCTOR_CACHE_DIR=$(CURDIR)/$(VENV)/torchinductor-avx2

# Chromium for the browser test of the widgets (tests/presentation/test_widgets_browser.py): Debian's package,
# installed where apt-get can (as root); elsewhere that test is skipped with a note saying how to get one.
CHROMIUM := command -v chromium >/dev/null || ! command -v apt-get >/dev/null || [ "$$(id -u)" != 0 ] || \
            { export DEBIAN_FRONTEND=noninteractive; apt-get install -y -qq chromium >/dev/null || \
              { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }; }

.PHONY: lab test test-foreign-cpu test-busy install constraints student-labs clean

# pip installs without byte-compiling, then compileall compiles on every core (pip compiles on one: 95 s of a 180 s
# install on 2 cores, 53 s this way). A few files that packages ship are not Python 3 and fail to compile, as they do
# under pip, which ignores them: so does the compileall line.
$(BIN)/.installed: pyproject.toml $(CONSTRAINTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q --no-compile "$(TORCH)"
	$(BIN)/python -m pip install -q --no-compile -c $(CONSTRAINTS) -e ".[lab,test]"
	$(BIN)/python -m compileall -qq -j 0 $(VENV)/lib || true
	$(CHROMIUM)
	touch $@

install: $(BIN)/.installed

lab: $(BIN)/.installed
	$(BIN)/jupyter lab --allow-root --ServerApp.root_dir=. notebooks/00_green_ai_intro.ipynb

# Every notebook and lab, then the unit tests; then every notebook and lab again on another CPU's code path, unless
# this CPU's own path is already that one (no AVX-512: the second pass would repeat the first exactly).
test: $(BIN)/.installed
	$(PYTEST)
	if [ "$$($(BIN)/python -c 'import torch; print(torch.backends.cpu.get_cpu_capability())')" = AVX2 ]; then \
	  echo "This CPU's own code path is AVX2, the other CPU's: the second pass would repeat the first."; \
	else $(FOREIGN_CPU) $(PYTEST) notebooks labs; fi

test-foreign-cpu: $(BIN)/.installed  # the second pass alone
	$(FOREIGN_CPU) $(PYTEST) notebooks labs

# Every notebook and lab as on a learner's busy laptop: a CPU-bound process on one core all along, an empty cache
# (the notebooks train their models), claims about time and energy as the learner gets them (warnings, listed at the
# end: greenlab.measurement.claims), outputs compared only where a cell asks (--nbval-lax). It passes when no cell
# raises and none times out.
test-busy: $(BIN)/.installed
	$(BIN)/python -c "while True: pass" & busy=$$!; \
	GREENLAB_CACHE=$$(mktemp -d) GREENLAB_STRICT_CLAIMS=0 $(PYTEST) --nbval-lax notebooks labs; status=$$?; \
	kill $$busy; exit $$status

constraints: $(BIN)/.installed
	{ sed -n '/^#/p' $(CONSTRAINTS); $(BIN)/python -m pip freeze --exclude-editable | grep -v '^torch=='; } > $(CONSTRAINTS).new
	mv $(CONSTRAINTS).new $(CONSTRAINTS)

student-labs: $(BIN)/.installed
	$(BIN)/greenlab assign labs student-labs

clean:
	rm -rf .venv .venv-py* student-labs
