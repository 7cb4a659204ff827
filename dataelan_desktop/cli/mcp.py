"""`dataelan mcp add|list|tools|call|enable|disable|rm|import-claude`: MCP servers whose tools agents use.

    dataelan mcp add files -- npx -y @modelcontextprotocol/server-filesystem ~/Documents
    dataelan mcp add github --secret GITHUB_TOKEN -- docker run -i --rm ghcr.io/github/github-mcp-server
    dataelan mcp add remote --url https://mcp.example.com/mcp --secret Authorization
    dataelan mcp tools files

Secret values (``--secret NAME`` asks without echo; ``NAME=VALUE`` also works) go to the keyring.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path

from ..core.agents.mcp.config import DEFAULT_START_TIMEOUT, HTTP, STDIO, McpServerConfig, looks_secret
from ..core.agents.mcp.parse import claude_config_path
from .common import fail, out, run_async, services


def register(sub) -> None:
    p = sub.add_parser(
        "mcp", help="MCP servers whose tools agents can use: add, list, tools, rm, import-claude"
    )
    msub = p.add_subparsers(dest="mcp_command", metavar="ACTION", required=True)

    add = msub.add_parser(
        "add",
        help="add a server: `add NAME [OPTIONS] -- COMMAND ARGS...` (stdio) or `add NAME --url URL` (HTTP)",
    )
    add.add_argument("name")
    _add_options(add)
    # everything after NAME: options, then `--` and the command (argparse's own `--` handling does not
    # reach into a subcommand, so the split is done in cmd_add)
    add.add_argument("rest", nargs=argparse.REMAINDER, help="[OPTIONS] -- COMMAND ARGS...")
    add.set_defaults(func=cmd_add)

    ls = msub.add_parser("list", help="the configured servers (secret values are never shown)")
    ls.set_defaults(func=cmd_list)

    tools = msub.add_parser("tools", help="start servers and list their tools with annotations")
    tools.add_argument("name", nargs="?", help="only this server")
    tools.add_argument("--json", action="store_true", help="print JSON")
    tools.set_defaults(func=cmd_tools)

    call = msub.add_parser("call", help="call one tool yourself: `call SERVER TOOL '{\"arg\": 1}'`")
    call.add_argument("server")
    call.add_argument("tool")
    call.add_argument("arguments", nargs="?", default="{}", help="a JSON object (default {})")
    call.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the answer")
    call.set_defaults(func=cmd_call)

    for action, enabled in (("enable", True), ("disable", False)):
        switch = msub.add_parser(action, help=f"{action} a server")
        switch.add_argument("name")
        switch.set_defaults(func=cmd_switch, enabled=enabled)

    rm = msub.add_parser("rm", help="remove a server and its secrets")
    rm.add_argument("name")
    rm.set_defaults(func=cmd_rm)

    imp = msub.add_parser(
        "import-claude", help="add the servers of Claude Desktop's claude_desktop_config.json"
    )
    imp.add_argument("file", nargs="?", help=f"the file (default: {claude_config_path()})")
    imp.set_defaults(func=cmd_import)


def _add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help="the server's streamable HTTP endpoint, e.g. http://127.0.0.1:8000/mcp")
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="an environment variable"
    )
    parser.add_argument("--header", action="append", default=[], metavar="NAME=VALUE", help="an HTTP header")
    parser.add_argument(
        "--secret",
        action="append",
        default=[],
        metavar="NAME[=VALUE]",
        help="a variable (stdio) or header (HTTP) kept in the keyring; without =VALUE it is asked for",
    )
    parser.add_argument("--cwd", help="the folder to start the command in")
    parser.add_argument(
        "--timeout", type=float, default=None, help="seconds it may take to start (default 30)"
    )
    parser.add_argument("--disabled", action="store_true", default=None, help="save it switched off")
    parser.add_argument("--replace", action="store_true", default=None, help="replace a server of that name")


def _options_and_command(args) -> tuple[argparse.Namespace, list[str]]:
    """The options given before or after NAME, and the command after ``--`` (or the words after NAME
    when they do not start with an option)."""
    rest = list(args.rest)
    if "--" in rest:
        at = rest.index("--")
        words, command = rest[:at], rest[at + 1 :]
    elif rest and not rest[0].startswith("-"):
        words, command = [], rest
    else:
        words, command = rest, []
    from .main import Parser

    later = Parser(prog="dataelan mcp add", add_help=False)
    _add_options(later)
    after, unknown = later.parse_known_args(words)
    if unknown:
        if not unknown[0].startswith("-"):
            fail(
                f"put -- before the server's command: `dataelan mcp add {args.name} [OPTIONS] -- {' '.join(unknown)}`"
            )
        fail(
            f"dataelan mcp add: unrecognized arguments: {' '.join(unknown)} (see `dataelan mcp add --help`)",
            2,
        )
    for key, value in vars(after).items():
        before = getattr(args, key)
        if isinstance(value, list):
            setattr(args, key, before + value)
        elif value is not None:
            setattr(args, key, value)
    return args, command


def _pairs(items: list[str], option: str) -> dict[str, str]:
    values = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            fail(f"{option} takes NAME=VALUE, not {item!r}")
        values[name.strip()] = value
    return values


def _secrets(items: list[str]) -> dict[str, str]:
    values = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not name:
            fail(f"--secret takes NAME or NAME=VALUE, not {item!r}")
        if not sep:
            if not sys.stdin.isatty():
                fail(f"--secret {name} asks for the value on a terminal; give --secret {name}=VALUE instead")
            value = getpass.getpass(f"{name} (not shown): ")
        if not value.strip():
            fail(f"no value given for the secret {name}; nothing was saved")
        values[name] = value.strip()
    return values


def cmd_add(args) -> int:
    args, command = _options_and_command(args)
    if bool(command) == bool(args.url):
        fail(
            "give either a command (after --) or --url, e.g. `dataelan mcp add files -- npx -y server-filesystem ~`"
        )
    if command and args.header:
        fail("--header is for HTTP servers (--url); a server started by a command takes --env")
    if args.url and args.env:
        fail("--env is for servers started by a command; an HTTP server (--url) takes --header")
    plain = _pairs(args.env, "--env") if command else _pairs(args.header, "--header")
    secrets = _secrets(args.secret)
    for name in [
        n for n in plain if looks_secret(n)
    ]:  # a token given as a plain value still goes to the keyring
        secrets[name] = plain.pop(name)
        out(f"note: {name} looks like a secret; it is kept in the keyring")
    timeout = args.timeout if args.timeout is not None else DEFAULT_START_TIMEOUT
    store = services().mcp.store
    if not args.replace and any(c.name.casefold() == args.name.strip().casefold() for c in store.list()):
        fail(f"an MCP server named '{args.name}' exists already; add --replace to replace it")
    if command:
        config = McpServerConfig(
            args.name, STDIO, command=command[0], args=tuple(command[1:]), env=plain,
            secret_env=frozenset(secrets), cwd=args.cwd, enabled=not args.disabled, timeout=timeout,
        )  # fmt: skip
    else:
        config = McpServerConfig(
            args.name, HTTP, url=args.url, headers=plain, secret_headers=frozenset(secrets),
            enabled=not args.disabled, timeout=timeout,
        )  # fmt: skip
    created = store.save(config, secrets)
    saved = store.get(config.name)
    out(f"{'added' if created else 'replaced'} the MCP server {saved.name}: {saved.describe()}")
    return 0


def cmd_list(_args) -> int:
    configs = services().mcp.store.list()
    if not configs:
        out(
            "no MCP servers yet: add one with `dataelan mcp add NAME -- COMMAND ...` or `dataelan mcp import-claude`"
        )
        return 0
    for c in configs:
        secrets = sorted(c.secret_env | c.secret_headers)
        extra = f"  secrets: {', '.join(secrets)}" if secrets else ""
        plain = sorted({**dict(c.env), **dict(c.headers)})
        extra += f"  set: {', '.join(plain)}" if plain else ""
        state = "on " if c.enabled else "off"
        out(f"{c.name:<20} {state} {c.transport:<5} {c.describe()}{extra}")
    return 0


def cmd_tools(args) -> int:
    hub = services().mcp

    async def gather() -> list[tuple[str, object]]:
        names = [n for n in await hub.refresh() if args.name is None or n.casefold() == args.name.casefold()]
        if args.name and not names:
            hub.store.get(args.name)  # says "no such server" for a name never added
            fail(f"the MCP server '{args.name}' is disabled; `dataelan mcp enable {args.name}` first")
        found = []
        for name in names:
            status = await hub.start(name)
            found.append((name, status))
        return found

    results = run_async(gather())
    failed = 0
    rows = []
    for name, status in results:
        if status.state != "ready":
            failed += 1
        rows.append(
            {
                "server": name,
                "status": status.describe(),
                "tools": [
                    {"name": t.spec.name, "description": t.spec.description, "annotations": t.annotations}
                    for t in status.tools
                ],
            }
        )
    if args.json:
        out(json.dumps(rows, indent=2, ensure_ascii=False))
        return 1 if failed else 0
    if not rows:
        out("no enabled MCP servers")
    for row in rows:
        out(f"{row['server']}: {row['status']}")
        for tool in row["tools"]:
            hints = ", ".join(f"{k}={v}" for k, v in tool["annotations"].items())
            description = " ".join((tool["description"] or "").split())
            out(f"  {tool['name']:<24} {description[:80]}" + (f"  [{hints}]" if hints else ""))
    return 1 if failed else 0


def cmd_call(args) -> int:
    try:
        arguments = json.loads(args.arguments)
    except json.JSONDecodeError as err:
        fail(f"the arguments are not valid JSON ({err.msg} at column {err.colno})")
    if not isinstance(arguments, dict):
        fail('the arguments must be a JSON object, e.g. \'{"path": "notes.txt"}\'')
    hub = services().mcp
    server = hub.store.get(args.server).name

    async def call():
        for source in await hub.sources():
            if source.server == server:
                return await source.call(args.tool, arguments, timeout=args.timeout)
        fail(f"the MCP server '{server}' is disabled; `dataelan mcp enable {server}` first")

    outcome = run_async(call())
    if outcome.is_error:
        fail(outcome.content)
    out(outcome.content)
    return 0


def cmd_switch(args) -> int:
    config = services().mcp.store.set_enabled(args.name, args.enabled)
    out(f"{'enabled' if config.enabled else 'disabled'} the MCP server {config.name}")
    return 0


def cmd_rm(args) -> int:
    if not services().mcp.store.remove(args.name):
        fail(f"there is no MCP server named '{args.name}' (see `dataelan mcp list`)")
    out(f"removed the MCP server {args.name} and its secrets")
    return 0


def cmd_import(args) -> int:
    path = Path(args.file).expanduser() if args.file else claude_config_path()
    result = services().mcp.store.import_file(path)
    for name in result.added:
        out(f"added {name}")
    for name in result.skipped:
        out(f"skipped {name}: a server of that name exists already (remove it first to import it)")
    for problem in result.problems:
        print(f"error: {problem}", file=sys.stderr)
    if not (result.added or result.skipped or result.problems):
        out(f"{path.name} lists no servers")
    return 1 if result.problems else 0
