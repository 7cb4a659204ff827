"""The tester's Fuse action: the finished columns' replies merged into one answer by a chosen model,
through the shipped "Fuse answers" workflow, streaming in below the columns."""

from __future__ import annotations

from PySide6.QtCore import Qt

from dataelan_desktop.core.connections.store import save_provider
from dataelan_desktop.core.workflows import open_store
from tests.support.fake_openai import fake_openai_server, openai_stream
from tests.ui.conftest import wait_until


def test_fuse_merges_the_finished_columns(qloop, qtbot, ui_run, services):
    from dataelan_desktop.ui.tester import TesterWindow

    answers = {"one": "Paris is the capital.", "two": "The capital is Paris, on the Seine."}
    servers = {}
    for name, text in answers.items():
        server = fake_openai_server()
        server.default = openai_stream([text])
        save_provider(services.db, name, base_url=server.base_url + "/v1")
        servers[name] = server
    fuser = fake_openai_server()
    fuser.default = openai_stream(["Paris, ", "on the Seine, ", "is the capital."], delay=0.02)
    save_provider(services.db, "fuser", base_url=fuser.base_url + "/v1")
    window = TesterWindow(services)
    compare = window.compare_tab
    qtbot.addWidget(window)
    window.show()
    try:

        async def scenario():
            assert not compare.fuse.button.isEnabled()  # nothing to fuse yet
            compare.columns[0].model.setEditText("one:m")
            compare.columns[1].model.setEditText("two:m")
            qtbot.keyClicks(compare.prompt, "What is the capital of France?")
            qtbot.mouseClick(compare.run_button, Qt.MouseButton.LeftButton)
            await wait_until(lambda: compare.fuse.button.isEnabled(), message="the columns finished")
            compare.fuse.model.setEditText("nosuch:big")  # a model that is not there: said, nothing run
            qtbot.mouseClick(compare.fuse.button, Qt.MouseButton.LeftButton)
            await wait_until(lambda: window.status.text().startswith("Fuse failed"), message="refused")
            assert window.status.text().startswith(
                "Fuse failed: The input 'model': unknown model 'nosuch:big': there is no provider 'nosuch'"
            )
            assert open_store(services).runs() == [] and compare.fuse.button.isEnabled()
            compare.fuse.model.setEditText("fuser:big")
            qtbot.mouseClick(compare.fuse.button, Qt.MouseButton.LeftButton)
            await wait_until(lambda: window.status.text().startswith("Fused with fuser:big"), message="fused")
            assert compare.fuse.output.toPlainText() == "Paris, on the Seine, is the capital."
            sent = fuser.posts()[0].body
            prompt = sent["messages"][-1]["content"]
            assert sent["model"] == "big"
            assert "What is the capital of France?" in prompt
            assert "### Answer 1\nParis is the capital." in prompt
            assert "### Answer 2\nThe capital is Paris, on the Seine." in prompt
            runs = open_store(services).runs()
            assert len(runs) == 1 and runs[0].workflow_name == "Fuse answers" and runs[0].status == "complete"

        ui_run(scenario())
        ui_run(services.registry.aclose())
    finally:
        for server in [*servers.values(), fuser]:
            server.stop()
