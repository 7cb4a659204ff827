# Every target does its own set-up on a fresh machine: `make run`, `make test`, `make bench`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# llama-cpp-python builds from source where no wheel fits (about 6 min on 2 cores, once;
# pip's wheel cache makes later installs fast). Portable flags: no -march=native surprises.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF
export CMAKE_BUILD_PARALLEL_LEVEL ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: postgres-up run test bench lint screenshots clean system-deps desktop-deps \
	package package-test package-tools install-desktop uninstall-desktop

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

# On a Linux desktop Qt 6's xcb platform also needs these (without libxcb-cursor0 it refuses to
# start: "Could not load the Qt platform plugin xcb").
XCB_LIBS := libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 \
	libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libxkbcommon-x11-0
XCB_SONAMES := libxcb-cursor.so.0 libxcb-icccm.so.4 libxcb-image.so.0 libxcb-keysyms.so.1 libxcb-randr.so.0 \
	libxcb-render-util.so.0 libxcb-shape.so.0 libxcb-xinerama.so.0 libxcb-xkb.so.1 libxkbcommon-x11.so.0
# any one missing is enough to stop Qt (seen: a machine with libxcb-cursor0 but no libxcb-icccm4)
desktop-deps: system-deps
	@missing=; for lib in $(XCB_SONAMES); do ldconfig -p | grep -q "$$lib" || missing="$$missing $$lib"; done; \
	if [ "$$(uname)" = Linux ] && [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && apt-get install -y -qq $(XCB_LIBS) >/dev/null; \
	  else echo "Qt needs these xcb libraries (missing:$$missing): sudo apt-get install $(XCB_LIBS)"; fi; \
	fi

run: $(STAMP) desktop-deps
	$(VENV)/bin/dataelan

test: $(STAMP) system-deps postgres-up
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -p no:cacheprovider

# The sync server's tests run on SQLite and on a real PostgreSQL (127.0.0.1:5432, each test session
# creates and drops its own database): start the machine's cluster when it is installed but down.
postgres-up:
	@if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1; then \
	  pg_ctlcluster --skip-systemctl-redirect "$$(ls /etc/postgresql)" main start || \
	  echo "PostgreSQL did not start: its tests will say they were skipped"; \
	fi

# `make bench` runs them all; `make bench ONLY="startup stream_window"` runs some
bench: $(STAMP) system-deps
	QT_QPA_PLATFORM=offscreen $(PY) -m bench $(ONLY)

lint: $(STAMP)
	$(VENV)/bin/ruff check dataelan_desktop tests bench tools
	$(VENV)/bin/ruff format --check dataelan_desktop tests bench tools

screenshots: $(STAMP) system-deps
	QT_QPA_PLATFORM=offscreen $(PY) -m tools.screenshots docs

# --- the installed app -------------------------------------------------------------------------
# `make package`: dist/dataelan (a one-folder PyInstaller bundle that needs no Python) and a tar.gz of
# it. PyInstaller's work folder stays in build/pyinstaller, so a rebuild with unchanged inputs is quick.
PKG_STAMP := $(VENV)/.installed-package
$(PKG_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[package]'
	touch $@

# Every xcb library Qt's xcb plugin links to must be on the build machine: PyInstaller copies them
# into the bundle (libxcb-cursor0 in particular is missing from many desktops). Plus the validators
# for the desktop entry and the AppStream metadata (the build checks with them when present).
package-tools:
	@missing=""; \
	if command -v dpkg-query >/dev/null; then for pkg in $(XCB_LIBS); do \
	  dpkg-query -W -f='$${Status}' $$pkg 2>/dev/null | grep -q "ok installed" || missing="$$missing $$pkg"; \
	done; fi; \
	command -v desktop-file-validate >/dev/null || missing="$$missing desktop-file-utils"; \
	command -v appstreamcli >/dev/null || missing="$$missing appstream"; \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && apt-get install -y -qq $$missing >/dev/null; \
	  else echo "for a complete bundle, install:$$missing"; fi; \
	fi

package: $(PKG_STAMP) desktop-deps package-tools
	$(PY) packaging/build.py

# the bundle alone, started as a user would (no venv on PATH); the window under Xvfb
package-test: package
	@if ! command -v Xvfb >/dev/null; then \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && apt-get install -y -qq xvfb >/dev/null; \
	  else echo "the window test needs Xvfb: sudo apt-get install xvfb"; fi; \
	fi
	DATAELAN_PACKAGE_TEST=1 $(PY) -m pytest -q -p no:cacheprovider tests/package

# the desktop entry, icons, .gguf type and dataelan:// handler for this user; Exec is the bundle
# when it is built, else this checkout's venv
DESKTOP_EXEC ?= $(if $(wildcard dist/dataelan/dataelan),$(CURDIR)/dist/dataelan/dataelan,$(CURDIR)/$(VENV)/bin/dataelan)
install-desktop: $(if $(wildcard dist/dataelan/dataelan),,$(STAMP))
	sh packaging/desktop-integration.sh install "$(DESKTOP_EXEC)"

uninstall-desktop:
	sh packaging/desktop-integration.sh uninstall

clean:
	rm -rf $(VENV) build dist *.egg-info
