"""`make install-desktop` / `uninstall-desktop`: the menu entry, icons, .gguf type and dataelan:// handler."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "packaging" / "desktop-integration.sh"
APP_ID = "io.dataelan.Desktop"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def integrate(action: str, data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(data.parent), "XDG_DATA_HOME": str(data)}
    return subprocess.run(
        ["sh", str(SCRIPT), action, *args], env=env, capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def app(tmp_path: Path) -> Path:
    """A stand-in executable in a folder whose name needs quoting in a desktop entry."""
    folder = tmp_path / "my apps" / "data$elan"
    folder.mkdir(parents=True)
    program = folder / "dataelan"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    return program


def exec_line(entry: Path) -> str:
    return next(line for line in entry.read_text().splitlines() if line.startswith("Exec="))


def test_install_then_uninstall(tmp_path: Path, app: Path):
    data = tmp_path / "share"
    installed = integrate("install", data, str(app))
    assert installed.returncode == 0, installed.stderr
    entry = data / "applications" / f"{APP_ID}.desktop"
    # the path quoted, with $ escaped, and the line run through the string escaping of the format
    assert exec_line(entry) == f'Exec="{app.parent.parent}/data\\\\$elan/dataelan" %u'
    assert f"TryExec={app}" in entry.read_text()
    assert "MimeType=application/x-gguf;x-scheme-handler/dataelan;" in entry.read_text()
    for size in SIZES:
        assert (data / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png").is_file()
    assert (data / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg").is_file()
    assert (data / "mime" / "packages" / f"{APP_ID}.xml").is_file()
    assert (data / "metainfo" / f"{APP_ID}.metainfo.xml").is_file()
    if shutil.which("desktop-file-validate"):
        checked = subprocess.run(["desktop-file-validate", str(entry)], capture_output=True, text=True)
        assert checked.returncode == 0 and "error" not in checked.stdout, checked.stdout
    if shutil.which("update-mime-database"):  # the desktop's own database now knows .gguf files
        assert "application/x-gguf:*.gguf" in (data / "mime" / "globs2").read_text()
    if shutil.which("update-desktop-database"):  # and which app opens them and dataelan:// links
        cache = (data / "applications" / "mimeinfo.cache").read_text()
        assert f"x-scheme-handler/dataelan={APP_ID}.desktop;" in cache
        assert f"application/x-gguf={APP_ID}.desktop;" in cache

    removed = integrate("uninstall", data)
    assert removed.returncode == 0, removed.stderr
    left = [p for p in data.rglob("*") if APP_ID in p.name]
    assert left == []
    if shutil.which("update-desktop-database"):
        assert "dataelan" not in (data / "applications" / "mimeinfo.cache").read_text()


def test_install_refuses_what_it_cannot_run(tmp_path: Path):
    data = tmp_path / "share"
    relative = integrate("install", data, "bin/dataelan")
    assert relative.returncode == 2 and "absolute path" in relative.stderr
    missing = integrate("install", data, str(tmp_path / "nothing" / "dataelan"))
    assert missing.returncode == 1 and "build it first" in missing.stderr
    assert not (data / "applications").exists()


def test_icons_are_square_pngs_of_every_size():
    from PySide6.QtGui import QImage

    for size in SIZES:
        image = QImage(
            str(REPO / "resources" / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png")
        )
        assert (image.width(), image.height()) == (size, size)
        assert image.hasAlphaChannel()


def test_the_window_icon_comes_from_the_same_pngs(qapp):
    from dataelan_desktop.app import _app_icon

    assert sorted(s.width() for s in _app_icon().availableSizes()) == [16, 24, 32, 48, 64]
