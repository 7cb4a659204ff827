"""Imports: the app's own JSON and ChatGPT data exports (``conversations.json`` or its .zip).

All or nothing: the whole file is read within size and nesting limits and checked against
its format, field by field, into typed values (``parsed.py``) before anything is written;
the first problem is refused in one line that says where it is. Then the owner of the
conversation tables, ``ChatStore.import_conversations``, writes everything in one
transaction. Imported conversations get fresh ids and remember where they came from, so
importing the same file twice is detected.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import re
import zipfile
from pathlib import Path
from typing import Any

from ..chat.attachments import MAX_IMAGE_BYTES, image_type, store_image
from ..chat.store import ChatStore
from .fields import MAX_DEPTH, Reader, kind_of, one_line
from .parsed import (
    Attachment,
    ImportFormatError,
    ImportResult,
    ParsedConversation,
    ParsedImport,
    ParsedMessage,
    ParsedProject,
)

MAX_IMPORT_BYTES = 512 * 1024 * 1024
#: what a zip may expand to (its own listing is not trusted: reading stops here)
MAX_UNZIPPED_BYTES = 512 * 1024 * 1024
ROLES = ("user", "assistant", "system", "tool")
STATUSES = ("complete", "streaming", "stopped", "interrupted", "failed")

__all__ = [
    "ImportFormatError",
    "ImportResult",
    "import_file",
    "parse_chatgpt",
    "parse_dataelan",
    "read_import",
]


def _label(index: int, title: Any) -> str:
    return (
        f"conversation {index} ({one_line(title, 40)!r})"
        if isinstance(title, str) and title
        else f"conversation {index}"
    )


def _check_tree(reader: Reader, where: str, messages: list[ParsedMessage]) -> None:
    """Unique ids, parents that exist, no cycles: linear in the number of messages, however deep."""
    parents: dict[str, str | None] = {}
    for m in messages:
        if m.source_id in parents:
            raise reader.fail(where, f"two messages share the id {one_line(m.source_id, 40)!r}")
        parents[m.source_id] = m.parent_source_id
    for m in messages:
        if m.parent_source_id is not None and m.parent_source_id not in parents:
            raise reader.fail(
                where, f"the parent {one_line(m.parent_source_id, 40)!r} of a message does not exist"
            )
    _depths(reader, where, parents)


def _depths(reader: Reader, where: str, parents: dict[str, str | None]) -> dict[str, int]:
    """Each node's depth; a cycle is refused (each node is walked once)."""
    depth: dict[str, int] = {}
    for start in parents:
        chain, node, on_chain = [], start, set()
        while node is not None and node not in depth:
            if node in on_chain:
                raise reader.fail(where, f"the messages form a cycle (at {one_line(node, 40)!r})")
            on_chain.add(node)
            chain.append(node)
            node = parents.get(node)
        base = depth[node] if node is not None else -1
        for n in reversed(chain):
            base += 1
            depth[n] = base
    return depth


def _depth_within(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if level > limit:
            return False
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
    return True


# --- ChatGPT ---------------------------------------------------------------------------


class ExportFiles:
    """The files beside ``conversations.json`` in a ChatGPT export (the zip, or the folder it was
    unpacked to): the images its messages point at, found by the id in their asset pointer."""

    ID = re.compile(r"[A-Za-z0-9_-]{4,200}")

    def __init__(self, path: Path | None = None, zipped: bool = False):
        self.path, self.zipped = path, zipped

    def find(self, pointer: str) -> tuple[str, bytes] | None:
        """(file name, bytes) for ``file-service://file-AbC…`` or ``sediment://file_00…``, or None."""
        asset_id = pointer.rsplit("://", 1)[-1].rsplit("/", 1)[-1]
        if self.path is None or not self.ID.fullmatch(asset_id):
            return None
        try:
            if self.zipped:
                with zipfile.ZipFile(self.path) as archive:
                    for info in archive.infolist():
                        name = info.filename.rsplit("/", 1)[-1]
                        if name.startswith(asset_id) and not name.endswith(".json"):
                            if info.file_size > MAX_IMAGE_BYTES:
                                return None
                            return name, _read_member(archive, info.filename, name, MAX_IMAGE_BYTES)
                return None
            folder = self.path.parent
            for found in sorted([*folder.glob(asset_id + "*"), *folder.glob(f"*/{asset_id}*")]):
                if found.is_file() and found.suffix != ".json" and found.stat().st_size <= MAX_IMAGE_BYTES:
                    return found.name, found.read_bytes()
        except (OSError, zipfile.BadZipFile, ImportFormatError):
            return None  # counted as an image that could not be kept
        return None


@dataclasses.dataclass
class _Content:
    """What one ChatGPT message holds: its text, the images found, the images pointed at but missing."""

    text: str | None
    images: list[Attachment] = dataclasses.field(default_factory=list)
    missing: int = 0


def _chatgpt_image(part: dict[str, Any], files: ExportFiles, found: _Content) -> None:
    pointer = part.get("asset_pointer")
    asset = files.find(pointer) if isinstance(pointer, str) else None
    kind = image_type(asset[1]) if asset else None
    if asset is None or kind is None:
        found.missing += 1
        return
    found.images.append(Attachment(asset[0], kind="image", mime=kind[0], data=asset[1]))


def _chatgpt_content(reader: Reader, message: dict[str, Any], where: str, files: ExportFiles) -> _Content:
    content = message.get("content")
    if content is None:
        return _Content(None)
    content = reader.obj(content, where, "'content'")
    kind = content.get("content_type")
    if kind in ("text", "multimodal_text"):
        found = _Content("")
        texts = []
        parts = content.get("parts")
        for part in [] if parts is None else reader.array(parts, where, "'content.parts'"):
            if isinstance(part, str):
                texts.append(reader.clean(part))
            elif isinstance(part, dict):  # images (kept as files) and other objects: their text, if any
                if part.get("content_type") == "image_asset_pointer":
                    _chatgpt_image(part, files, found)
                text = part.get("text")
                if isinstance(text, str):
                    texts.append(reader.clean(text))
            elif part is not None:
                raise reader.fail(
                    where, f"a part of 'content.parts' is {kind_of(part)}, not text or an object"
                )
        found.text = "".join(texts)
        return found
    if kind == "code":
        return _Content(f"```\n{reader.text(content, 'text', where, default='')}\n```")
    # what tools return: a quote, a page, program output, an error
    for key in ("text", "result"):
        value = content.get(key)
        if isinstance(value, str):
            return _Content(reader.clean(value))
    return _Content(None)  # thoughts, reasoning recaps…: not part of the conversation as shown


def parse_chatgpt(data: Any, source: str, files: ExportFiles | None = None) -> ParsedImport:
    reader = Reader(source)
    files = files or ExportFiles()
    missing_images = 0
    if not isinstance(data, list):
        raise reader.fail(
            "", f"the file holds {kind_of(data)}, not a list of conversations (ChatGPT's conversations.json)"
        )
    conversations = []
    for index, raw in enumerate(data, 1):
        where = _label(index, raw.get("title") if isinstance(raw, dict) else None)
        raw = reader.obj(raw, where, "the conversation")
        mapping = raw.get("mapping")
        if not isinstance(mapping, dict):
            raise reader.fail(where, "it has no 'mapping' of messages")
        nodes: dict[str, dict[str, Any]] = {}
        parents: dict[str, str | None] = {}
        for key, node in mapping.items():
            node = reader.obj(node, where, f"node {one_line(key, 40)!r}")
            node_id = node.get("id", key)
            if not isinstance(node_id, str):
                raise reader.fail(
                    where, f"node {one_line(key, 40)!r} has an id that is {kind_of(node_id)}, not text"
                )
            parent = node.get("parent")
            if parent is not None and not isinstance(parent, str):
                raise reader.fail(
                    where, f"node {one_line(node_id, 40)!r} has a parent that is {kind_of(parent)}, not text"
                )
            if node_id in nodes:
                raise reader.fail(where, f"two nodes share the id {one_line(node_id, 40)!r}")
            nodes[node_id], parents[node_id] = node, parent
        for node_id, parent in parents.items():
            if parent is not None and parent not in nodes:
                raise reader.fail(
                    where,
                    f"message {one_line(node_id, 40)!r} has a parent {one_line(parent, 40)!r} that does not exist",
                )
        depth = _depths(reader, where, parents)
        # keep the messages and tool steps; hidden/system/empty nodes are skipped and their
        # children attached to the nearest kept ancestor, so the tree stays whole
        kept: dict[str, ParsedMessage] = {}
        for node_id in sorted(nodes, key=depth.__getitem__):  # parents before children
            message = nodes[node_id].get("message")
            if message is None:
                continue
            at = f"{where}, message {one_line(node_id, 40)!r}"
            message = reader.obj(message, at, "'message'")
            author = message.get("author")
            author = {} if author is None else reader.obj(author, at, "'author'")
            role = reader.text(author, "role", at)
            metadata = message.get("metadata")
            metadata = {} if metadata is None else reader.obj(metadata, at, "'metadata'")
            found = _chatgpt_content(reader, message, at, files)
            hidden = metadata.get("is_visually_hidden_from_conversation") is True
            if hidden:
                continue
            missing_images += found.missing
            tool_step = _chatgpt_tool_step(
                reader, message, role, node_id, at, parents, kept, bool(found.images)
            )
            if tool_step is not None:  # a call to one of ChatGPT's tools, or what a tool returned
                kept[node_id] = dataclasses.replace(tool_step, attachments=tuple(found.images))
                continue
            text = found.text or ""
            if found.missing:  # said where it was, not dropped silently
                text = (text + "\n\n" if text else "") + f"*({found.missing} image(s) not in the export)*"
            if role not in ("user", "assistant") or (not text and not found.images):
                continue
            slug = reader.text(metadata, "model_slug", at)
            kept[node_id] = ParsedMessage(
                source_id=node_id,
                parent_source_id=_kept_ancestor(parents[node_id], kept, parents),
                role=role,
                content=text,
                model=f"openai:{slug}" if role == "assistant" and slug else None,
                created_at=reader.timestamp(message, "create_time", at),
                attachments=tuple(found.images),
            )
        current = reader.text(raw, "current_node", where)
        leaf = _kept_ancestor(current, kept, parents) if current in nodes else None
        conversation_id = raw.get("id") or raw.get("conversation_id") or index
        if not isinstance(conversation_id, str | int) or isinstance(conversation_id, bool):
            raise reader.fail(where, f"'id' is {kind_of(conversation_id)}, not text")
        conversations.append(
            ParsedConversation(
                source_id=f"chatgpt:{conversation_id}",
                title=(reader.text(raw, "title", where) or "Imported conversation")[:300],
                messages=tuple(kept.values()),
                current_leaf_source_id=leaf,
                created_at=reader.timestamp(raw, "create_time", where),
            )
        )
    return ParsedImport("chatgpt", tuple(conversations), None, reader.repaired, missing_images)


def _chatgpt_tool_step(
    reader: Reader, message: dict[str, Any], role: str | None, node_id: str, at: str,
    parents: dict[str, str | None], kept: dict[str, ParsedMessage], has_images: bool = False,
) -> ParsedMessage | None:  # fmt: skip
    """ChatGPT's tool nodes as the app's tool messages: an assistant message addressed to a tool
    (``recipient`` "python", "browser"...) is a turn with one call; the ``tool`` node right after it
    is that call's result. Tool output with no call before it (a browsing quote, a picture a tool
    made) is kept too, as a result answering no call: shown as a block, never sent to a provider."""
    content = message.get("content")
    content = content if isinstance(content, dict) else {}
    raw = content.get("text")
    if not isinstance(raw, str):
        raw = content.get("result")  # a browsing display
    if not isinstance(raw, str):
        parts = content.get("parts")
        raw = "".join(p for p in parts if isinstance(p, str)) if isinstance(parts, list) else ""
    raw = reader.clean(raw)
    parent = _kept_ancestor(parents[node_id], kept, parents)
    recipient = message.get("recipient")
    if role == "assistant" and isinstance(recipient, str) and recipient not in ("", "all") and raw:
        call = {"id": node_id, "name": recipient, "arguments": json.dumps({"input": raw}, ensure_ascii=False)}
        return ParsedMessage(node_id, parent, "assistant", "", created_at=reader.timestamp(message, "create_time", at),
                             tool={"calls": [call]})  # fmt: skip
    calls = (
        (kept[parent].tool or {}).get("calls")
        if parent in kept and kept[parent].role == "assistant"
        else None
    )
    if role == "tool" and calls:
        author = message.get("author") if isinstance(message.get("author"), dict) else {}
        name = author.get("name") if isinstance(author.get("name"), str) else calls[0]["name"]
        tool = {"call_id": calls[0]["id"], "name": name, "source": "chatgpt", "is_error": False}
        return ParsedMessage(node_id, parent, "tool", raw, created_at=reader.timestamp(message, "create_time", at),
                             tool=tool)  # fmt: skip
    if role == "tool" and (raw or has_images):
        author = message.get("author") if isinstance(message.get("author"), dict) else {}
        name = author.get("name") if isinstance(author.get("name"), str) else "tool"
        tool = {"name": name, "source": "chatgpt", "is_error": False}
        return ParsedMessage(node_id, parent, "tool", raw, created_at=reader.timestamp(message, "create_time", at),
                             tool=tool)  # fmt: skip
    return None


def _kept_ancestor(
    node_id: str | None, kept: dict[str, ParsedMessage], parents: dict[str, str | None]
) -> str | None:
    """The nearest ancestor that was kept as a message (cycles were refused already)."""
    while node_id is not None and node_id not in kept:
        node_id = parents.get(node_id)
    return node_id


# --- the app's own JSON ----------------------------------------------------------------


def _attachments(reader: Reader, raw: dict[str, Any], where: str) -> tuple[Attachment, ...]:
    value = raw.get("attachments")
    if value is None:
        return ()
    found = []
    for item in reader.array(value, where, "'attachments'"):
        item = reader.obj(item, where, "an attachment")
        if not _depth_within(item, MAX_DEPTH):
            raise reader.fail(where, f"an attachment nests more than {MAX_DEPTH} levels deep")
        name = reader.required_text(item, "name", where)
        if item.get("kind") == "image":  # exported with its bytes, so the export stands alone
            data = _image_data(reader, item, where)
            if data is not None:
                found.append(Attachment(name, kind="image", mime=image_type(data)[0], data=data))
            continue
        found.append(Attachment(name, reader.text(item, "text", where, default="")))
    return tuple(found)


def _tool(reader: Reader, raw: dict[str, Any], where: str) -> dict[str, Any] | None:
    """A message's tool calls or tool result (an object of plain values), if it has any."""
    value = raw.get("tool")
    if value is None:
        return None
    value = reader.obj(value, where, "'tool'")
    if not _depth_within(value, MAX_DEPTH):
        raise reader.fail(where, f"'tool' nests more than {MAX_DEPTH} levels deep")
    calls = value.get("calls")
    if calls is not None:
        for call in reader.array(calls, where, "'tool.calls'"):
            call = reader.obj(call, where, "a tool call")
            reader.required_text(call, "id", where)
            reader.required_text(call, "name", where)
    return value


def _image_data(reader: Reader, item: dict[str, Any], where: str) -> bytes | None:
    encoded = reader.text(item, "data", where)
    if encoded is None:
        return None  # exported without its file (it was missing then): nothing to show
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise reader.fail(where, "an image's 'data' is not base64") from exc
    if image_type(data) is None:
        raise reader.fail(where, "an image's 'data' is not a PNG, JPEG, GIF or WebP image")
    return data


def parse_dataelan(data: dict[str, Any], source: str) -> ParsedImport:
    reader = Reader(source)
    version = data.get("version")
    if version != 1 or isinstance(version, bool):
        raise reader.fail("", f"unsupported Dataelan export version {one_line(repr(version), 20)}")
    raw_conversations = reader.array(data.get("conversations"), "", "'conversations'")
    conversations = []
    for index, raw in enumerate(raw_conversations, 1):
        where = _label(index, raw.get("title") if isinstance(raw, dict) else None)
        raw = reader.obj(raw, where, "the conversation")
        if not isinstance(raw.get("messages"), list):
            raise reader.fail(where, "it has no list of messages")
        messages = []
        for position, m in enumerate(raw["messages"], 1):
            at = f"{where}, message {position}"
            m = reader.obj(m, at, "the message")
            message_id = m.get("id")
            if not isinstance(message_id, str) or not message_id:
                raise reader.fail(at, "it has no id")
            at = f"{where}, message {one_line(message_id, 40)!r}"
            role = reader.choice(m, "role", at, ROLES, "")
            if not role:
                raise reader.fail(at, "'role' is missing")
            status = reader.choice(m, "status", at, STATUSES, "complete")
            messages.append(
                ParsedMessage(
                    source_id=message_id,
                    parent_source_id=reader.text(m, "parent_id", at),
                    role=role,
                    content=reader.text(m, "content", at, default="") or "",
                    model=reader.text(m, "model", at),
                    status="interrupted" if status == "streaming" else status,
                    created_at=reader.timestamp(m, "created_at", at),
                    error=reader.text(m, "error", at),
                    stop_reason=reader.text(m, "stop_reason", at),
                    input_tokens=reader.integer(m, "input_tokens", at),
                    output_tokens=reader.integer(m, "output_tokens", at),
                    ttft_ms=reader.number(m, "ttft_ms", at),
                    duration_ms=reader.number(m, "duration_ms", at),
                    attachments=_attachments(reader, m, at),
                    tool=_tool(reader, m, at),
                )
            )
        _check_tree(reader, where, messages)
        leaf = reader.text(raw, "current_leaf_id", where)
        if leaf is not None and leaf not in {m.source_id for m in messages}:
            raise reader.fail(where, f"'current_leaf_id' {one_line(leaf, 40)!r} is not one of its messages")
        conversation_id = raw.get("id") or index
        if not isinstance(conversation_id, str | int) or isinstance(conversation_id, bool):
            raise reader.fail(where, f"'id' is {kind_of(conversation_id)}, not text")
        conversations.append(
            ParsedConversation(
                source_id=f"dataelan:{conversation_id}",
                title=(reader.text(raw, "title", where) or "Imported conversation")[:300],
                messages=tuple(messages),
                current_leaf_source_id=leaf,
                created_at=reader.timestamp(raw, "created_at", where),
                system_prompt=reader.text(raw, "system_prompt", where),
                model=reader.text(raw, "model", where),
            )
        )
    project = None
    if data.get("project") is not None:
        raw_project = reader.obj(data["project"], "the project", "'project'")
        name = (reader.text(raw_project, "name", "the project") or "").strip()
        if name:
            project = ParsedProject(
                name[:200],
                reader.text(raw_project, "instructions", "the project"),
                reader.text(raw_project, "default_model", "the project"),
            )
    return ParsedImport("dataelan", tuple(conversations), project, reader.repaired)


# --- reading and writing ---------------------------------------------------------------


def _read_member(archive: zipfile.ZipFile, name: str, source: str, limit: int = MAX_UNZIPPED_BYTES) -> bytes:
    """A zip member, read in pieces up to the limit: its declared size may lie."""
    chunks, total = [], 0
    with archive.open(name) as member:
        while chunk := member.read(1 << 20):
            total += len(chunk)
            if total > limit:
                raise ImportFormatError(
                    f"{source} expands to more than {limit // (1 << 20)} MB; it is not imported."
                )
            chunks.append(chunk)
    return b"".join(chunks)


def _load(path: Path) -> tuple[Any, str, ExportFiles]:
    name = one_line(path.name, 80)
    if not path.exists():
        raise ImportFormatError(f"{one_line(str(path), 200)} does not exist.")
    if path.is_dir():
        raise ImportFormatError(
            f"{name} is a folder; give the export file (conversations.json, .zip or .json)."
        )
    if path.stat().st_size > MAX_IMPORT_BYTES:
        raise ImportFormatError(f"{name} is larger than {MAX_IMPORT_BYTES // (1 << 20)} MB.")
    try:
        with open(path, "rb") as fh:
            looks_zipped = fh.read(4) == b"PK\x03\x04"
        if looks_zipped or zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                names = [n for n in archive.namelist() if n.rsplit("/", 1)[-1] == "conversations.json"]
                if not names:
                    raise ImportFormatError(
                        f"{name} is a zip without a conversations.json (not a ChatGPT export)."
                    )
                source = f"{name}/{one_line(names[0], 80)}"
                raw = _read_member(archive, names[0], source)
            files = ExportFiles(path, zipped=True)
        else:
            raw, source = path.read_bytes(), name
            files = ExportFiles(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as exc:
        raise ImportFormatError(
            f"{name} is a damaged or unsupported zip file ({one_line(str(exc), 80)})."
        ) from exc
    except OSError as exc:
        raise ImportFormatError(f"{name} cannot be read ({exc.strerror or exc}).") from exc
    try:
        return json.loads(raw.decode("utf-8-sig")), source, files
    except UnicodeDecodeError as exc:
        raise ImportFormatError(f"{source} is not UTF-8 text (byte {exc.start:,}).") from exc
    except json.JSONDecodeError as exc:
        raise ImportFormatError(
            f"{source} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})."
        ) from exc
    except RecursionError as exc:
        raise ImportFormatError(f"{source} nests its JSON too deeply to be an export.") from exc


def read_import(path: Path | str) -> ParsedImport:
    """Read and check a whole import file; nothing is written. Raises :class:`ImportFormatError`."""
    path = Path(path).expanduser()
    data, source, files = _load(path)
    try:
        if isinstance(data, dict) and data.get("format") == "dataelan":
            return parse_dataelan(data, source)
        if isinstance(data, list):
            return parse_chatgpt(data, source, files)
    except RecursionError as exc:  # a value we walk into that nests absurdly deep
        raise ImportFormatError(f"{source} nests its JSON too deeply to be an export.") from exc
    raise ImportFormatError(f"{source} is neither a Dataelan export nor a ChatGPT conversations.json.")


def _store_images(parsed: ParsedImport) -> ParsedImport:
    """Keep each image's bytes in the data folder; the messages then refer to the stored files."""

    def stored(a: Attachment) -> Attachment:
        if a.kind != "image" or a.data is None:
            return a
        return dataclasses.replace(a, data=None, file=store_image(a.data))

    def message(m: ParsedMessage) -> ParsedMessage:
        if not any(a.kind == "image" for a in m.attachments):
            return m
        return dataclasses.replace(m, attachments=tuple(stored(a) for a in m.attachments))

    conversations = tuple(
        dataclasses.replace(c, messages=tuple(message(m) for m in c.messages)) for c in parsed.conversations
    )
    return dataclasses.replace(parsed, conversations=conversations)


def import_file(store: ChatStore, path: Path | str) -> ImportResult:
    """Check the whole file, keep its images in the data folder, then hand it to the conversations'
    owner to write in one transaction (an image kept for an import that then fails is an unused
    file named by its hash, never a half-written conversation)."""
    return store.import_conversations(_store_images(read_import(path)))
