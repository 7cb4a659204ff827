"""`dataelan FILE.gguf` and `dataelan dataelan://…`: what the window is asked to open.

The desktop entry passes a file manager's .gguf file or a clicked ``dataelan://`` link as the only
argument (``Exec=dataelan %u``). Links:

    dataelan://open/CONVERSATION_ID      show that conversation
    dataelan://import?path=FILE          import a Dataelan JSON or ChatGPT export (path percent-encoded)
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from .common import CliError

SCHEME = "dataelan"
FORMS = f"{SCHEME}://open/CONVERSATION_ID or {SCHEME}://import?path=FILE"


@dataclass(frozen=True)
class OpenRequest:
    kind: str  # "model", "conversation" or "import"
    target: str  # an absolute file path, or a conversation id


def open_request(argv: list[str]) -> OpenRequest | None:
    """What a lone file or link argument asks the window to open; None when argv is a command.

    A link that cannot be opened or a model file that is not there raises :class:`CliError`
    (one line, exit status 2) before any window appears.
    """
    if len(argv) != 1 or argv[0].startswith("-"):
        return None
    arg = argv[0]
    scheme = urlsplit(arg).scheme.lower()
    if scheme == SCHEME:
        return _from_link(arg)
    if scheme == "file":  # a desktop may hand %u a file: URL instead of a path
        path = Path(unquote(urlsplit(arg).path))
        if path.suffix.lower() != ".gguf":
            raise CliError(
                f"{arg}: Dataelan opens .gguf model files; use `dataelan import` for others", code=2
            )
    elif arg.lower().endswith(".gguf"):
        path = Path(arg).expanduser()
    else:
        return None
    if not path.is_file():
        raise CliError(f"{arg}: no such model file", code=2)
    return OpenRequest("model", str(path.resolve()))


def _from_link(link: str) -> OpenRequest:
    parts = urlsplit(link)
    action = parts.netloc.lower()
    if action == "open":
        try:
            conversation_id = str(uuid.UUID(parts.path.strip("/")))
        except ValueError:
            raise CliError(f"{link}: not a conversation id; expected {FORMS}", code=2) from None
        return OpenRequest("conversation", conversation_id)
    if action == "import":
        found = parse_qs(parts.query).get("path", [""])[0]
        if not found:
            raise CliError(f"{link}: the link names no file; expected {FORMS}", code=2)
        path = Path(found).expanduser()
        if not path.is_file():
            raise CliError(f"{link}: there is no file {path} to import", code=2)
        return OpenRequest("import", str(path.resolve()))
    raise CliError(f"{link}: not a Dataelan link; expected {FORMS}", code=2)
