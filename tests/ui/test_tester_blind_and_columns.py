"""Issue 16, items 3, 4 and 10 (tester parts), driven as a person meets them: columns added later,
blind votes among three columns, an honest leaderboard, the batch picker, dark-theme cells."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from dataelan_desktop.core.tester.history import votes
from tests.ui.conftest import wait_until
from tests.ui.test_tester_window import tick

#: what a blind column must not show before the vote: it names (or narrows down) the model
GIVEAWAYS = ("tokens", "$", "stop:", "fastest", "cheapest", "one:", "two:", "local:")


def _window(qtbot, services):
    from dataelan_desktop.ui.tester import TesterWindow

    window = TesterWindow(services)
    qtbot.addWidget(window)
    window.show()
    return window


def _items(combo) -> list[str]:
    return [combo.itemText(i) for i in range(combo.count())]


def test_a_column_added_later_lists_the_same_models(qloop, qtbot, ui_run, services, two_servers):
    window = _window(qtbot, services)
    compare = window.compare_tab

    async def scenario():
        await wait_until(lambda: compare.columns[0].model.count() >= 2, message="the models listed")
        listed = _items(compare.columns[0].model)
        assert {"one:gpt-4o-mini", "two:gpt-4o-mini"} <= set(listed)
        compare.count.setValue(3)  # Columns 2 → 3, as the spin box's arrow does
        compare.count.setValue(4)
        assert _items(compare.columns[2].model) == listed
        assert _items(compare.columns[3].model) == listed
        assert compare.columns[2].model.currentText() == ""  # offered, not chosen for the person

    ui_run(scenario())
    ui_run(services.registry.aclose())


def _run_blind_three(qtbot, compare, tiny_gguf):
    compare.count.setValue(3)
    models = ["one:m", "two:m", f"local:{tiny_gguf}"]
    for column, model in zip(compare.columns, models, strict=True):
        column.model.setEditText(model)
    compare.max_tokens.setValue(8)
    compare.blind.setChecked(True)
    qtbot.keyClicks(compare.prompt, "Say hello")
    qtbot.mouseClick(compare.run_button, Qt.MouseButton.LeftButton)
    return models


def test_blind_three_columns_hide_everything_and_pick_the_best(
    qloop, qtbot, ui_run, services, two_servers, tiny_gguf
):
    window = _window(qtbot, services)
    compare = window.compare_tab

    async def scenario():
        _run_blind_three(qtbot, compare, tiny_gguf)
        await wait_until(lambda: compare.votes.isVisible(), timeout=60, message="the vote offered")
        assert [c.title.text() for c in compare.columns] == ["Model A", "Model B", "Model C"]
        assert not any(c.model.isVisible() for c in compare.columns)
        for column in compare.columns:  # every column, not only some: a local model's $0 named it
            shown = column.stats.text()
            assert shown.startswith("complete") and not any(word in shown for word in GIVEAWAYS), shown
            assert not column.continue_chat.isEnabled()  # a conversation would carry the model's name
        assert [b.text() for b in compare.votes.best_buttons] == ["A is best", "B is best", "C is best"]
        shown_models = [compare.comparison.columns[i].model for i in compare.order]
        qtbot.mouseClick(compare.votes.best_buttons[1], Qt.MouseButton.LeftButton)
        await wait_until(lambda: "Vote recorded" in window.status.text(), message="the vote saved")
        assert f"B was {shown_models[1]}" in window.status.text()
        assert [c.title.text() for c in compare.columns] == [
            f"Model {letter}: {model}" for letter, model in zip("ABC", shown_models, strict=True)
        ]
        assert all("stop: " in c.stats.text() for c in compare.columns)  # the figures, after the vote
        assert sum("fastest" in c.stats.text() for c in compare.columns) == 1

        window.tabs.setCurrentWidget(window.leaderboard_tab)  # one vote: no certain-looking range
        board = window.leaderboard_tab.board
        await wait_until(lambda: board.count() == 3, message="the leaderboard")
        lines = [board.item(i).text() for i in range(3)]
        assert lines[0].startswith(f"1. {shown_models[1]}")
        assert all("too few votes" in line for line in lines), lines

    ui_run(scenario())
    ui_run(services.registry.aclose())
    winner = [v for v in votes(services.db)]
    assert len(winner) == 2 and all(v.outcome == "left" for v in winner)
    assert {v.left for v in winner} == {winner[0].left} and winner[0].left not in {v.right for v in winner}


def test_blind_three_columns_can_be_ranked(qloop, qtbot, ui_run, services, two_servers, tiny_gguf):
    window = _window(qtbot, services)
    compare = window.compare_tab

    async def scenario():
        _run_blind_three(qtbot, compare, tiny_gguf)
        await wait_until(lambda: compare.votes.isVisible(), timeout=60, message="the vote offered")
        shown_models = [compare.comparison.columns[i].model for i in compare.order]
        qtbot.mouseClick(compare.votes.rank_button, Qt.MouseButton.LeftButton)
        assert compare.votes.save_ranking.isVisible()
        a, b, c = compare.votes.rank_boxes
        a.setValue(3)
        b.setValue(1)
        c.setValue(1)  # B and C tie for first, A last
        qtbot.mouseClick(compare.votes.save_ranking, Qt.MouseButton.LeftButton)
        await wait_until(lambda: "Vote recorded" in window.status.text(), message="the ranking saved")
        return shown_models

    a_model, b_model, c_model = ui_run(scenario())
    ui_run(services.registry.aclose())
    assert sorted((v.left, v.right, v.outcome) for v in votes(services.db)) == sorted(
        [(a_model, b_model, "right"), (a_model, c_model, "right"), (b_model, c_model, "tie")]
    )


def _contrast(one: QColor, two: QColor) -> float:
    """WCAG contrast ratio of two colours."""

    def luminance(color: QColor) -> float:
        def channel(c: float) -> float:
            return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

        return (
            0.2126 * channel(color.redF())
            + 0.7152 * channel(color.greenF())
            + 0.0722 * channel(color.blueF())
        )

    light, dark = sorted((luminance(one), luminance(two)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_batch_picker_and_readable_cells_in_the_dark_theme(qloop, qtbot, qapp, ui_run, services, two_servers):
    from dataelan_desktop.ui.theme import apply_theme

    before = (qapp.style().name(), qapp.palette(), qapp.styleSheet())
    apply_theme(qapp, "dark")
    try:
        window = _window(qtbot, services)
        batch_tab = window.batch_tab

        async def scenario():
            window.tabs.setCurrentWidget(batch_tab)
            await wait_until(lambda: batch_tab.models.list.count() >= 2, message="the models listed")
            assert not hasattr(batch_tab.models, "text")  # ticked from a list, not typed comma-separated
            tick(batch_tab, "one:gpt-4o-mini", "two:gpt-4o-mini")
            batch_tab.prompts.setPlainText("Say something")
            batch_tab.contains.setText("first")  # one passes, one fails
            qtbot.mouseClick(batch_tab.run_button, Qt.MouseButton.LeftButton)
            await wait_until(lambda: "2/2 cells run" in window.status.text(), message="batch done")
            text_colour = batch_tab.grid.palette().color(batch_tab.grid.foregroundRole())
            seen = set()
            for column in range(2):
                item = batch_tab.grid.item(0, column)
                seen.add(item.text()[:4])
                # the colour the cell's text is painted in: its own, or else the theme's text colour
                own = item.data(Qt.ItemDataRole.ForegroundRole)
                foreground = item.foreground().color() if own is not None else text_colour
                assert _contrast(foreground, item.background().color()) >= 4.5, item.text()
            assert seen == {"PASS", "FAIL"}

        ui_run(scenario())
        ui_run(services.registry.aclose())
    finally:  # the next test gets the application as it was
        qapp.setStyle(before[0])
        qapp.setPalette(before[1])
        qapp.setStyleSheet(before[2])
