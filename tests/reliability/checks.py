"""What "refused cleanly" means for a command, checked the same way everywhere."""

from __future__ import annotations

import subprocess


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one line a failed command printed; fails the test on a traceback, SQL, or several lines."""
    assert result.returncode != 0, f"expected a failure, got exit 0: {result.stdout!r}"
    lines = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("note: ")]
    assert "Traceback" not in result.stderr, result.stderr
    assert "[SQL" not in result.stderr and "sqlalche.me" not in result.stderr, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]
