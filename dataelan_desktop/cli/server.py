"""`dataelan server run|add-user|reset-password|users|devices|revoke`: the self-hosted sync server.

Needs the server extra (``pip install 'dataelan-desktop[server]'``); its modules are imported only
when a server command runs, so the app's own commands never load FastAPI.
"""

from __future__ import annotations

import getpass
import os
import sys
from contextlib import contextmanager
from pathlib import Path

from .common import fail, out

DEFAULT_PORT = 8765


def register(sub) -> None:
    common = _common_options()
    p = sub.add_parser(
        "server",
        help="run and administer a self-hosted sync server (alone: `server run` with its defaults)",
    )
    # not required: `dataelan server` alone starts a working server on the data folder (the issue's
    # promise), as `server run` with no options would
    ssub = p.add_subparsers(dest="server_command", metavar="ACTION")

    run = ssub.add_parser(
        "run", parents=[common], help="start the sync server (SQLite in the data folder by default)"
    )
    run.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    run.add_argument("--port", type=_port, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    run.add_argument(
        "--workers", type=_workers, default=1, help="worker processes (more than one needs PostgreSQL)"
    )
    # the defaults `server run` has, for `dataelan server` alone
    p.set_defaults(**vars(run.parse_args([])), func=cmd_run)
    run.set_defaults(func=cmd_run)

    add = ssub.add_parser("add-user", parents=[common], help="create a user (password asked without echo)")
    add.add_argument("name")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.set_defaults(func=cmd_add_user)

    reset = ssub.add_parser(
        "reset-password", parents=[common], help="set a new password; signs out every device"
    )
    reset.add_argument("name")
    reset.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    reset.set_defaults(func=cmd_reset_password)

    users = ssub.add_parser("users", parents=[common], help="list users")
    users.set_defaults(func=cmd_users)

    devices = ssub.add_parser("devices", parents=[common], help="list a user's devices")
    devices.add_argument("user")
    devices.set_defaults(func=cmd_devices)

    revoke = ssub.add_parser("revoke", parents=[common], help="revoke a device: its token is refused at once")
    revoke.add_argument("device", help="the device id (as `server devices` shows it)")
    revoke.set_defaults(func=cmd_revoke)


def _port(text: str) -> int:
    """A port argparse refuses in one line (uvicorn would print a traceback for 99999)."""
    import argparse

    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (1-65535)")
    return int(text)


def _workers(text: str) -> int:
    import argparse

    if not text.isdigit() or not 1 <= int(text) <= 64:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of workers (1-64)")
    return int(text)


def _common_options():
    import argparse

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data", type=Path, help="the server's data folder (default $DATAELAN_HOME/server)")
    common.add_argument(
        "--database",
        metavar="URL",
        default=os.environ.get("DATAELAN_SERVER_DATABASE_URL"),
        help="postgresql://user:password@host/db (default: SQLite in the data folder)",
    )
    return common


def _settings(args):
    try:
        from ..server.settings import ServerSettings, default_data_dir, sqlite_url
    except ImportError:
        from ..server import SERVER_EXTRA_HINT

        fail(SERVER_EXTRA_HINT)
    env = ServerSettings.from_env()
    url = args.database or sqlite_url(args.data or default_data_dir())
    return ServerSettings(**{**env.__dict__, "database_url": url})


@contextmanager
def _database(args):
    """The migrated server database, with one clear line if it cannot be opened."""
    try:
        from sqlalchemy.exc import OperationalError

        from ..server.db import Database
    except ImportError:
        from ..server import SERVER_EXTRA_HINT

        fail(SERVER_EXTRA_HINT)
    from sqlalchemy.exc import ArgumentError

    settings = _settings(args)
    try:
        db = Database(settings.database_url)
    except (ArgumentError, ImportError) as err:  # a URL SQLAlchemy cannot use: say so, not its class name
        fail(f"--database {_where(settings.database_url)}: not a database address this server can use "
             f"(postgresql://USER@HOST/DATABASE, or none for SQLite): {_first_line(err)}")  # fmt: skip
    try:
        try:
            db.migrate()
        except OperationalError as err:
            fail(
                f"cannot open the server's database ({_where(settings.database_url)}): {_first_line(err.orig or err)}"
            )
        yield settings, db
    finally:
        db.close()


def _where(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _first_line(err) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


def _read_password(args) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = getpass.getpass("Password (not shown): ")
        if getpass.getpass("Again: ") != password:
            fail("the two passwords differ; nothing was changed")
    else:
        fail("no terminal to ask for the password; pipe it with --password-stdin")
    return password


# -- commands --------------------------------------------------------------------------------------
def cmd_run(args) -> int:
    try:
        import fastapi  # noqa: F401 - the server's own web stack (uvicorn alone ships for the MCP client)
        import uvicorn
    except ImportError:
        from ..server import SERVER_EXTRA_HINT

        fail(SERVER_EXTRA_HINT)
    with _database(args) as (settings, db):
        postgres = db.is_postgres
        with db.session() as session:
            users = _count_users(session)
    if args.workers > 1 and not postgres:
        fail("more than one worker needs PostgreSQL (--database postgresql://…): SQLite has one writer")
    os.environ.update(settings.to_env())
    where = _where(settings.database_url)
    out(f"Dataelan sync server on http://{args.host}:{args.port} (API docs at /docs)")
    out(f"database: {where}")
    if not users:  # a new server is useless until someone can sign in: say how, once
        out("no users yet: add one with `dataelan server add-user NAME` (the server can keep running)")
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        out("listening beyond this machine: put it behind a TLS reverse proxy (docs/SYNC.md)")
    sys.stdout.flush()
    uvicorn.run(
        "dataelan_desktop.server.app:create_app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="info",
        proxy_headers=True,
        timeout_keep_alive=30,  # longer than a client's pause between pushes: no race with a closing connection
    )
    return 0


def _count_users(session) -> int:
    from sqlalchemy import func, select

    from ..server.tables import User

    return session.scalar(select(func.count(User.id))) or 0


def cmd_add_user(args) -> int:
    from ..server import accounts

    accounts.check_user_name(args.name)
    password = accounts.check_password(_read_password(args))
    with _database(args) as (settings, db), db.session() as session:
        accounts.add_user(session, settings, args.name, password)
    out(f"added user {args.name}")
    return 0


def cmd_reset_password(args) -> int:
    from ..server import accounts

    password = accounts.check_password(_read_password(args))
    with _database(args) as (settings, db):
        with db.session() as session:
            user = accounts.user_named(session, args.name)
            signed_out = accounts.reset_password(session, settings, args.name, password)
            _notify_revoked(settings, db, session, user.id, None)
    out(f"new password for {args.name}; {signed_out} device(s) signed out and must sign in again")
    return 0


def cmd_users(args) -> int:
    from sqlalchemy import func, select

    from ..server.tables import Device, User

    with _database(args) as (_settings, db), db.session() as session:
        live = func.count(Device.id).filter(Device.revoked_at.is_(None))
        rows = session.execute(
            select(User.name, User.created_at, live).outerjoin(Device, Device.user_id == User.id)
            .group_by(User.id).order_by(User.name)
        ).all()  # fmt: skip
    if not rows:
        out("no users yet: add one with `dataelan server add-user NAME`")
    for name, created, count in rows:
        out(f"{name:<24} {count} device(s)  since {created:%Y-%m-%d}")
    return 0


def cmd_devices(args) -> int:
    from sqlalchemy import select

    from ..server import accounts
    from ..server.tables import Device

    with _database(args) as (_settings, db), db.session() as session:
        user = accounts.user_named(session, args.user)
        rows = session.scalars(
            select(Device).where(Device.user_id == user.id).order_by(Device.created_at)
        ).all()
    if not rows:
        out(f"{args.user} has no devices yet")
    for d in rows:
        state = (
            "revoked"
            if d.revoked_at
            else f"last seen {d.last_seen_at:%Y-%m-%d %H:%M}"
            if d.last_seen_at
            else "active"
        )
        out(f"{d.id}  {d.name or '(unnamed)':<24} {state}")
    return 0


def cmd_revoke(args) -> int:
    from ..server import accounts

    with _database(args) as (settings, db), db.session() as session:
        device = accounts.revoke_device(session, None, args.device)
        if device is None:
            fail(f"no device {args.device} (see `dataelan server devices USER`)")
        _notify_revoked(settings, db, session, device.user_id, device.id)
    out(f"revoked {args.device}: its token is refused from now on")
    return 0


def _notify_revoked(settings, db, session, user_id: int, device_id: str | None) -> None:
    """On PostgreSQL, tell running servers at once (their WebSockets close); SQLite servers re-check."""
    if db.is_postgres:
        from ..server.notify import Hub, Notifier

        notice = {"user": user_id, "revoked": device_id} if device_id else {"recheck": True}
        Notifier(Hub(), True).emit(session, notice)
