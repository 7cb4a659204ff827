"""The small, safe expression language of ``condition`` and ``when``: never Python's eval.

    len(draft.text) > 200 and not review.json.approved
    route == "long" or contains(inputs.topic, "urgent")
    extract.json.items[0].score >= 7

Values: numbers, "strings" or 'strings', true, false, null, and dotted names (``inputs.x``,
``step.text``, ``step.json.field``, ``[0]`` for a list item). Operators: ``== != < <= > >=``,
``contains`` (infix or as a function), ``len(x)``, ``and``, ``or``, ``not``, parentheses.

Text from a model is compared as people mean it: surrounding whitespace is ignored, and a number
compared with text that reads as a number compares as numbers ("7\\n" > 5 holds).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Path = tuple[str | int, ...]
Resolver = Callable[[Path], Any]


class ExpressionError(ValueError):
    """An expression that cannot be read or evaluated; the message points at the place."""


_TOKEN = re.compile(
    r"""\s*(?:
      (?P<number>\d+(?:\.\d+)?)
    | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (?P<op>==|!=|<=|>=|<|>|\(|\)|\[|\]|,|\.|-)
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "contains", "true", "false", "null", "len"}
_COMPARE = ("==", "!=", "<", "<=", ">", ">=", "contains")


@dataclass(frozen=True)
class Token:
    kind: str  # number | string | op | name | keyword | end
    text: str
    pos: int


def tokenize(source: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while True:
        while pos < len(source) and source[pos].isspace():
            pos += 1
        if pos >= len(source):
            break
        match = _TOKEN.match(source, pos)
        if match is None or match.end() == pos:
            raise ExpressionError(f"cannot read {source[pos : pos + 12]!r} at character {pos + 1}")
        group = match.lastgroup or ""
        text = match.group(group)
        kind = "keyword" if group == "name" and text in _KEYWORDS else group
        tokens.append(Token(kind, text, match.start(group)))
        pos = match.end()
    tokens.append(Token("end", "", len(source)))
    return tokens


# -- the tree: tuples, evaluated by one function --------------------------------------------
# ("lit", value) ("ref", path) ("not", a) ("and", a, b) ("or", a, b) ("cmp", op, a, b)
# ("len", a) ("neg", a)


class _Parser:
    def __init__(self, source: str):
        self.source = source
        self.tokens = tokenize(source)
        self.i = 0

    @property
    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self, text: str | None = None) -> Token:
        token = self.tokens[self.i]
        if text is not None and token.text != text:
            found = "the end" if token.kind == "end" else repr(token.text)
            raise ExpressionError(f"expected {text!r} at character {token.pos + 1}, found {found}")
        self.i += 1
        return token

    def parse(self) -> tuple:
        if self.peek.kind == "end":
            raise ExpressionError("the expression is empty")
        tree = self.or_()
        if self.peek.kind != "end":
            raise ExpressionError(f"unexpected {self.peek.text!r} at character {self.peek.pos + 1}")
        return tree

    def or_(self) -> tuple:
        tree = self.and_()
        while self.peek.text == "or":
            self.take()
            tree = ("or", tree, self.and_())
        return tree

    def and_(self) -> tuple:
        tree = self.not_()
        while self.peek.text == "and":
            self.take()
            tree = ("and", tree, self.not_())
        return tree

    def not_(self) -> tuple:
        if self.peek.text == "not":
            self.take()
            return ("not", self.not_())
        return self.compare()

    def compare(self) -> tuple:
        left = self.unary()
        if self.peek.text in _COMPARE and self.peek.kind in ("op", "keyword"):
            op = self.take().text
            return ("cmp", op, left, self.unary())
        return left

    def unary(self) -> tuple:
        if self.peek.text == "-":
            self.take()
            return ("neg", self.unary())
        return self.atom()

    def atom(self) -> tuple:
        token = self.take()
        if token.kind == "number":
            return ("lit", float(token.text) if "." in token.text else int(token.text))
        if token.kind == "string":
            return ("lit", _unquote(token.text))
        if token.text in ("true", "false", "null"):
            return ("lit", {"true": True, "false": False, "null": None}[token.text])
        if token.text == "(":
            tree = self.or_()
            self.take(")")
            return tree
        if token.text == "len":
            self.take("(")
            tree = ("len", self.or_())
            self.take(")")
            return tree
        if token.text == "contains":  # contains(haystack, needle)
            self.take("(")
            haystack = self.or_()
            self.take(",")
            needle = self.or_()
            self.take(")")
            return ("cmp", "contains", haystack, needle)
        if token.kind == "name":
            return ("ref", self.path(token.text))
        found = "the end" if token.kind == "end" else repr(token.text)
        raise ExpressionError(f"expected a value at character {token.pos + 1}, found {found}")

    def path(self, first: str) -> Path:
        parts: list[str | int] = [first]
        while self.peek.text in (".", "["):
            if self.take().text == ".":
                token = self.take()
                if token.kind not in ("name", "number", "keyword"):
                    raise ExpressionError(f"expected a field name after '.' at character {token.pos + 1}")
                parts.append(int(token.text) if token.kind == "number" else token.text)
            else:
                token = self.take()
                if token.kind == "number" and "." not in token.text:
                    parts.append(int(token.text))
                elif token.kind == "string":
                    parts.append(_unquote(token.text))
                else:
                    raise ExpressionError(f'expected a number or a "key" in [ ] at character {token.pos + 1}')
                self.take("]")
        return tuple(parts)


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


@dataclass(frozen=True)
class Expression:
    source: str
    tree: tuple

    @property
    def references(self) -> list[Path]:
        """Every dotted name the expression reads, in order."""
        found: list[Path] = []

        def walk(node: Any) -> None:
            if isinstance(node, tuple) and node:
                if node[0] == "ref":
                    found.append(node[1])
                    return
                for child in node[1:]:
                    walk(child)

        walk(self.tree)
        return found

    def evaluate(self, resolve: Resolver) -> Any:
        return _eval(self.tree, resolve)

    def holds(self, resolve: Resolver) -> bool:
        return truthy(self.evaluate(resolve))


def parse(source: str) -> Expression:
    return Expression(source, _Parser(source).parse())


def truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "no", "0")
    return bool(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _eval(node: tuple, resolve: Resolver) -> Any:
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "ref":
        return resolve(node[1])
    if kind == "not":
        return not truthy(_eval(node[1], resolve))
    if kind == "and":
        return truthy(_eval(node[1], resolve)) and truthy(_eval(node[2], resolve))
    if kind == "or":
        return truthy(_eval(node[1], resolve)) or truthy(_eval(node[2], resolve))
    if kind == "neg":
        value = _number(_eval(node[1], resolve))
        if value is None:
            raise ExpressionError("'-' needs a number")
        return -value
    if kind == "len":
        value = _eval(node[1], resolve)
        if value is None:
            return 0
        if isinstance(value, str | list | dict):
            return len(value.strip() if isinstance(value, str) else value)
        return len(str(value))
    if kind == "cmp":
        return _compare(node[1], _eval(node[2], resolve), _eval(node[3], resolve))
    raise ExpressionError(f"unknown expression node {kind}")


def _compare(op: str, left: Any, right: Any) -> bool:
    if op == "contains":
        if isinstance(left, list):
            return any(_equal(item, right) for item in left)
        if isinstance(left, dict):
            return str(right) in left
        return _text(right) in _text(left)
    if op in ("==", "!="):
        return _equal(left, right) == (op == "==")
    a, b = _number(left), _number(right)
    if a is None or b is None:
        if isinstance(left, str) and isinstance(right, str):
            a, b = left.strip(), right.strip()  # type: ignore[assignment]
        else:
            raise ExpressionError(f"cannot compare {_show(left)} {op} {_show(right)}: they are not numbers")
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]  # type: ignore[operator]


def _equal(left: Any, right: Any) -> bool:
    if isinstance(left, str) or isinstance(right, str):
        a, b = _number(left), _number(right)
        if a is not None and b is not None and not (isinstance(left, str) and isinstance(right, str)):
            return a == b
        return _text(left) == _text(right)
    return left == right


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _show(value: Any) -> str:
    text = _text(value)
    return repr(text if len(text) <= 30 else text[:27] + "...")
