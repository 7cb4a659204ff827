"""`dataelan compare` (one prompt, several models) and `dataelan tester history|show|vote|leaderboard|continue`."""

from __future__ import annotations

import sys

from ..core.paths import write_text_atomically
from ..core.providers.types import GenerationParams
from .common import fail, out, run_async, services
from .inputs import read_stdin
from .templates import add_var_option, fill, parse_vars


def register(sub) -> None:
    p = sub.add_parser("compare", help="run one prompt on several models at once and measure them")
    p.add_argument("prompt", nargs="?", help="the prompt; '-' reads it from standard input")
    p.add_argument(
        "-m", "--model", action="append", default=[], help="a model (repeat, 2 to 6; a batch takes 1 or more)"
    )
    p.add_argument(
        "--prompts", help="batch: a CSV, JSONL or text file of prompts (with variables and checks)"
    )
    p.add_argument("--out", help="batch: write the report here (.csv, .json or .html)")
    p.add_argument("--concurrency", type=int, default=2, help="batch: cells run at once")
    p.add_argument("--resume", metavar="RUN_ID", help="batch: continue a cancelled batch run")
    p.add_argument("-s", "--system", help="system prompt (overrides the template's)")
    p.add_argument("--template", metavar="NAME", help="compare on this prompt template, filled in with --var")
    add_var_option(p)
    p.add_argument("--category", help="a label for the leaderboard (coding, writing…)")
    p.add_argument("--blind", action="store_true", help="hide the model names until you vote")
    p.add_argument("-t", "--temperature", type=float)
    p.add_argument("--max-tokens", type=int)
    p.set_defaults(func=cmd_compare)

    t = sub.add_parser("tester", help="comparison history, votes and the leaderboard")
    tsub = t.add_subparsers(dest="tester_command", metavar="ACTION", required=True)
    h = tsub.add_parser("history", help="saved comparisons, newest first")
    h.set_defaults(func=cmd_history)
    show = tsub.add_parser("show", help="a saved comparison again")
    show.add_argument("run_id")
    show.set_defaults(func=cmd_show)
    vote = tsub.add_parser(
        "vote",
        help="vote on a blind comparison: left|right (two columns), best X, rank N N N…, tie, both_bad",
    )
    vote.add_argument("run_id")
    vote.add_argument("outcome", choices=["left", "right", "tie", "both_bad", "best", "rank"])
    vote.add_argument(
        "which",
        nargs="*",
        help="best: the winning column's letter (A, B…); rank: each column's rank, 1 = best",
    )
    vote.set_defaults(func=cmd_vote)
    board = tsub.add_parser("leaderboard", help="ratings from your votes (Bradley–Terry, 95% band)")
    board.add_argument("--category")
    board.set_defaults(func=cmd_leaderboard)
    cont = tsub.add_parser("continue", help="turn one column into a normal conversation")
    cont.add_argument("run_id")
    cont.add_argument("column", type=int, help="1-based column number")
    cont.set_defaults(func=cmd_continue)


def print_stats(columns, labels: list[str], fastest: int | None, cheapest: int | None) -> None:
    """Each column's stats line, as the tester window shows it, marked when fastest or cheapest."""
    out()
    for i, (column, label) in enumerate(zip(columns, labels, strict=True)):
        marks = ("⚡" if i == fastest else "") + ("$" if i == cheapest else "")
        out(f"{marks:<3}{label}: {column.stats()}")


def cmd_batch(args) -> int:
    from pathlib import Path

    from ..core.tester.batch import BatchRun, load_prompts

    s = services()
    batch = BatchRun(s.db, s.registry, args.resume)
    if not args.resume:
        if not args.model:
            fail("choose the models with -m (one or more)")
        batch.create(load_prompts(Path(args.prompts)), args.model, name=Path(args.prompts).name)
    batch.on_progress = lambda done, total: print(
        f"\r{done}/{total} cells", end="", file=sys.stderr, flush=True
    )
    try:
        run_async(batch.run(concurrency=args.concurrency))
    except KeyboardInterrupt:
        print(
            f"\ncancelled: continue with `dataelan compare --resume {batch.run_id} --out REPORT`",
            file=sys.stderr,
        )
        return 130
    print(file=sys.stderr)
    cells = batch.cells()
    passed = sum(1 for c in cells if c["passed"])
    out(f"batch {batch.run_id}: {passed}/{len(cells)} cells passed")
    if args.out:
        fmt = Path(args.out).suffix.lstrip(".").lower()
        write_text_atomically(args.out, batch.export(fmt))
        out(f"wrote {args.out}")
    return 0


def cmd_compare(args) -> int:
    from ..core.tester.history import blind_order, save_run
    from ..core.tester.runner import Comparison, blind_line

    values = parse_vars(args.var)
    if (args.template or values) and (args.prompts or args.resume):
        fail("--template and --var are for one comparison; a batch file carries its own variables")
    if args.prompts or args.resume:
        return cmd_batch(args)
    if values and not args.template:
        fail("--var fills a template: add --template NAME")
    if args.prompt is None and not args.template:
        fail("give a prompt, --template NAME, or --prompts FILE for a batch")
    prompt = None if args.prompt is None else read_stdin() if args.prompt == "-" else args.prompt
    if not 2 <= len(args.model) <= 6:
        fail("compare 2 to 6 models: repeat -m MODEL")
    s = services()
    system = args.system
    if args.template:
        template = s.templates.get(args.template)
        rendered = fill(template, values, prompt)  # a prompt given beside the template fills its {{input}}
        prompt = rendered.prompt
        system = args.system if args.system is not None else rendered.system
    for model in args.model:
        from ..core.connections.registry import parse_model_ref

        s.registry.get(parse_model_ref(model).provider)  # unknown provider or missing key: say so now
    params = GenerationParams(temperature=args.temperature, max_tokens=args.max_tokens)
    comparison = Comparison(s.registry, args.model)
    order = blind_order(len(args.model)) if args.blind else list(range(len(args.model)))
    labels = [
        f"Model {chr(65 + position)}" if args.blind else comparison.columns[i].model
        for position, i in enumerate(order)
    ]

    def progress(index: int, column) -> None:
        if column.status in ("complete", "failed", "stopped"):
            label = labels[order.index(index)]
            print(
                f"[{label}] {column.status} after {column.duration_ms / 1000:.2f} s",
                file=sys.stderr,
                flush=True,
            )

    comparison.on_update = progress

    async def go():
        comparison.start(prompt, system, params)
        return await comparison.wait()

    try:
        columns = run_async(go())
    except KeyboardInterrupt:
        comparison.stop_all()
        columns = comparison.columns
    shown = [columns[i] for i in order]
    for label, column in zip(labels, shown, strict=True):
        out(f"\n===== {label} =====")
        out(column.text if column.text else f"({column.status}{': ' + column.error if column.error else ''})")
    fastest = comparison.fastest()
    cheapest = comparison.cheapest()
    if args.blind:  # nothing that names a column until the vote: no figures, no marks
        out()
        for label, column in zip(labels, shown, strict=True):
            out(f"   {label}: {blind_line(column)}")
    else:
        print_stats(
            shown,
            labels,
            order.index(fastest) if fastest is not None else None,
            order.index(cheapest) if cheapest is not None else None,
        )
    settings = {"order": order, "temperature": args.temperature, "max_tokens": args.max_tokens}
    if args.template:
        settings["template"] = template.name
    run_id = save_run(s.db, prompt, columns, system=system, category=args.category, blind=args.blind,
                      settings=settings)  # fmt: skip
    out(f"\nsaved as run {run_id}")
    if args.blind and len(columns) == 2:
        out(f"vote with: dataelan tester vote {run_id} left|right|tie|both_bad  (left = Model A)")
    elif args.blind:
        out(f"vote with: dataelan tester vote {run_id} best A|B|…, rank N N N… (1 = best), tie or both_bad")
    return 0 if any(c.status == "complete" for c in columns) else 1


def cmd_history(_args) -> int:
    from ..core.tester.history import runs

    for run in runs(services().db):
        models = ", ".join(c["model"] for c in run.columns)
        out(f"{run.id}  {run.created_at:%Y-%m-%d %H:%M}  {run.prompt.strip()[:40]!r:<44} {models}")
    return 0


def cmd_show(args) -> int:
    from ..core.providers.reply import Reply
    from ..core.tester.history import get_run

    run = get_run(services().db, args.run_id)
    if run.settings.get("template"):
        out(f"template: {run.settings['template']}")
    out(f"prompt: {run.prompt}")
    columns = [Reply.from_record(c) for c in run.columns]
    order = run.settings.get("order") or list(range(len(columns)))
    for i in order:
        out(f"\n===== {columns[i].model} =====\n{columns[i].text}")
    print_stats([columns[i] for i in order], [columns[i].model for i in order], None, None)
    return 0


def cmd_vote(args) -> int:
    from ..core.tester.history import get_run, record_votes
    from ..core.tester.ratings import all_pairs, best_of, ranked

    s = services()
    run = get_run(s.db, args.run_id)
    order = run.settings.get("order") or list(range(len(run.columns)))
    models = [run.columns[i]["model"] for i in order]  # as shown: Model A, Model B…
    letters = [chr(65 + i) for i in range(len(models))]
    if args.outcome in ("left", "right"):
        if len(models) != 2:
            fail(f"left/right are for two columns; this run has {len(models)}: use best X or rank")
        chosen = best_of(models, 0 if args.outcome == "left" else 1)
    elif args.outcome == "best":
        if len(args.which) != 1 or args.which[0].upper() not in letters:
            fail(f"say which column is best: one of {', '.join(letters)}")
        chosen = best_of(models, letters.index(args.which[0].upper()))
    elif args.outcome == "rank":
        try:
            ranks = [int(r) for r in args.which]
        except ValueError:
            fail("ranks are numbers: 1 for the best, equal numbers for a tie")
        if len(ranks) != len(models) or not all(1 <= r <= len(models) for r in ranks):
            fail(f"give each of the {len(models)} columns a rank from 1 to {len(models)}, in order A, B…")
        chosen = ranked(models, ranks)
    else:
        chosen = all_pairs(models, args.outcome)
    record_votes(s.db, run.id, chosen)
    named = ", ".join(f"Model {letter} was {model}" for letter, model in zip(letters, models, strict=True))
    out(f"recorded: {' '.join([args.outcome, *args.which])}. {named}.")
    return 0


def cmd_leaderboard(args) -> int:
    from ..core.tester.history import votes
    from ..core.tester.ratings import leaderboard

    standings = leaderboard(votes(services().db), category=args.category)
    if not standings:
        out("no votes yet: run `dataelan compare --blind -m A -m B PROMPT` and vote")
    for rank, st in enumerate(standings, 1):
        out(f"{rank:>2}. {st.model:<40} {st.rating:7.0f}  ({st.interval()})  {st.votes} votes")
    return 0


def cmd_continue(args) -> int:
    from ..core.tester.history import continue_in_chat

    s = services()
    conversation_id = continue_in_chat(s.store, args.run_id, args.column - 1)
    out(f'conversation {conversation_id}: `dataelan chat --continue {conversation_id} "..."`')
    return 0
