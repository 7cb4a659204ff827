"""`make screenshots`: the real window offscreen on a sample database, saved as PNGs.

python -m dataelan_desktop.ui.screenshots docs
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


def main(out_dir: str = "docs") -> int:
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

    with loop:
        loop.run_until_complete(shoot())
    print(f"screenshots written to {out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
