"""`dataelan db check|recover`, `dataelan backup` and `dataelan restore`: looking after the database file.

These work on the file directly, without opening the app's services: they must work when
opening does not (a damaged file is exactly when `db recover` is needed).
"""

from __future__ import annotations

from pathlib import Path

from .common import fail, out


def register(sub) -> None:
    p = sub.add_parser("db", help="check the database, or recover what can be read from a damaged one")
    dsub = p.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    check = dsub.add_parser("check", help="SQLite's full integrity check (reads every page)")
    check.set_defaults(func=cmd_check)
    recover = dsub.add_parser(
        "recover", help="copy what can be read into a new database; the damaged file is kept beside it"
    )
    recover.set_defaults(func=cmd_recover)

    backup = sub.add_parser("backup", help="back the database up now, list backups, or set how many to keep")
    backup.add_argument("--list", action="store_true", help="list the backups, newest first")
    backup.add_argument("--keep", type=int, metavar="N", help="keep the newest N daily backups (default 7)")
    backup.set_defaults(func=cmd_backup)

    restore = sub.add_parser("restore", help="put a backup back (the current database is backed up first)")
    restore.add_argument(
        "backup", help="a file from `dataelan backup --list` (its name or path), or 'latest'"
    )
    restore.set_defaults(func=cmd_restore)


def _db_path() -> Path:
    from ..core import paths

    return paths.data_dir_location() / "dataelan.sqlite3"


def _require_file(path: Path) -> None:
    if not path.exists():
        fail(f"there is no database yet at {path}")


def cmd_check(_args) -> int:
    from ..core.db.recover import check_database

    path = _db_path()
    _require_file(path)
    result = check_database(path)
    if result.ok:
        out(
            f"ok: {path} passed SQLite's integrity check ({result.conversations} conversations, {result.messages} messages)"
        )
        return 0
    more = f" (and {len(result.problems) - 1} more problems)" if len(result.problems) > 1 else ""
    fail(
        f"{path} is damaged: {result.problems[0]}{more}. `dataelan db recover` copies out what can be read "
        "and keeps the damaged file beside it."
    )


def cmd_recover(_args) -> int:
    from ..core.db.recover import recover_database

    path = _db_path()
    _require_file(path)
    result = recover_database(path)
    out(
        f"recovered {result.conversations} conversations and {result.messages} messages ({result.method}) into {path}; "
        f"the damaged file is kept as {result.damaged_copy}"
    )
    return 0


def cmd_backup(args) -> int:
    from ..core.db.backups import backup_database, keep_count, list_backups, set_keep_count

    path = _db_path()
    if args.keep is not None:
        set_keep_count(path, args.keep)
        out(f"keeping the newest {args.keep} daily backups (and as many from before migrations)")
    if args.list:
        found = list_backups(path)
        for backup in found:
            out(f"{backup.name}  {backup.stat().st_size / 1e6:.1f} MB")
        if not found:
            out(f"no backups yet in {path.parent / 'backups'}")
        return 0
    if args.keep is None:
        _require_file(path)
        made = backup_database(path, "manual")
        out(f"backed up to {made} (kept until you delete it; {keep_count(path)} daily backups rotate)")
    return 0


def cmd_restore(args) -> int:
    from ..core.db.backups import backups_folder, list_backups, restore_backup

    path = _db_path()
    if args.backup == "latest":
        found = [b for b in list_backups(path) if b.stat().st_size > 0]
        if not found:
            fail(f"there are no backups in {backups_folder(path)}")
        chosen = found[0]
    else:
        chosen = Path(args.backup).expanduser()
        if not chosen.exists() and (backups_folder(path) / args.backup).exists():
            chosen = backups_folder(path) / args.backup
        if not chosen.exists():
            fail(f"no backup {args.backup}: `dataelan backup --list` shows them")
    kept = restore_backup(path, chosen.resolve())
    suffix = f"; the database it replaced is kept as {kept}" if kept else ""
    out(f"restored {chosen.name} into {path}{suffix}")
    return 0
