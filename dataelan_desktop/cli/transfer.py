"""`dataelan import`, `dataelan export` and `dataelan search`."""

from __future__ import annotations

from pathlib import Path

from ..core.paths import write_text_atomically
from ..core.search import MARK_END, MARK_START, search_messages
from ..core.transfer import export_conversation, export_project, import_file
from .common import fail, out, services


def register(sub) -> None:
    imp = sub.add_parser(
        "import", help="import a Dataelan JSON export or a ChatGPT export (conversations.json or .zip)"
    )
    imp.add_argument("path")
    imp.set_defaults(func=cmd_import)
    exp = sub.add_parser("export", help="export a conversation or a project as Markdown or JSON")
    exp.add_argument("conversation_id", nargs="?")
    exp.add_argument("--project", help="export a whole project instead")
    exp.add_argument("--format", choices=["md", "json"], default="md")
    exp.add_argument("-o", "--output", help="file to write (default: standard output)")
    exp.set_defaults(func=cmd_export)
    find = sub.add_parser("search", help="search every message")
    find.add_argument("query")
    find.add_argument("-n", "--limit", type=int, default=20)
    find.set_defaults(func=cmd_search)


def cmd_import(args) -> int:
    result = import_file(services().store, Path(args.path))
    out(
        f"imported {len(result.conversation_ids)} conversation(s), {result.message_count} message(s) ({result.format})"
    )
    if result.skipped_duplicates:
        out(f"skipped {result.skipped_duplicates} conversation(s) imported before")
    if result.repaired_characters:
        out(f"replaced {result.repaired_characters} broken character(s) (half an emoji) with �")
    if result.images_kept or result.tool_steps:
        out(f"kept {result.images_kept} image(s) (in the data folder) and {result.tool_steps} tool step(s)")
    if result.images_missing:
        out(f"could not keep {result.images_missing} image(s): the export does not hold their files")
    for conversation_id in result.conversation_ids:
        out(conversation_id)
    return 0


def cmd_export(args) -> int:
    s = services()
    if args.project:
        project = s.store.project_by_name(args.project)
        if project is None:
            fail(f"no project named {args.project}")
        text = export_project(s.store, project.id, args.format)
    elif args.conversation_id:
        text = export_conversation(s.store, args.conversation_id, args.format)
    else:
        fail("give a conversation id (see `dataelan history list`) or --project NAME")
    if args.output:
        try:
            write_text_atomically(args.output, text)
        except OSError as exc:
            fail(f"could not write {args.output}: {exc.strerror or exc}")
        out(f"wrote {args.output}")
    else:
        out(text, end="")
    return 0


def cmd_search(args) -> int:
    s = services()
    hits = search_messages(s.db, args.query, limit=args.limit)
    if not hits:
        out("no messages match")
    for hit in hits:
        snippet = hit.snippet.replace(MARK_START, "[").replace(MARK_END, "]").replace("\n", " ")
        title = hit.conversation_title[: 29 if hit.archived else 40] + (" (archived)" if hit.archived else "")
        out(f"{hit.conversation_id}  {title:<40}  {hit.role:<9} {snippet}")
    return 0
