"""What the reliability tests tried; printed by this folder's conftest at the end of the run."""

from collections import Counter

TALLY: Counter = Counter()
