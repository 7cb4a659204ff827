"""The condition language: what people write evaluates as they mean it, and nothing runs Python."""

from __future__ import annotations

import pytest

from dataelan_desktop.core.workflows.expr import ExpressionError, parse
from dataelan_desktop.core.workflows.values import Scope, StepValue

SCOPE = Scope(
    {"topic": "Urgent: the roof leaks", "count": 3},
    {
        "draft": StepValue("  A draft of forty characters, roughly.\n"),
        "score": StepValue("7\n"),
        "review": StepValue('```json\n{"approved": false, "items": [{"score": 9}], "tags": ["a", "b"]}\n```'),
    },
)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("len(draft.text) > 30", True),
        ("len(draft) < 30", False),
        ("score > 5 and score <= 7", True),
        ("score == 7", True),
        ("score != '7'", False),
        ("not review.json.approved", True),
        ("review.json.items[0].score >= 9", True),
        ("review.json.items.0.score == 9", True),
        ("review.json.tags contains 'b'", True),
        ("contains(inputs.topic, 'Urgent')", True),
        ('inputs.topic contains "leak" or inputs.count > 10', True),
        ("(inputs.count > 1 and inputs.count < 3) or false", False),
        ("-1 < 0", True),
        ("null == null", True),
        ("len(review.json.tags) == 2", True),
    ],
)
def test_expressions(source, expected):
    assert parse(source).holds(SCOPE.resolve) is expected


@pytest.mark.parametrize(
    "source",
    ["__import__('os')", "draft.text ==", "len(", "a b", "1 +", "'unclosed", "x[foo]", ""],
)
def test_what_is_not_the_language_is_refused_when_read(source):
    with pytest.raises(ExpressionError):
        parse(source)


def test_references_are_listed_for_the_graph():
    assert parse("len(draft.text) > 3 and contains(inputs.topic, x.json.k)").references == [
        ("draft", "text"),
        ("inputs", "topic"),
        ("x", "json", "k"),
    ]


def test_comparing_words_with_numbers_is_an_error_not_a_guess():
    with pytest.raises(ExpressionError, match="not numbers"):
        parse("draft > 3").evaluate(SCOPE.resolve)


def test_a_missing_field_is_said():
    with pytest.raises(LookupError, match="no field 'nope'"):
        parse("review.json.nope == 1").evaluate(SCOPE.resolve)
