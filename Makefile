# The two commands a new user needs:   make demo   (set up + run the bundled default job)
#                                       make test   (set up + run the tests; .ci/run calls this)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# espeak-ng: phonemizer and the test songs' voices; ffmpeg: m4a/aac decoding (torchcodec) and whisper;
# fluidsynth + GM soundfont, festival: the ground-truth test songs; sox: handy for inspection.
SYSTEM_PACKAGES := ffmpeg espeak-ng fluidsynth fluid-soundfont-gm festival festvox-kallpc16k sox libsndfile1
SOUNDFONT := /usr/share/sounds/sf2/FluidR3_GM.sf2

.PHONY: setup system-deps demo test test-fast bench clean

setup: system-deps $(VENV)/.installed

system-deps:
	@missing=""; \
	for tool in ffmpeg espeak-ng fluidsynth festival sox; do command -v $$tool >/dev/null || missing="$$missing $$tool"; done; \
	[ -f $(SOUNDFONT) ] || missing="$$missing fluid-soundfont-gm"; \
	[ -z "$$missing" ] && exit 0; \
	echo "setup: installing system packages (missing:$$missing)"; \
	if ! command -v apt-get >/dev/null; then \
	  echo "setup: no apt-get here; install these with your package manager: $(SYSTEM_PACKAGES)" >&2; exit 1; fi; \
	if [ "$$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo=sudo; else \
	  echo "setup: need root (or sudo) to install: $(SYSTEM_PACKAGES)" >&2; exit 1; fi; \
	$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends \
	  $(SYSTEM_PACKAGES) >/dev/null || { echo "setup: apt-get failed to install: $(SYSTEM_PACKAGES)" >&2; exit 1; }

$(VENV)/.installed: pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "setup: installing songprep and its pinned dependencies into $(VENV) (several GB; a few minutes)"
	$(BIN)/pip install --quiet --disable-pip-version-check -c requirements.lock -e ".[dev]"
	@# basic-pitch's wheel asks for TensorFlow on Linux + Python 3.11; its ONNX model (what songprep
	@# runs, with onnxruntime) needs none of it, so it goes in without its declared dependencies.
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps basic-pitch==0.4.0
	@# musicnn's wheel (the describe stage's tagger weights) asks for TensorFlow and numpy<1.17; songprep reads
	@# its checkpoints in torch, so it too goes in without its declared dependencies.
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps musicnn==0.1.0
	@$(BIN)/python -c "import songprep.cli, torch, torchaudio" || { echo "setup: install failed" >&2; exit 1; }
	@touch $@

demo: setup
	$(BIN)/songprep demo

test: setup
	$(BIN)/ruff check songprep pipelines evaluation generation tests bench
	$(BIN)/python -m pytest

test-fast: setup
	$(BIN)/python -m pytest -m "not slow"

bench: setup
	$(BIN)/python bench/run_all.py

clean:
	rm -rf songprep-demo .pytest_cache build *.egg-info
