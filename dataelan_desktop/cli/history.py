"""`dataelan history list|show`: the saved conversations."""

from __future__ import annotations

from ..core.db.tables import MessageStatus
from .common import out, services


def register(sub) -> None:
    p = sub.add_parser("history", help="list and show saved conversations")
    hsub = p.add_subparsers(dest="history_command", metavar="ACTION", required=True)
    ls = hsub.add_parser("list", help="recent conversations, newest first")
    ls.add_argument("-n", "--limit", type=int, default=30)
    ls.add_argument("--project", help="only this project")
    ls.set_defaults(func=cmd_list)
    show = hsub.add_parser("show", help="print a conversation's visible branch")
    show.add_argument("conversation_id")
    show.set_defaults(func=cmd_show)


def cmd_list(args) -> int:
    s = services()
    project_id = None
    if args.project:
        project = s.store.project_by_name(args.project)
        if project is None:
            from .common import fail

            fail(f"no project named {args.project}")
        project_id = project.id
    conversations = s.store.conversations(project_id, all_projects=project_id is None, limit=args.limit)
    if not conversations:
        out('no conversations yet: start one with `dataelan chat -m MODEL "hello"`')
    for c in conversations:
        out(f"{c.id}  {c.updated_at:%Y-%m-%d %H:%M}  {c.model or '-':<28} {c.title}")
    return 0


def cmd_show(args) -> int:
    s = services()
    conversation = s.store.conversation(args.conversation_id)
    out(f"# {conversation.title}")
    if conversation.system_prompt:
        out(f"\n[system] {conversation.system_prompt}")
    for m in s.store.visible_messages(conversation.id):
        label = m.role if m.role != "assistant" else f"assistant {m.model or ''}".strip()
        status = (
            "" if m.status == MessageStatus.COMPLETE else f" ({m.status}{': ' + m.error if m.error else ''})"
        )
        tool = m.tool or {}
        if m.role == "tool":  # which call this answers, and how it went
            label = f"tool {tool.get('name', '?')}" + (" (error)" if tool.get("is_error") else "")
            how = [str(tool[k]) for k in ("approved_by",) if tool.get(k)]
            if tool.get("duration_ms") is not None:
                how.append(f"{tool['duration_ms']:.0f} ms")
            status += f" ({', '.join(how)})" if how else ""
        calls = "".join(f"\n→ {c.get('name', '?')} {c.get('arguments', '')}" for c in tool.get("calls") or [])
        out(f"\n[{label}]{status}\n{m.content}{calls}")
    return 0
