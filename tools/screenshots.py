"""`make screenshots`: the real window offscreen on a sample database, saved as PNGs.

python -m tools.screenshots docs                     # every image
python -m tools.screenshots docs archived,context    # only the named states (see ONLY)
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

SAMPLE_REPLY = """Here is a small example of **streaming JSON parsing** in Python:

```python
import json

def parse_lines(lines):
    for line in lines:
        if line.strip():
            yield json.loads(line)
```

| Approach | Memory | Speed |
| --- | --- | --- |
| `json.load` | whole file | fast |
| line by line | one record | steady |

- Works with *any* iterable of lines
- See [the json docs](https://docs.python.org/3/library/json.html) for details
"""


def seed(services) -> str:
    """A sample project with a few conversations; returns the one to show."""
    from dataelan_desktop.core.db.tables import Message, MessageStatus

    store = services.store
    project = store.create_project(
        "Research", instructions="Answer briefly.", default_model="openai:gpt-4o-mini"
    )
    store.create_project("Travel plans")
    for title in ("Trip to Lisbon", "Packing list"):
        store.create_conversation(title=title)
    conversation = store.create_conversation(
        project.id, model="openai:gpt-4o-mini", title="Parsing JSON streams"
    )

    def add(s):
        q = Message(
            conversation_id=conversation.id, role="user", content="How do I parse a JSON Lines file lazily?"
        )
        s.add(q)
        s.flush()
        a1 = Message(
            conversation_id=conversation.id,
            parent_id=q.id,
            role="assistant",
            content="Use a generator.",
            model="local:qwen2.5-0.5b-instruct-q4_k_m.gguf",
            output_tokens=5,
            input_tokens=20,
            ttft_ms=180,
            duration_ms=400,
        )
        s.add(a1)
        s.flush()
        a2 = Message(
            conversation_id=conversation.id,
            parent_id=q.id,
            role="assistant",
            content=SAMPLE_REPLY,
            model="openai:gpt-4o-mini",
            input_tokens=21,
            output_tokens=142,
            ttft_ms=310,
            duration_ms=2900,
        )
        s.add(a2)
        s.flush()
        q2 = Message(
            conversation_id=conversation.id, parent_id=a2.id, role="user", content="And for a 20 GB file?"
        )
        s.add(q2)
        s.flush()
        s.add(Message(conversation_id=conversation.id, parent_id=q2.id, role="assistant",
                      content="The same generator works: it reads one line at a time, so memory stays flat while",
                      status=MessageStatus.STOPPED, model="openai:gpt-4o-mini"))  # fmt: skip

    services.db.call(add)
    store.create_conversation(project.id, title="Comparing tokenizers")
    return conversation.id


SAMPLE_REPLIES = (
    "The Moon pulls on the ocean a little, like a magnet pulling on a blanket of water. The side of Earth "
    "facing the Moon bulges toward it, and so does the far side. As Earth spins, your beach moves through "
    "those bulges: high tide, then low tide, about twice a day.\n\nQuestion: why are there two high tides?",
    "Imagine Earth wearing a water coat. The Moon's gravity tugs that coat into two bumps, one toward the Moon "
    "and one away from it. Earth turns underneath the bumps, so the sea rises and falls along the shore. "
    "The Sun helps too: when Sun and Moon line up, tides are extra big (spring tides).",
    "Tides happen because the moon's gravity pulls the water. When the water is pulled toward your beach "
    "it is high tide. When it is pulled away it is low tide. This happens two times every day.",
)


def seed_archived(services) -> None:
    """A few conversations, two of them archived: what the sidebar's Archived view lists."""
    store = services.store
    for title in ("Garden planning", "Sourdough schedule"):
        store.create_filled_conversation(
            [
                dict(role="user", content=f"Notes on {title.lower()}"),
                dict(role="assistant", content="Noted."),
            ],
            title=title,
        )
    for title in ("Old tax questions (2024)", "Conference travel, March"):
        conversation_id = store.create_filled_conversation(
            [dict(role="user", content=f"About: {title}"), dict(role="assistant", content="Here you are.")],
            title=title,
        )
        store.update_conversation(conversation_id, archived=True)


LONG_TURNS = [
    ("user", "Tell me about the harbour town where the lighthouse keeper lived for forty years."),
    ("assistant", "The harbour town sat below chalk cliffs; its lighthouse keeper logged every ship."),
    ("user", "What did the keeper write in the logbook on the night of the great storm of 1901?"),
    ("assistant", "He wrote that three schooners sheltered in the bay and that the lamp never went dark."),
    ("user", "And who inherited the logbook after the keeper died, according to the town records?"),
    ("assistant", "His niece, a schoolteacher, who later gave it to the museum by the old fish market."),
]


async def shoot_first_hour(out: Path, home: str, only: set[str]) -> None:
    """The Archived view with an archived conversation open, and the context meter of a conversation
    longer than a small local model's context (a tiny GGUF written here, as the tests write theirs)."""
    from PySide6.QtCore import QSettings

    from dataelan_desktop.core.services import build_services
    from dataelan_desktop.ui.main.window import MainWindow
    from tests.support.tiny_gguf import write_tiny_llama

    os.environ["DATAELAN_HOME"] = tempfile.mkdtemp(prefix="dataelan-first-hour-")
    services = build_services()
    services.bus.bind_loop(asyncio.get_event_loop())
    settings = QSettings(str(Path(home) / "first-hour.ini"), QSettings.Format.IniFormat)
    settings.setValue("appearance/theme", "light")
    window = MainWindow(services, settings=settings, probe_servers=False)
    window.resize(1280, 820)
    window.show()
    await asyncio.sleep(0.8)
    if "archived" in only:
        seed_archived(services)
        await asyncio.sleep(0.3)
        window.sidebar.archived_button.click()
        await asyncio.sleep(0.5)
        items = window.sidebar.archived_items()
        if items:
            window.sidebar.archived.setCurrentItem(items[0])
            window.sidebar._archived_activated(items[0])
        await asyncio.sleep(0.8)
        window.grab().save(str(out / "archived.png"))
        window.sidebar.archived_button.click()
    if "context" in only:
        # a context of 160 tokens: the conversation is just too long for it
        model = write_tiny_llama(Path(os.environ["DATAELAN_HOME"]) / "tiny-chat.gguf", n_ctx=160)
        conversation_id = services.store.create_filled_conversation(
            [dict(role=role, content=text) for role, text in LONG_TURNS], title="The lighthouse keeper",
            model=f"local:{model}",
        )  # fmt: skip
        window.open_conversation(conversation_id)
        window.composer.editor.setPlainText("So where is the logbook now?")
        await asyncio.sleep(1.5)
        window.grab().save(str(out / "context-meter.png"))
    window.close()
    await services.aclose()
    services.close()


#: the states `python -m tools.screenshots docs NAMES` can shoot alone (comma-separated)
ONLY = ("archived", "context", "blind-vote")


def main(out_dir: str = "docs", only: str = "") -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    home = tempfile.mkdtemp(prefix="dataelan-screens-")
    os.environ["DATAELAN_HOME"] = home
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    import qasync
    from PySide6.QtCore import QSettings, Qt
    from PySide6.QtWidgets import QApplication

    from dataelan_desktop.core.services import build_services
    from dataelan_desktop.ui.main.window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    settings = QSettings(str(Path(home) / "settings.ini"), QSettings.Format.IniFormat)

    async def shoot() -> None:
        for theme in ("light", "dark"):
            settings.setValue("appearance/theme", theme)
            services = build_services()
            if not services.store.projects():
                first = seed(services)
            settings.setValue("session/last_conversation", first)
            window = MainWindow(services, settings=settings, probe_servers=False)
            window.resize(1280, 820)
            window.show()
            await asyncio.sleep(1.0)
            window.grab().save(str(out / f"main-{theme}.png"))
            window.open_settings()
            await asyncio.sleep(0.5)
            window.settings_dialog.grab().save(str(out / f"settings-{theme}.png"))
            window.settings_dialog.close()
            window.close()
            services.close()
        # first run: an empty data folder
        os.environ["DATAELAN_HOME"] = tempfile.mkdtemp(prefix="dataelan-first-")
        services = build_services()
        window = MainWindow(
            services, settings=QSettings(str(Path(home) / "first.ini"), QSettings.Format.IniFormat)
        )
        window.resize(1280, 820)
        window.show()
        await asyncio.sleep(1.5)
        window.grab().save(str(out / "first-run.png"))
        window.close()
        services.close()
        await shoot_tools()

    async def shoot_tools() -> None:
        """The template library and the model tester with a comparison reopened from its history."""
        from dataelan_desktop.core.providers.reply import Reply
        from dataelan_desktop.core.tester.history import save_run
        from dataelan_desktop.ui.templates.library_window import TemplatesWindow
        from dataelan_desktop.ui.tester import TesterWindow

        os.environ["DATAELAN_HOME"] = home
        settings.setValue("appearance/theme", "light")
        services = build_services()
        templates = TemplatesWindow(services)
        templates.resize(1100, 680)
        templates.show()
        await asyncio.sleep(0.8)
        wanted = templates.list.findItems("Explain simply", Qt.MatchFlag.MatchStartsWith)
        if wanted:
            templates.list.setCurrentItem(wanted[0])
        await asyncio.sleep(0.3)
        templates.grab().save(str(out / "templates.png"))
        templates.close()

        def column(model: str, text: str, ttft: float, total: float, tokens: tuple[int, int], stop: str):
            return Reply(model, text, "complete", ttft_ms=ttft, duration_ms=total, generation_ms=total - ttft,
                         input_tokens=tokens[0], output_tokens=tokens[1], stop_reason=stop)  # fmt: skip

        columns = [
            column("openai:gpt-4o-mini", SAMPLE_REPLIES[0], 412.0, 2380.0, (31, 118), "stop"),
            column(
                "anthropic:claude-3-5-haiku-latest", SAMPLE_REPLIES[1], 655.0, 3120.0, (33, 131), "end_turn"
            ),
            column("local:qwen2.5-0.5b-instruct", SAMPLE_REPLIES[2], 95.0, 4020.0, (40, 142), "stop"),
        ]
        save_run(services.db, "Explain how tides work to a curious 12-year-old.", columns,
                 settings={"template": "Explain simply", "order": [0, 1, 2]})  # fmt: skip
        tester = TesterWindow(services)
        tester.resize(1280, 760)
        tester.show()
        await tester.history_tab.refresh()  # both read on the database thread: wait for them
        await tester.reopen(tester.history_tab.item(0))
        await asyncio.sleep(0.8)
        tester.grab().save(str(out / "tester.png"))
        tester.close()
        services.close()
        await shoot_blind_vote()

    async def shoot_blind_vote() -> None:
        """Three columns of a blind comparison, finished and waiting for the vote: nothing names a model."""
        from dataelan_desktop.core.providers.reply import Reply
        from dataelan_desktop.core.tester.history import save_run
        from dataelan_desktop.core.tester.runner import Comparison
        from dataelan_desktop.ui.tester import TesterWindow

        os.environ["DATAELAN_HOME"] = home
        services = build_services()
        models = ["openai:gpt-4o-mini", "anthropic:claude-3-5-haiku-latest", "local:qwen2.5-0.5b-instruct"]
        timings = ((412.0, 2380.0, 118), (655.0, 3120.0, 131), (95.0, 4020.0, 142))
        comparison = Comparison(services.registry, models)
        comparison.columns = [
            Reply(
                model,
                text,
                "complete",
                ttft_ms=ttft,
                duration_ms=total,
                generation_ms=total - ttft,
                input_tokens=31,
                output_tokens=tokens,
                stop_reason="stop",
            )  # fmt: skip
            for model, text, (ttft, total, tokens) in zip(models, SAMPLE_REPLIES, timings, strict=True)
        ]
        prompt = "Explain how tides work to a curious 12-year-old."
        order = [2, 0, 1]
        run_id = save_run(services.db, prompt, comparison.columns, blind=True, settings={"order": order})
        tester = TesterWindow(services)
        tester.resize(1280, 760)
        compare = tester.compare_tab
        compare.count.setValue(3)
        compare.blind.setChecked(True)
        compare.prompt.setPlainText(prompt)
        # the state a blind run is in when its last column finished: what the window shows then
        compare.comparison, compare.order, compare.run_id, compare._hidden = comparison, order, run_id, True
        for position, column in enumerate(compare.columns):
            column.title.setText(f"Model {chr(65 + position)}")
            column.model.setVisible(False)
        compare._paint()
        compare.votes.ask(3)
        tester.status.setText("Done. Vote below.")
        tester.show()
        await asyncio.sleep(0.8)
        tester.grab().save(str(out / "tester-blind-vote.png"))
        tester.close()
        services.close()

    with loop:
        if only:  # just these states: the other images are left as they are
            chosen = set(only.split(",")) & set(ONLY)
            if chosen & {"archived", "context"}:
                loop.run_until_complete(shoot_first_hour(out, home, chosen))
            if "blind-vote" in chosen:
                loop.run_until_complete(shoot_blind_vote())
        else:
            loop.run_until_complete(shoot())
            loop.run_until_complete(shoot_first_hour(out, home, set(ONLY)))
    print(f"screenshots written to {out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
