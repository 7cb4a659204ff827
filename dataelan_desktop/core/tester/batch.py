"""Batch runs: a set of prompts × models with simple checks, resumable, exported as CSV, JSON or HTML.

Each finished cell is saved at once (a ``TesterRun`` of kind "batch" holds the plan and
the cells), so a cancelled run continues with only the cells still missing.
"""

from __future__ import annotations

import asyncio
import csv
import html
import io
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..connections.registry import ProviderRegistry
from ..db import Database
from ..db.tables import TesterRun
from ..providers.reply import Reply
from ..templates.render import TemplateError, render_text
from . import history
from .batch_input import check_checks, check_plan, read_rows
from .runner import Comparison


@dataclass
class BatchPrompt:
    text: str
    checks: dict[str, Any] = field(default_factory=dict)  # contains, regex, json, max_latency_ms
    label: str | None = None


def render(template: str, variables: dict[str, Any]) -> str:
    """Fill ``{{name}}`` placeholders as prompt templates do (other braces, such as JSON, stay as
    written); a variable the row does not give is a clear error, not a silent blank."""
    try:
        return render_text(template, {k: "" if v is None else str(v) for k, v in variables.items()})
    except TemplateError as error:
        raise ValueError(f"{error} The row does not give it: {template[:60]!r}") from error


def load_prompts(path: Path) -> list[BatchPrompt]:
    """CSV (a ``prompt`` column; other columns are ``{{variables}}``; ``contains``/``regex``/``json``/``max_latency_ms`` are
    checks) or JSONL (one object per line with the same keys, or ``{"prompt": ..., "vars": {...}}``)."""
    rows = read_rows(path)  # each row an object, every field readable (batch_input.py)
    prompts = []
    for number, row in enumerate(rows, 1):
        if not str(row.get("prompt") or "").strip():
            raise ValueError(f"{path.name}: row {number} has no prompt.")
        checks = check_checks(
            {
                k: row[k]
                for k in ("contains", "regex", "json", "max_latency_ms")
                if row.get(k) not in (None, "")
            },
            f"{path.name} row {number}",
        )  # a bad regex or latency is refused now, not after every cell has run
        variables = {k: v for k, v in row.items() if k not in ("prompt", *checks, "label")}
        prompts.append(BatchPrompt(render(str(row["prompt"]), variables), checks, row.get("label")))
    if not prompts:
        raise ValueError(f"{path.name} holds no prompts.")
    return prompts


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _seconds(ms: float | None) -> float | None:
    """Milliseconds as seconds to the millisecond: a report says 0.846, not 845.9338459997525 ms."""
    return None if ms is None else round(ms / 1000, 3)


def evaluate(checks: dict[str, Any], cell: dict[str, Any]) -> dict[str, bool]:
    text = cell.get("text") or ""
    results: dict[str, bool] = {}
    if "contains" in checks:
        results["contains"] = str(checks["contains"]).lower() in text.lower()
    if "regex" in checks:
        results["regex"] = re.search(str(checks["regex"]), text) is not None
    if str(checks.get("json", "")).lower() in ("1", "true", "yes"):
        try:
            json.loads(text)
            results["json"] = True
        except ValueError:
            results["json"] = False
    if "max_latency_ms" in checks:
        results["max_latency_ms"] = cell.get("total_ms") is not None and cell["total_ms"] <= float(
            checks["max_latency_ms"]
        )
    if cell.get("status") != "complete":
        results["completed"] = False
    return results


class BatchRun:
    def __init__(self, db: Database, registry: ProviderRegistry, run_id: str | None = None):
        self.db = db
        self.registry = registry
        self.run_id = run_id
        self._cancel = asyncio.Event()
        self.on_progress: Callable[[int, int], None] | None = None

    def create(self, prompts: Sequence[BatchPrompt], models: Sequence[str], name: str = "Batch") -> str:
        plan = {
            "models": list(models),
            "prompts": [{"text": p.text, "checks": p.checks, "label": p.label} for p in prompts],
        }

        self.run_id = history.save_batch(self.db, name, plan)  # the tester's store writes its runs
        return self.run_id

    def plan(self) -> dict[str, Any]:
        return self.db.call(lambda s: dict(s.get(TesterRun, self.run_id).settings))

    def cells(self) -> list[dict[str, Any]]:
        return self.db.call(lambda s: list(s.get(TesterRun, self.run_id).columns))

    def cancel(self) -> None:
        self._cancel.set()

    async def _save_cell(self, cell: dict[str, Any]) -> None:
        await self.db.in_thread(history.add_batch_cell, self.db, self.run_id, cell)

    async def run(self, concurrency: int = 2) -> list[dict[str, Any]]:
        """Run every missing cell (prompt × model), at most ``concurrency`` at once."""
        # the plan and the cells so far are read on the database thread: this runs on the window's loop
        plan = await self.db.in_thread(self.plan)
        check_plan(plan)  # a resumed plan with a bad check fails before any cell runs
        done = {(c["prompt_index"], c["model"]) for c in await self.db.in_thread(self.cells)}
        todo = [(i, m) for i, _ in enumerate(plan["prompts"]) for m in plan["models"] if (i, m) not in done]
        total = len(plan["prompts"]) * len(plan["models"])
        finished = len(done)
        semaphore = asyncio.Semaphore(max(1, concurrency))

        async def one(index: int, model: str) -> None:
            nonlocal finished
            async with semaphore:
                if self._cancel.is_set():
                    return
                prompt = plan["prompts"][index]
                comparison = Comparison(self.registry, [model]).start(prompt["text"])
                cancel_wait = asyncio.ensure_future(self._cancel.wait())
                waiting = asyncio.ensure_future(comparison.wait())
                await asyncio.wait({cancel_wait, waiting}, return_when=asyncio.FIRST_COMPLETED)
                if self._cancel.is_set() and not waiting.done():
                    comparison.stop_all()
                    await waiting
                    cancel_wait.cancel()
                    return  # a stopped cell is not saved: it will run again on resume
                cancel_wait.cancel()
                column = comparison.columns[0].record()
                cell = {"prompt_index": index, "model": model, **column}
                cell["checks"] = evaluate(prompt["checks"], cell)
                cell["passed"] = (
                    all(cell["checks"].values()) if cell["checks"] else cell["status"] == "complete"
                )
                await self._save_cell(cell)
                finished += 1
                if self.on_progress is not None:
                    self.on_progress(finished, total)

        await asyncio.gather(*(one(i, m) for i, m in todo))
        return await self.db.in_thread(self.cells)

    # -- reports ---------------------------------------------------------------------

    def grid(self) -> list[list[dict[str, Any] | None]]:
        plan, cells = self.plan(), self.cells()
        by_key = {(c["prompt_index"], c["model"]): c for c in cells}
        return [[by_key.get((i, m)) for m in plan["models"]] for i in range(len(plan["prompts"]))]

    def export(self, fmt: str) -> str:
        plan, grid = self.plan(), self.grid()
        if fmt == "json":
            return (
                json.dumps(
                    {"models": plan["models"], "prompts": plan["prompts"], "cells": self.cells()},
                    indent=2,
                    ensure_ascii=False,
                )
                + "\n"
            )
        if fmt == "csv":
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow(
                [
                    "prompt",
                    "model",
                    "status",
                    "passed",
                    "checks",
                    "first_token_s",
                    "total_s",
                    "input_tokens",
                    "output_tokens",
                    "tokens_per_second",
                    "usage_estimated",
                    "cost",
                    "text",
                ]
            )
            for i, row in enumerate(grid):
                for model, cell in zip(plan["models"], row, strict=True):
                    if cell is None:
                        writer.writerow([plan["prompts"][i]["text"], model, "not run", *[""] * 10])
                        continue
                    writer.writerow([plan["prompts"][i]["text"], model, cell["status"], cell["passed"], json.dumps(cell["checks"]),
                                     _seconds(cell.get("ttft_ms")), _seconds(cell.get("total_ms")), cell.get("input_tokens"),
                                     cell.get("output_tokens"), _rounded(cell.get("tokens_per_second"), 1),
                                     bool(cell.get("usage_estimated")), _rounded(cell.get("cost"), 6),
                                     cell.get("text")])  # fmt: skip
            return out.getvalue()
        if fmt == "html":
            head = "".join(f"<th>{html.escape(m)}</th>" for m in plan["models"])
            body = []
            for i, row in enumerate(grid):
                cells_html = []
                for cell in row:
                    if cell is None:
                        cells_html.append('<td class="none">not run</td>')
                        continue
                    mark = "pass" if cell["passed"] else "fail"
                    detail = ", ".join(f"{k}: {'✓' if v else '✗'}" for k, v in cell["checks"].items())
                    stats = html.escape(Reply.from_record(cell).stats())  # the line the tester shows
                    cells_html.append(
                        f'<td class="{mark}"><b>{mark.upper()}</b> · {stats}<br><small>{html.escape(detail)}</small>'
                        f"<details><summary>reply</summary><pre>{html.escape(cell.get('text') or cell.get('error') or '')}</pre></details></td>"
                    )
                body.append(
                    f"<tr><th>{html.escape(plan['prompts'][i]['text'][:120])}</th>{''.join(cells_html)}</tr>"
                )
            passed = sum(1 for c in self.cells() if c["passed"])
            return (
                "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Dataelan batch report</title><style>"
                "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
                "padding:6px;vertical-align:top;text-align:left}.pass{background:#e6f4ea}.fail{background:#fce8e6}"
                ".none{color:#888}pre{white-space:pre-wrap;max-width:40em}</style></head><body>"
                f"<h1>Batch report</h1><p>{passed} of {len(self.cells())} cells passed.</p>"
                f"<table><tr><th>prompt</th>{head}</tr>{''.join(body)}</table></body></html>\n"
            )
        raise ValueError(f"Unknown report format '{fmt}': use csv, json or html.")
