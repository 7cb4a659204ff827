"""`dataelan sync login|status|now|logout|passphrase`: this device and a self-hosted sync server."""

from __future__ import annotations

import getpass
import socket
import sys
from typing import Any

from .common import fail, out, services


def register(sub) -> None:
    p = sub.add_parser(
        "sync", help="sync with your own Dataelan server: login, status, now, logout, passphrase"
    )
    ssub = p.add_subparsers(dest="sync_command", metavar="ACTION", required=True)
    login = ssub.add_parser("login", help="sign this device in (asks for the user name and password)")
    login.add_argument("url", help="the server, e.g. https://sync.example.org")
    login.add_argument("--user", help="the user name (asked when left out)")
    login.add_argument("--device-name", help="how this device is listed (default: the computer's name)")
    login.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    login.add_argument(
        "--passphrase",
        action="store_true",
        help="turn on (or unlock) end-to-end encryption before anything is sent; asks for the passphrase "
        "(with --password-stdin: the line after the password)",
    )
    login.set_defaults(func=cmd_login)
    ssub.add_parser("status", help="signed in or not, last sync, changes waiting, last error").set_defaults(
        func=cmd_status
    )
    ssub.add_parser("now", help="send what waits and fetch what is new").set_defaults(func=cmd_now)
    ssub.add_parser("logout", help="sign this device out (nothing local is removed)").set_defaults(
        func=cmd_logout
    )
    phrase = ssub.add_parser(
        "passphrase",
        help="turn on end-to-end encryption, or unlock it on this device (asks for the passphrase)",
    )
    phrase.add_argument(
        "--passphrase-stdin", action="store_true", help="read the passphrase from standard input"
    )
    phrase.set_defaults(func=cmd_passphrase)


def _engine():
    from ..core.sync.engine import build_engine  # sync's edge: loaded by these commands only

    return build_engine(services())


def _run(fn, *args: Any) -> Any:
    from ..core.sync.client import SyncError
    from ..core.sync.seal import SealError

    try:
        return fn(*args)
    except (SyncError, SealError) as err:
        fail(str(err))


def _secret(prompt: str, from_stdin: bool, what: str) -> str:
    if from_stdin:
        value = sys.stdin.readline().rstrip("\n")
    elif sys.stdin.isatty():
        value = getpass.getpass(prompt)
    else:
        fail(f"no terminal to ask for the {what}; pipe it with --{what}-stdin")
    if not value:
        fail(f"the {what} is empty")
    return value


def cmd_login(args) -> int:
    user = args.user
    if not user:
        if not sys.stdin.isatty() or args.password_stdin:
            fail("give the user name with --user")
        user = input("User name: ").strip()
    password = _secret("Password (not shown): ", args.password_stdin, "password")
    passphrase = (
        _secret("Sync passphrase (not shown): ", args.password_stdin, "passphrase")
        if args.passphrase
        else None
    )
    name = args.device_name or socket.gethostname()
    engine = _engine()
    status = _run(engine.login, args.url, user, password, name, lambda text: print(text, file=sys.stderr))
    out(f"Signed in to {status.server_url} as {status.user} (this device: {status.device_name}).")
    if passphrase:
        _run(engine.set_passphrase, passphrase)
        out("Encryption is on for this device: your words are sealed before they leave it.")
    report = _sync(engine)
    out(f"Synced: {report.pushed:,} sent, {report.pulled:,} received.")
    return 0


def _sync(engine):
    def progress(what: str, done: int, total: int) -> None:
        shown = f"{done:,} of {total:,}" if total else f"{done:,}"
        print(f"\r{what}: {shown}", end="", file=sys.stderr, flush=True)

    try:
        return _run(engine.sync_now, progress)
    finally:
        print("", file=sys.stderr)


def cmd_status(_args) -> int:
    status = _engine().status()
    if not status.signed_in:
        out("Not signed in." + (f" (last server: {status.server_url})" if status.server_url else ""))
        out(f"Changes waiting: {status.pending:,}")
        return 0
    out(f"Server:          {status.server_url}")
    out(f"User:            {status.user}")
    out(f"This device:     {status.device_name} ({status.device_id})")
    out(f"Encryption:      {'on' if status.encrypted else 'off'}")
    last = status.last_sync_at.strftime("%Y-%m-%d %H:%M:%S UTC") if status.last_sync_at else "never"
    out(f"Last sync:       {last}")
    out(f"Changes waiting: {status.pending:,}")
    if status.last_error:
        out(f"Last error:      {status.last_error}")
    return 0


def cmd_now(_args) -> int:
    report = _sync(_engine())
    out(f"Synced: {report.pushed:,} sent, {report.pulled:,} received.")
    return 0


def cmd_logout(_args) -> int:
    _run(_engine().logout)
    out("Signed out. Your data stays on this device; changes made from now on are sent at the next sign-in.")
    return 0


def cmd_passphrase(args) -> int:
    passphrase = _secret("Sync passphrase (not shown): ", args.passphrase_stdin, "passphrase")
    engine = _engine()
    _run(engine.set_passphrase, passphrase)
    out("Encryption is on for this device: your words are sealed before they leave it.")
    report = _sync(engine)
    out(f"Synced: {report.pushed:,} sent, {report.pulled:,} received.")
    return 0
