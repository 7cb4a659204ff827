"""Prompt templates: variables and rendering, the store, the built-in library, the migration."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from dataelan_desktop.core.changes import Changes
from dataelan_desktop.core.db.migrations import SCHEMA_HEAD
from dataelan_desktop.core.templates import (
    TemplateError,
    TemplateStore,
    Variable,
    render_text,
    template_variables,
)

BUILTIN_COUNT = len(
    json.loads((Path(__file__).parents[1] / "resources" / "templates.json").read_text())["templates"]
)


# -- rendering ---------------------------------------------------------------------------------


def test_variables_in_order_of_first_appearance_without_duplicates():
    found = template_variables("Hi {{b}} and {{ a }}, {{b}}", None, "{{a|x}} then {{c|  two words  }}")
    assert found == [Variable("b", None), Variable("a", "x"), Variable("c", "two words")]


def test_defaults_fill_what_is_not_given_and_values_win():
    text = "Translate into {{ language | French }}: {{input}}"
    assert render_text(text, {"input": "hello"}) == "Translate into French: hello"
    assert render_text(text, {"input": "hello", "language": "German"}) == "Translate into German: hello"
    # a blank value is not a value: the default applies
    assert render_text(text, {"input": "hello", "language": "  "}) == "Translate into French: hello"
    assert render_text("a{{opt|}}b", {}) == "ab"  # an empty default makes a variable optional


def test_braces_that_are_not_variables_are_left_as_written():
    text = 'JSON {"a": 1}, {single}, {{ not a var }}, {{1st}}, {{a-b}}, {{x|unclosed and {{name}}'
    assert [v.name for v in template_variables(text)] == ["name"]
    assert (
        render_text(text, {"name": "N"})
        == 'JSON {"a": 1}, {single}, {{ not a var }}, {{1st}}, {{a-b}}, {{x|unclosed and N'
    )


def test_a_value_is_inserted_as_written_not_rendered_again():
    assert render_text("Explain {{code}}", {"code": "{{secret}} {x}"}) == "Explain {{secret}} {x}"


def test_every_missing_variable_is_named_at_once():
    with pytest.raises(TemplateError) as err:
        render_text("{{a}} {{b|ok}} {{c}} {{a}}", {"c": ""})
    message = str(err.value)
    assert "a, c" in message and "b" not in message.split(":")[0]
    assert isinstance(err.value, ValueError)


# -- the store ---------------------------------------------------------------------------------


@pytest.fixture
def store(services) -> TemplateStore:
    services.templates.builtin_file = Path(__file__).parent / "no-builtins.json"  # missing: nothing seeded
    return services.templates


def test_create_list_get_update_and_render(services, store):
    heard: list[Changes] = []
    services.bus.subscribe(heard.append)
    created = store.create("  Email  ", "Write to {{who}} about {{topic|lunch}}", system_prompt="Be {{tone|kind}}",
                           category=" writing ", description="short emails")  # fmt: skip
    assert created.name == "Email" and created.category == "writing" and not created.builtin
    assert [v.name for v in created.variables] == ["who", "topic", "tone"]
    store.create("Answer", "Answer: {{input}}", category="qa")
    assert [t.name for t in store.list()] == ["Answer", "Email"]
    assert [t.name for t in store.list(category="writing")] == ["Email"]
    assert [t.name for t in store.list(query="LUNCH")] == ["Email"]  # the body is searched too
    assert store.get("email").id == created.id and store.get(created.id).name == "Email"

    updated = store.update(created.id, description="", body="Dear {{who}}")
    assert updated.description is None and updated.body == "Dear {{who}}"
    rendered = store.render("Email", {"who": "Ana"})
    assert rendered.prompt == "Dear Ana" and rendered.system == "Be kind"
    assert heard == [Changes(templates=True)] * 3


def test_bad_input_is_refused_and_nothing_saved_changes(store):
    original = store.create("Summary", "Summarise {{input}}")
    store.create("Other", "Other {{input}}")
    with pytest.raises(TemplateError, match="needs a name"):
        store.create("   ", "body")
    with pytest.raises(TemplateError, match="needs a body"):
        store.create("Empty", " \n ")
    with pytest.raises(TemplateError, match="'Summary' already exists"):
        store.create("summary", "different")
    with pytest.raises(TemplateError, match="already exists"):
        store.update(store.get("Other").id, name="SUMMARY", body="changed")
    with pytest.raises(TemplateError, match="needs a body"):
        store.update(original.id, body="")
    with pytest.raises(TemplateError, match="Unknown template fields"):
        store.update(original.id, colour="red")
    assert [(t.name, t.body) for t in store.list()] == [
        ("Other", "Other {{input}}"),
        ("Summary", "Summarise {{input}}"),
    ]


def test_delete_is_soft_and_frees_the_name(services, store):
    template = store.create("Gone", "x {{y}}")
    store.delete(template.id)
    assert store.list() == []
    with pytest.raises(LookupError, match="No template named 'Gone'"):
        store.get("Gone")
    with sqlite3.connect(services.db.path) as con:
        assert con.execute(
            "SELECT deleted_at IS NOT NULL FROM prompt_templates WHERE id=?", (template.id,)
        ).fetchone() == (1,)
    store.create("Gone", "a new one")
    with pytest.raises(TemplateError, match="already exists"):
        store.restore(template.id)  # undo cannot bring back a name that is taken again
    assert store.get("Gone").body == "a new one"


def test_unknown_name_suggests_the_closest(store):
    store.create("Translate", "{{input}}")
    with pytest.raises(LookupError, match="Did you mean 'Translate'"):
        store.get("translat")


# -- the built-in library -----------------------------------------------------------------------


def _count_rows(services) -> int:
    with sqlite3.connect(services.db.path) as con:
        return con.execute("SELECT count(*) FROM prompt_templates").fetchone()[0]


def test_builtins_are_seeded_on_first_use_once_and_never_resurrected(services):
    assert _count_rows(services) == 0  # not at start-up
    listed = services.templates.list()
    assert len(listed) == BUILTIN_COUNT >= 10 and all(t.builtin for t in listed)
    translate = services.templates.get("Translate")
    assert [v.name for v in translate.variables] == ["language", "input"]
    assert services.templates.ensure_builtin() == 0

    services.templates.delete(translate.id)
    again = TemplateStore(services.db, services.bus)  # the next start of the app
    assert again.ensure_builtin() == 0
    assert "Translate" not in [t.name for t in again.list()]
    assert _count_rows(services) == BUILTIN_COUNT


def test_a_later_builtin_is_added_once_beside_a_same_named_user_template(services, tmp_path):
    store = services.templates
    store.builtin_file = tmp_path / "v1.json"
    store.builtin_file.write_text(
        json.dumps({"templates": [{"key": "a", "name": "Alpha", "body": "A {{input}}"}]})
    )
    assert [t.name for t in store.list()] == ["Alpha"]
    store.create("Beta", "mine")
    later = TemplateStore(services.db, services.bus)
    later.builtin_file = tmp_path / "v2.json"
    later.builtin_file.write_text(json.dumps({"templates": [
        {"key": "a", "name": "Alpha", "body": "A {{input}}"}, {"key": "b", "name": "Beta", "body": "B"}]}))  # fmt: skip
    assert later.ensure_builtin() == 1 and later.ensure_builtin() == 0
    assert [(t.name, t.body) for t in later.list()] == [
        ("Alpha", "A {{input}}"),
        ("Beta", "mine"),
        ("Beta (built-in)", "B"),
    ]


def test_every_builtin_renders_with_its_required_variables(services):
    for template in services.templates.list():
        values = {v.name: f"<{v.name}>" for v in template.variables if v.required}
        rendered = services.templates.render(template.id, values)
        assert "{{" not in rendered.prompt, template.name
        assert template.description and template.category


# -- the migration ------------------------------------------------------------------------------


def test_a_0002_database_is_backed_up_migrated_and_keeps_its_rows(data_home: Path):
    from alembic import command
    from alembic.config import Config

    from dataelan_desktop.core.chat import ChatStore
    from dataelan_desktop.core.db import Database, engine, open_database
    from dataelan_desktop.core.db.engine import list_backups
    from dataelan_desktop.core.tester.history import get_run, save_run
    from dataelan_desktop.core.tester.runner import ColumnResult

    path = data_home / "dataelan.sqlite3"
    old = Database(engine.make_engine(f"sqlite:///{path}"), path)
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(engine.__file__).parent / "migrations"))
    with old.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "0002_tester")
    # rows as that schema held them, written with its own columns (today's ORM knows newer ones)
    project_id = "0b5c1d1e-0000-4000-8000-000000000002"
    with old.engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO projects (id, name, sort_order, created_at, updated_at) "
            "VALUES (?, 'Kept', 0, '2026-01-01 00:00:00.000000', '2026-01-01 00:00:00.000000')",
            (project_id,),
        )
    run_id = save_run(old, "Still here?", [ColumnResult("openai:a", text="yes", status="complete")])
    old.close()

    db = open_database()
    try:
        with db.engine.connect() as con:
            assert con.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one() == SCHEMA_HEAD
        assert [p.name for p in ChatStore(db).projects()] == ["Kept"] and ChatStore(db).projects()[
            0
        ].id == project_id
        assert get_run(db, run_id).columns[0]["text"] == "yes"
        from dataelan_desktop.core.changes import ChangeBus

        assert len(TemplateStore(db, ChangeBus()).list()) == BUILTIN_COUNT
    finally:
        db.close()
    backups = list_backups(path)
    assert len(backups) == 1 and f"before-{SCHEMA_HEAD}" in backups[0].name
    with sqlite3.connect(backups[0]) as con:
        assert con.execute("SELECT version_num FROM alembic_version").fetchone() == ("0002_tester",)
