"""`dataelan agents list|show|add|use|rm`, and `dataelan chat --agent/--tools`: an agent on the terminal,
each tool call shown and, unless its policy says always, asked for."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import signal
import sys
from typing import Any

from .common import fail, out, services

ANSWERS = "[y] allow once, [a] always allow this tool, [n] deny"


def register(sub) -> None:
    p = sub.add_parser("agents", help="saved agents: a model, instructions, tools, approvals and limits")
    commands = p.add_subparsers(dest="agents_command", metavar="ACTION")
    commands.add_parser("list", help="list the agents").set_defaults(func=cmd_list)
    show = commands.add_parser("show", help="show an agent")
    show.add_argument("name")
    show.set_defaults(func=cmd_show)
    add = commands.add_parser("add", help="add an agent")
    add.add_argument("name")
    add.add_argument("-m", "--model", help="its model (PROVIDER:ID); without, the conversation's")
    add.add_argument("-i", "--instructions", help="its instructions (added to the system prompt)")
    add.add_argument(
        "--tools", default="", help="calc,time,search,fetch,workflows,files:DIR,mcp:SERVER (comma-separated)"
    )
    add.add_argument("--allow", action="append", default=[], metavar="TOOL", help="never ask for this tool")
    add.add_argument("--ask", action="append", default=[], metavar="TOOL", help="always ask for this tool")
    add.add_argument("--deny", action="append", default=[], metavar="TOOL", help="never run this tool")
    _add_limit_options(add)
    add.set_defaults(func=cmd_add)
    use = commands.add_parser("use", help="let a project's conversations answer with an agent")
    use.add_argument("name", nargs="?", help="the agent (leave out with --none)")
    use.add_argument("--project", required=True, help="the project")
    use.add_argument("--none", action="store_true", help="the project answers with no agent again")
    use.set_defaults(func=cmd_use)
    rm = commands.add_parser("rm", help="remove an agent")
    rm.add_argument("name")
    rm.set_defaults(func=cmd_rm)
    p.set_defaults(func=lambda args: p.print_help() or 0)


def _add_limit_options(p) -> None:
    p.add_argument("--max-steps", type=int, help="tool steps before it stops (default 25)")
    p.add_argument("--max-cost", type=float, help="estimated dollars before it stops")
    p.add_argument("--tool-timeout", type=float, help="seconds a tool call may take (default 120)")
    p.add_argument("--total-time", type=float, help="seconds the whole run may take")
    p.add_argument("--max-result-chars", type=int, help="longer tool results are cut (default 50000)")


def _limits_given(args) -> dict[str, Any]:
    """The limits given as options (only those given), checked like an agent's."""
    from ..core.agents.store import check_profile

    limits = {
        "max_steps": args.max_steps, "max_cost": args.max_cost, "tool_timeout": args.tool_timeout,
        "total_seconds": args.total_time, "max_result_chars": args.max_result_chars,
    }  # fmt: skip
    given = {k: v for k, v in limits.items() if v is not None}
    check_profile(None, None, given)
    return given


def add_chat_options(p) -> None:
    """`dataelan chat`'s agent options (registered by cli/chat.py)."""
    p.add_argument("--agent", metavar="NAME", help="answer with this saved agent (its model, tools, limits)")
    p.add_argument(
        "--tools",
        metavar="LIST",
        help="let the model use tools: calc,time,search,fetch,workflows,files:DIR,mcp:SERVER",
    )
    p.add_argument("--yes", action="store_true", help="allow every tool call without asking")
    _add_limit_options(p)  # for this run: over the agent's own limits, or the defaults with --tools


def _split(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def _store():
    from ..core.agents.service import agent_store

    return agent_store(services())


def cmd_list(args) -> int:
    agents = _store().agents()
    if not agents:
        out("No agents yet. Add one: dataelan agents add NAME -m PROVIDER:MODEL --tools calc,time")
    for agent in agents:
        out(
            f"{agent.name}\t{agent.model or '(the conversation model)'}\t{', '.join(agent.tools) or 'no tools'}"
        )
    return 0


def cmd_show(args) -> int:
    from ..core.agents.loop import Limits

    agent = _store().agent(args.name)
    limits = {**Limits().__dict__, **agent.limits}
    out(f"name:         {agent.name}")
    out(f"id:           {agent.id}")
    out(f"model:        {agent.model or '(the conversation model)'}")
    out(f"tools:        {', '.join(agent.tools) or 'none'}")
    out(
        f"approvals:    {', '.join(f'{k}={v}' for k, v in sorted(agent.policies.items())) or 'defaults (read-only built-ins always, the rest ask)'}"
    )
    out(f"limits:       {', '.join(f'{k}={v}' for k, v in limits.items() if v is not None)}")
    if agent.instructions:
        out("instructions:")
        out(agent.instructions)
    return 0


def cmd_add(args) -> int:
    from ..core.agents.builtin import parse_tool_sets
    from ..core.connections.registry import parse_model_ref

    tools = _split(args.tools)
    parse_tool_sets(tools)  # an unknown tool or a missing folder: said before anything is saved
    policies = {
        **{t: "always" for t in args.allow},
        **{t: "ask" for t in args.ask},
        **{t: "deny" for t in args.deny},
    }
    model = str(parse_model_ref(args.model)) if args.model else None
    agent = _store().add(
        args.name, model=model, instructions=args.instructions, tools=tools, policies=policies,
        limits=_limits_given(args),
    )  # fmt: skip
    out(f"Added the agent '{agent.name}'.")
    return 0


def cmd_use(args) -> int:
    if bool(args.name) == args.none:
        fail("name the agent, or give --none to take the project's agent away")
    s = services()
    project = s.store.project_by_name(args.project)
    if project is None:
        fail(f"no project named '{args.project}'")
    agent = None if args.none else _store().agent(args.name)
    s.store.update_project(project.id, agent_id=agent.id if agent is not None else None)
    if agent is None:
        out(f"New conversations in '{project.name}' answer with no agent.")
    else:
        out(f"New conversations in '{project.name}' answer with the agent '{agent.name}'.")
    return 0


def cmd_rm(args) -> int:
    agent = _store().remove(args.name)
    out(f"Removed the agent '{agent.name}'.")
    return 0


# -- an agent answering on the terminal --------------------------------------------------------------


def prepare_agent_chat(s, args, agent) -> None:
    """The run's tool sources, checked before the message is saved: an unknown tool or a missing
    folder, and (asking needs a terminal) approvals without one and without --yes, are refused."""
    from ..core.agents.loop import ToolBox, would_ask
    from ..core.agents.service import sources_for

    async def gather():
        sources = await sources_for(s, agent, _split(args.tools))
        return sources, await ToolBox.gather(sources)

    given = _limits_given(args)  # a mistyped limit: said before anything is saved or started
    if given:
        from ..core.agents.loop import Limits

        args.limits = dataclasses.replace(agent.loop_limits if agent else Limits(), **given)
    args.sources, toolbox = asyncio.run(gather())  # (an MCP server named here is started now)
    args.agent_view = agent
    for problem in toolbox.problems:  # a server that cannot start: said, the others still serve
        print(f"note: {problem}", file=sys.stderr)
    args.said_problems = set(toolbox.problems)
    if args.yes or sys.stdin.isatty():
        return
    policies = agent.policies if agent else {}
    asking = [name for name, (_, tool) in toolbox.tools.items() if would_ask(tool, policies)]
    if asking:
        fail(
            f"{', '.join(sorted(asking))} would ask for your approval, but standard input is not a terminal: "
            "add --yes to allow every call"
        )


def terminal_approver(assume_yes: bool):
    from ..core.agents.loop import Approval, PendingCall

    async def approve(pending: PendingCall) -> Approval:
        if assume_yes:
            return Approval.ALLOW_ONCE
        tool = pending.tool
        print(f"\nThe model wants to run {tool.spec.name} ({tool.source}) with:", file=sys.stderr)
        print(pending.pretty_arguments, file=sys.stderr)
        if tool.annotations:
            print(f"(the server says: {json.dumps(tool.annotations)})", file=sys.stderr)
        while True:
            print(f"Allow? {ANSWERS}: ", end="", file=sys.stderr, flush=True)
            line = await asyncio.to_thread(sys.stdin.readline)
            answer = line.strip().lower()[:1]
            if not line or answer == "n":
                return Approval.DENY  # (end of input denies)
            if answer == "y":
                return Approval.ALLOW_ONCE
            if answer == "a":
                return Approval.ALWAYS

    return approve


async def run_agent_chat(s, conversation_id: str, prompt: str, model: str, params, args) -> int:
    from ..core.agents.loop import AgentStatus
    from ..core.agents.service import agent_chat
    from ..core.providers.types import TextDelta

    run = await agent_chat(s).send(
        conversation_id, prompt, args.sources, agent=args.agent_view, approve=terminal_approver(args.yes),
        model=model, params=params, limits=getattr(args, "limits", None),
    )  # fmt: skip
    for problem in run.problems:  # what the run found beyond the tool sources (an unpriced cost limit)
        if problem not in getattr(args, "said_problems", ()):
            print(f"note: {problem}", file=sys.stderr)
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGINT, run.stop)
    except (NotImplementedError, RuntimeError):
        pass
    state: dict[str, Any] = {"newline": True}

    def text(_turn, event) -> None:
        if isinstance(event, TextDelta):
            sys.stdout.write(event.text)
            sys.stdout.flush()
            state["newline"] = event.text.endswith("\n")

    def calling(call) -> None:
        if not state["newline"]:
            out()
            state["newline"] = True
        print(f"→ {call.name} {call.arguments}", file=sys.stderr)

    def called(tool_run) -> None:
        first = (tool_run.outcome.content.strip().splitlines() or [""])[0][:200]
        mark = "✗" if tool_run.outcome.is_error else "←"
        print(f"{mark} {first}  ({tool_run.duration_ms:.0f} ms, {tool_run.approved_by})", file=sys.stderr)

    run.on_event.append(text)
    run.on_call_start.append(calling)
    run.on_call.append(called)
    result = await run.wait()
    if not state["newline"]:
        out()
    if args.stats and result.turns:
        print(result.turns[-1].stats(), file=sys.stderr)
    failed = [t.save_error for t in run.turns if getattr(t, "save_error", None)]
    if failed:
        fail(failed[0])
    if result.status == AgentStatus.FAILED:
        fail(result.notice or "the reply failed")
    print(f"[conversation {conversation_id}]", file=sys.stderr)
    if result.notice:
        print(f"[{result.notice}]", file=sys.stderr)
    return 130 if result.status == AgentStatus.STOPPED else 0
