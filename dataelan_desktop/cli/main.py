"""Entry point of `dataelan`: parse arguments, dispatch, turn failures into one clear line."""

from __future__ import annotations

import argparse
import importlib
import sys

from .. import __version__
from .common import CliError, close_services, database_path, redacted_output
from .inputs import check_arguments

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
    "sync",
    "db",
    "mcp",
    "workflow",
    "agents",
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
    with redacted_output():
        return _run(argv)


def _run(argv: list[str]) -> int:
    try:
        from .launch import open_request

        request = open_request(argv)  # `dataelan FILE.gguf` / `dataelan dataelan://…`: the window
        if request is not None:
            from ..app import run_gui

            return run_gui(open_request=request)
        args = build_parser().parse_args(argv)
        check_arguments(args)  # text that is not UTF-8 is refused before any command saves anything
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

            try:
                setup_logging()
                logging.getLogger("dataelan.cli").exception("command failed")
                message += " (details in the log file)"
            except Exception:  # noqa: BLE001 - the data folder itself may be what failed
                pass
        print(f"error: {message}", file=sys.stderr)
        return 1
    finally:
        close_services()


def _describe(err: Exception) -> tuple[str, bool]:
    """The line to print (always one line), and whether this is an expected, user-facing failure."""
    from ..core.db.problems import explain
    from ..core.providers.errors import ProviderError
    from ..core.secrets import NoKeyringError

    problem = explain(err, database_path())  # read-only, full, busy, damaged: said as such, never as SQL
    if problem is not None:
        return _one_line(str(problem)), True
    if isinstance(err, KeyError) and err.args:
        return _one_line(str(err.args[0])), True
    if isinstance(err, ProviderError | NoKeyringError | ValueError | LookupError | OSError):
        return _one_line(str(err)), True
    return _one_line(f"{type(err).__name__}: {err}"), False


def _one_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else "unknown error"


if __name__ == "__main__":
    sys.exit(main())
