"""Text a person typed, checked before any command acts on it.

Arguments that are not valid UTF-8 reach Python as lone surrogates (``\\udcff``) that SQLite
cannot store: a chat used to create its conversation and then fail with "surrogates not
allowed", leaving an empty row. Every text argument is checked once, up front, and standard
input is decoded strictly, each with a line that says which argument and where.
"""

from __future__ import annotations

import sys
from typing import Any

from .common import CliError

#: arguments that name files: any bytes the file system allows are fine there
PATH_ARGUMENTS = frozenset({"path", "folder", "prompts", "out", "output", "backup", "body_file"})


def check_text(value: str, what: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = value[exc.start]
        byte = (
            f"byte 0x{ord(bad) - 0xDC00:02x}"
            if 0xDC80 <= ord(bad) <= 0xDCFF
            else f"character U+{ord(bad):04X}"
        )
        raise CliError(
            f"{what} is not valid UTF-8 text ({byte} at position {exc.start}); nothing was saved"
        ) from None
    return value


def check_arguments(args: Any) -> None:
    """Every text argument of a parsed command line (file names excepted) is valid UTF-8."""
    for name, value in vars(args).items():
        if name in PATH_ARGUMENTS or name == "func":
            continue
        what = "the message" if name == "prompt" else f"--{name.replace('_', '-')}"
        if isinstance(value, str):
            check_text(value, what)
        elif isinstance(value, list | tuple):
            for item in value:
                if isinstance(item, str):
                    check_text(item, what)


def read_stdin() -> str:
    """Standard input as UTF-8 text, decoded strictly whatever the locale says."""
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:  # replaced by a text-only object (tests, embedding)
        return check_text(sys.stdin.read(), "standard input")
    data = stream.read()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CliError(
            f"standard input is not valid UTF-8 text (byte 0x{data[exc.start]:02x} at position {exc.start}); "
            "nothing was saved"
        ) from None
