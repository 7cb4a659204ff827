"""`dataelan templates list|show|add|edit|rm|render`, and the ``--template``/``--var`` helpers chat and compare share."""

from __future__ import annotations

import sys
from pathlib import Path

from ..core.templates import RenderedPrompt, TemplateError, TemplateView
from ..core.templates.render import is_variable_name, render_parts
from .common import fail, out, services


def register(sub) -> None:
    p = sub.add_parser(
        "templates", help="prompt templates with {{variables}}: list, show, add, edit, rm, render"
    )
    tsub = p.add_subparsers(dest="templates_command", metavar="ACTION", required=True)
    ls = tsub.add_parser("list", help="templates by name (built-ins included)")
    ls.add_argument("--category", help="only this category")
    ls.add_argument("--search", metavar="Q", help="words to find in the name, description or text")
    ls.set_defaults(func=cmd_list)
    show = tsub.add_parser("show", help="one template in full")
    show.add_argument("name")
    show.set_defaults(func=cmd_show)
    add = tsub.add_parser("add", help="a new template: write {{name}} or {{name|default}} where values go")
    add.add_argument("name")
    _content_options(add, body_required=True)
    add.set_defaults(func=cmd_add)
    edit = tsub.add_parser("edit", help="change a template (an empty value clears an optional field)")
    edit.add_argument("name")
    _content_options(edit, body_required=False)
    edit.add_argument("--rename", metavar="NEW", help="a new name")
    edit.set_defaults(func=cmd_edit)
    rm = tsub.add_parser("rm", help="delete a template")
    rm.add_argument("name")
    rm.set_defaults(func=cmd_rm)
    render = tsub.add_parser("render", help="print the filled-in prompt (the system prompt goes to stderr)")
    render.add_argument("name")
    add_var_option(render)
    render.set_defaults(func=cmd_render)


def _content_options(parser, *, body_required: bool) -> None:
    body = parser.add_mutually_exclusive_group(required=body_required)
    body.add_argument("--body", help="the prompt text")
    body.add_argument(
        "--body-file", metavar="FILE", help="read the prompt text from FILE ('-' for standard input)"
    )
    parser.add_argument("--system", help="a system prompt (it may use {{variables}} too)")
    parser.add_argument("--category")
    parser.add_argument("--description")


def add_var_option(parser) -> None:
    parser.add_argument(
        "--var", action="append", default=[], metavar="NAME=VALUE", help="a template variable (repeat)"
    )


# -- shared with `chat --template` and `compare --template` ------------------------------------


def parse_vars(items: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not is_variable_name(name.strip()):
            fail(f"--var takes NAME=VALUE (a name of letters, digits and _), not {item!r}")
        values[name.strip()] = value
    return values


def fill(template: TemplateView, values: dict[str, str], input_text: str | None = None) -> RenderedPrompt:
    """Render with ``--var`` values; ``input_text`` (the message given on the command line) fills ``{{input}}``."""
    names = [v.name for v in template.variables]
    unknown = [n for n in values if n not in names]
    if unknown:
        fail(
            f"the template '{template.name}' has no variable {', '.join(unknown)} "
            f"(its variables: {', '.join(names) or 'none'})"
        )
    if input_text is not None:
        if "input" not in names:
            fail(
                f"the template '{template.name}' has no {{{{input}}}} for the message; "
                "give its values with --var NAME=VALUE instead"
            )
        if "input" in values:
            fail("give the input once: as the message or as --var input=..., not both")
        values = {**values, "input": input_text}
    try:
        return render_parts(template.body, template.system_prompt, values)
    except TemplateError as err:
        fail(f"{err} Give values with --var NAME=VALUE.")


# -- commands ------------------------------------------------------------------------------------


def _describe_variables(template: TemplateView) -> str:
    parts = [v.name if v.required else f"{v.name}={v.default!r}" for v in template.variables]
    return ", ".join(parts) or "-"


def cmd_list(args) -> int:
    templates = services().templates.list(category=args.category, query=args.search)
    if not templates:
        out(
            "no templates match"
            if args.category or args.search
            else "no templates yet: `dataelan templates add`"
        )
        return 0
    rows = [(t.name, t.category or "-", ", ".join(v.name for v in t.variables) or "-", t.description or "")
            for t in templates]  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        out(
            (
                "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[3]
            ).rstrip()
        )
    return 0


def cmd_show(args) -> int:
    t = services().templates.get(args.name)
    out(f"name: {t.name}{'  (built-in)' if t.builtin else ''}")
    out(f"category: {t.category or '-'}")
    if t.description:
        out(f"description: {t.description}")
    required = [v.name for v in t.variables if v.required]
    optional = [f"{v.name} (default {v.default!r})" for v in t.variables if not v.required]
    out(f"variables: {', '.join(required + optional) or 'none'}")
    if t.system_prompt:
        out(f"system prompt:\n{t.system_prompt}")
    out(f"body:\n{t.body}")
    return 0


def _body(args) -> str | None:
    if args.body_file is None:
        return args.body
    if args.body_file == "-":
        return sys.stdin.read()
    return Path(args.body_file).read_text(encoding="utf-8")  # a missing file: one line via OSError


def cmd_add(args) -> int:
    t = services().templates.create(
        args.name,
        _body(args) or "",
        system_prompt=args.system,
        category=args.category,
        description=args.description,
    )
    out(f"added template '{t.name}' (variables: {_describe_variables(t)})")
    return 0


def cmd_edit(args) -> int:
    s = services()
    fields = {k: v for k, v in (("body", _body(args)), ("system_prompt", args.system), ("category", args.category),
                                ("description", args.description), ("name", args.rename)) if v is not None}  # fmt: skip
    if not fields:
        fail("nothing to change: give --body, --body-file, --system, --category, --description or --rename")
    t = s.templates.update(s.templates.get(args.name).id, **fields)
    out(f"updated template '{t.name}' (variables: {_describe_variables(t)})")
    return 0


def cmd_rm(args) -> int:
    s = services()
    t = s.templates.get(args.name)
    s.templates.delete(t.id)
    out(f"removed template '{t.name}'")
    return 0


def cmd_render(args) -> int:
    values = parse_vars(args.var)
    rendered = fill(services().templates.get(args.name), values)
    if rendered.system:  # stdout stays the prompt alone, ready to pipe into `dataelan chat -`
        print(f"system prompt: {rendered.system}", file=sys.stderr)
    out(rendered.prompt)
    return 0
