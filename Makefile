# Every target does its own set-up on a fresh machine: `make run`, `make test`, `make bench`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# llama-cpp-python builds from source where no wheel fits (about 6 min on 2 cores, once;
# pip's wheel cache makes later installs fast). Portable flags: no -march=native surprises.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF
export CMAKE_BUILD_PARALLEL_LEVEL ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: run test bench lint screenshots clean system-deps

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# Qt's offscreen and xcb platforms need a few shared libraries; install them where apt exists
# and they are missing (CI machines are Debian, run as root).
system-deps:
	@if ! ldconfig -p | grep -q libEGL.so.1 || ! ldconfig -p | grep -q libxkbcommon.so.0 || ! ldconfig -p | grep -q libfontconfig.so.1; then \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && apt-get install -y -qq libegl1 libgl1 libxkbcommon0 libfontconfig1 libdbus-1-3 libglib2.0-0 >/dev/null; \
	  else echo "Qt needs libEGL, libxkbcommon and fontconfig; install them with your package manager."; fi; \
	fi

run: $(STAMP) system-deps
	$(VENV)/bin/dataelan

test: $(STAMP) system-deps
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -p no:cacheprovider

# `make bench` runs them all; `make bench ONLY="startup stream_window"` runs some
bench: $(STAMP) system-deps
	QT_QPA_PLATFORM=offscreen $(PY) -m bench $(ONLY)

lint: $(STAMP)
	$(VENV)/bin/ruff check dataelan_desktop tests bench
	$(VENV)/bin/ruff format --check dataelan_desktop tests bench

screenshots: $(STAMP) system-deps
	QT_QPA_PLATFORM=offscreen $(PY) -m dataelan_desktop.ui.screenshots docs

clean:
	rm -rf $(VENV) build dist *.egg-info
