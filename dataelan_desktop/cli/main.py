"""Entry point of `dataelan`: parse arguments, dispatch, turn failures into one clear line."""

from __future__ import annotations

import argparse
import importlib
import sys

from .. import __version__
from .common import CliError, close_services

#: command modules, each with ``register(subparsers)``; one file per command group
COMMAND_MODULES = (
    "chat",
    "providers",
    "keys",
    "models",
    "history",
    "transfer",
    "tester",
    "templates",
    "server",
)


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not the usage block
        raise CliError(f"{self.prog}: {message} (see `{self.prog} --help`)", code=2)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="dataelan", description="Dataelan Desktop: chat with cloud and local models.")
    parser.add_argument("--version", action="version", version=f"dataelan {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(f".{name}", __package__).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    import multiprocessing

    multiprocessing.freeze_support()  # a frozen (PyInstaller) app starts its model hosts through this entry
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        from ..app import run_gui

        return run_gui()
    try:
        args = build_parser().parse_args(argv)
        if not getattr(args, "func", None):
            build_parser().print_help()
            return 0
        return int(args.func(args) or 0)
    except CliError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.code
    except KeyboardInterrupt:
        print("\nstopped", file=sys.stderr)
        return 130
    except Exception as err:  # still one line; unexpected ones leave their traceback in the log file
        message, expected = _describe(err)
        if not expected:
            import logging

            from ..core.services import setup_logging

            setup_logging()
            logging.getLogger("dataelan.cli").exception("command failed")
        from ..core.secrets import default_store

        print(f"error: {default_store().redact(message)}", file=sys.stderr)
        return 1
    finally:
        close_services()


def _describe(err: Exception) -> tuple[str, bool]:
    """The line to print, and whether this is an expected, user-facing failure."""
    from ..core.db.engine import CorruptDatabaseError
    from ..core.providers.errors import ProviderError
    from ..core.secrets import NoKeyringError

    if isinstance(err, KeyError) and err.args:
        return str(err.args[0]), True
    if isinstance(
        err, ProviderError | NoKeyringError | CorruptDatabaseError | ValueError | LookupError | OSError
    ):
        return str(err), True
    return f"{type(err).__name__}: {err}", False


if __name__ == "__main__":
    sys.exit(main())
