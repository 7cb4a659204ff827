"""Counts what the reliability suite tried, printed as one summary line at the end of the run; every
test's data folder is scanned for planted keys when it ends."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.tally import PLANTED, TALLY, scan_for_keys, summary


@pytest.fixture(autouse=True)
def _no_planted_key_in_data_folder(data_home: Path):
    yield
    if PLANTED:
        assert scan_for_keys(data_home) == []


def pytest_terminal_summary(terminalreporter):
    if TALLY:
        terminalreporter.write_line(summary())
