"""`make package`: build dist/dataelan (PyInstaller, one folder) and dist/dataelan-VERSION-linux-ARCH.tar.gz.

Steps: PyInstaller with its work folder kept in build/pyinstaller (unchanged inputs rebuild from its
cache); the desktop files copied into the bundle's share/ with an install-desktop.sh beside the
executable; the desktop entry and the AppStream metainfo validated where the validators are
installed; the folder archived; its size and what takes the most space printed.

The archive is a tar.gz, not an AppImage: an AppImage needs the AppImage runtime (appimagetool),
which none of the package registries this project builds from (PyPI, Debian, npm) ships; the
packages there that make AppImages download it at build time.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGING = ROOT / "packaging"
ICONS = ROOT / "resources" / "icons"
DIST = ROOT / "dist"
BUNDLE = DIST / "dataelan"
WORK = ROOT / "build" / "pyinstaller"
APP_ID = "io.dataelan.Desktop"


def version() -> str:
    sys.path.insert(0, str(ROOT))
    from dataelan_desktop import __version__

    return __version__


def pyinstaller() -> None:
    subprocess.run(
        [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
         "--workpath", str(WORK), "--distpath", str(DIST), str(PACKAGING / "dataelan.spec")],
        cwd=ROOT,
        check=True,
    )  # fmt: skip


def _soname_first(path: Path) -> tuple[bool, int]:
    """Sort key: libX.so.N (the soname) before libX.so.N.M.P before libX.so."""
    suffix = path.name.split(".so", 1)[1]
    return suffix == "", suffix.count(".")


def _has_debug_info(readelf: str, path: Path) -> bool:
    sections = subprocess.run([readelf, "-S", "-W", str(path)], capture_output=True, text=True).stdout
    return " .debug_info " in sections


def slim() -> list[str]:
    """Make the bundle smaller without changing what runs; returns what was done.

    llama-cpp-python's wheel holds each library three times (libllama.so, .so.0, .so.0.5.0: a wheel
    cannot hold symbolic links); one file and two links to it do. Some binaries (Python's own, built
    with -g) carry debug sections that nobody reads in an installed app.
    """
    notes = []
    lib = BUNDLE / "_internal" / "llama_cpp" / "lib"
    saved = 0
    by_content: dict[tuple[int, str], list[Path]] = {}
    for path in sorted(p for p in lib.glob("*.so*") if p.is_file() and not p.is_symlink()):
        by_content.setdefault(
            (path.stat().st_size, hashlib.sha256(path.read_bytes()).hexdigest()), []
        ).append(path)
    for copies in by_content.values():
        if len(copies) < 2:
            continue
        keep = min(copies, key=_soname_first)  # the name the loader asks for; the others link to it
        for other in copies:
            if other != keep:
                saved += other.stat().st_size
                other.unlink()
                other.symlink_to(keep.name)
    notes.append(f"llama.cpp libraries de-duplicated: {mb(saved)} saved")
    strip, readelf = shutil.which("strip"), shutil.which("readelf")
    if strip is None or readelf is None:
        return [*notes, "strip/readelf not found (binutils): debug sections kept"]
    saved, stripped = 0, []
    for path in (BUNDLE / "_internal").rglob("*.so*"):
        # only files that carry debug sections: rewriting others can break them (auditwheel's
        # patched libraries, such as numpy's OpenBLAS, stop loading)
        if path.is_symlink() or not path.is_file() or not _has_debug_info(readelf, path):
            continue
        before = path.stat().st_size
        subprocess.run([strip, "--strip-debug", str(path)], check=True)
        saved += before - path.stat().st_size
        stripped.append(path.name)
    notes.append(f"debug sections stripped from {len(stripped)} libraries: {mb(saved)} saved")
    return notes


def add_desktop_files() -> None:
    """share/ as a desktop expects it, plus the script that installs it for the user."""
    share = BUNDLE / "share"
    if share.exists():
        shutil.rmtree(share)
    copies = {
        PACKAGING / f"{APP_ID}.desktop": share / "applications" / f"{APP_ID}.desktop",
        PACKAGING / f"{APP_ID}.metainfo.xml": share / "metainfo" / f"{APP_ID}.metainfo.xml",
        PACKAGING / f"{APP_ID}.mime.xml": share / "mime" / "packages" / f"{APP_ID}.xml",
        ICONS / f"{APP_ID}.svg": share / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg",
    }
    for png in sorted((ICONS / "hicolor").glob(f"*/apps/{APP_ID}.png")):
        copies[png] = share / "icons" / "hicolor" / png.relative_to(ICONS / "hicolor")
    for source, target in copies.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    script = BUNDLE / "install-desktop.sh"
    shutil.copy2(PACKAGING / "desktop-integration.sh", script)
    script.chmod(0o755)


def validate() -> list[str]:
    """Run the validators that are installed; returns a line per check. Fails the build on errors."""
    checks = []
    desktop = BUNDLE / "share" / "applications" / f"{APP_ID}.desktop"
    metainfo = BUNDLE / "share" / "metainfo" / f"{APP_ID}.metainfo.xml"
    for tool, args, package in (
        ("desktop-file-validate", [str(desktop)], "desktop-file-utils"),
        ("appstreamcli", ["validate", "--no-net", "--strict", str(metainfo)], "appstream"),
    ):
        if shutil.which(tool) is None:
            checks.append(f"{tool}: not installed (Debian package {package}), not checked")
            continue
        result = subprocess.run([tool, *args], capture_output=True, text=True)
        output = (result.stdout + result.stderr).strip()
        if result.returncode != 0 or (tool == "desktop-file-validate" and "error" in output):
            sys.exit(f"{tool} rejected {args[-1]}:\n{output}")
        checks.append(f"{tool}: valid")
    return checks


def archive(name: str) -> Path:
    target = DIST / f"{name}.tar.gz"
    partial = target.with_suffix(".partial")
    with tarfile.open(partial, "w:gz", compresslevel=6) as tar:
        tar.add(BUNDLE, arcname="dataelan")
    partial.replace(target)
    return target


def du(path: Path) -> int:
    if path.is_symlink() or path.is_file():
        return path.lstat().st_size
    return sum(f.lstat().st_size for f in path.rglob("*") if f.is_file() or f.is_symlink())


def largest(limit: int = 15) -> list[tuple[int, str]]:
    """The bundle's biggest entries: its top level and the entries of _internal/."""
    entries = [p for p in BUNDLE.iterdir() if p.name != "_internal"]
    internal = BUNDLE / "_internal"
    if internal.is_dir():
        entries += list(internal.iterdir())
    sized = sorted(((du(p), str(p.relative_to(BUNDLE))) for p in entries), reverse=True)
    return sized[:limit]


def mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def main() -> int:
    began = time.monotonic()
    pyinstaller()
    built = time.monotonic()
    notes = slim()
    add_desktop_files()
    checks = validate()
    name = f"dataelan-{version()}-linux-{platform.machine()}"
    tarball = archive(name)
    done = time.monotonic()
    print(f"\nbundle: {BUNDLE.relative_to(ROOT)} ({mb(du(BUNDLE))}), archive: {tarball.relative_to(ROOT)} "
          f"({mb(tarball.stat().st_size)})")  # fmt: skip
    print(f"time: PyInstaller {built - began:.0f} s, the rest {done - built:.0f} s")
    for line in notes + checks:
        print(line)
    print("largest entries:")
    for size, entry in largest():
        print(f"  {mb(size):>10}  {entry}")
    return 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
