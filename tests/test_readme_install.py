"""The README: the two set-up commands first, then Install (the download) as its first section and From
source second (issue 15)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_install_comes_first_and_from_source_second():
    text = README.read_text(encoding="utf-8")
    sections = re.findall(r"^## (.+)$", text, flags=re.M)
    assert sections[:2] == ["Install", "From source"], sections
    before_install = text.split("\n## Install\n", 1)[0]
    # the two commands that set up a fresh checkout open the README, and it points to the download
    assert "make run" in before_install and "make test" in before_install and "*Install*" in before_install
    from_source = text.split("\n## From source\n", 1)[1].split("\n## ", 1)[0]
    assert "make run" in from_source and "make test" in from_source
