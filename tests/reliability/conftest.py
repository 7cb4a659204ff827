"""Counts what the reliability suite tried, printed as one summary line at the end of the run."""

from __future__ import annotations

from tests.reliability.tally import TALLY


def pytest_terminal_summary(terminalreporter):
    if TALLY:
        terminalreporter.write_line(
            f"reliability: {TALLY['crashes']} crashes survived, {TALLY['faults']} faults injected, "
            f"{TALLY['bad_inputs']} bad inputs tried, {TALLY['lost']} messages lost"
        )
