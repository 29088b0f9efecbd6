"""The syntax of rule conditions: tokenizer, syntax tree and a recursive-descent parser.

Condition text is turned into this module's own node classes; nothing is handed to Python's
``eval``, ``exec`` or ``compile``. Evaluation lives in ``risk_engine.rules.expr``.

Syntax (lowest precedence first)::

    or_expr     := and_expr ("or" and_expr)*
    and_expr    := not_expr ("and" not_expr)*
    not_expr    := "not" not_expr | comparison
    comparison  := additive [ ("<" | "<=" | ">" | ">=" | "==" | "!=") additive
                            | "is" ["not"] "missing"
                            | ["not"] "in" "[" [additive ("," additive)*] "]" ]
    additive    := term (("+" | "-") term)*
    term        := unary (("*" | "/") unary)*
    unary       := "-" unary | primary
    primary     := NUMBER | STRING | "true" | "false" | NAME | CALL | "(" or_expr ")"
    NAME        := IDENT ("." IDENT)*          e.g. dpd_current, features.dpd_current
    CALL        := FUNCTION "(" [or_expr ("," or_expr)*] ")"

Numbers are exact (``Decimal``; no exponent notation); strings use single or double quotes with ``\\``
escapes for the quote and the backslash. Comparisons do not chain (``1 < x < 3`` is a syntax error:
write ``x > 1 and x < 3``). ``null`` is accepted as a synonym of ``missing`` in ``is [not] null``.

Functions: ``min(a, b, ...)``, ``max(a, b, ...)``, ``abs(x)``, ``coalesce(a, b, ...)`` (the first
value that is not missing), ``days_between(a, b)`` (days from date ``a`` to date ``b``; dates as
``datetime.date`` values or ISO ``YYYY-MM-DD`` strings) and ``date("YYYY-MM-DD")``.

Hostile input: text longer than ``MAX_EXPRESSION_LENGTH``, more than ``MAX_TOKENS`` tokens, nesting
deeper than ``MAX_DEPTH``, long literals or lists are refused at parse time with a position.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from risk_engine.errors import InvalidInput

MAX_EXPRESSION_LENGTH = 2000
MAX_TOKENS = 400
MAX_DEPTH = 40
MAX_NUMBER_DIGITS = 30
MAX_STRING_LENGTH = 200
MAX_LIST_ITEMS = 200
MAX_NAME_PARTS = 4

KEYWORDS = frozenset({"and", "or", "not", "in", "is", "missing", "null", "true", "false"})
COMPARISON_OPERATORS = ("<=", ">=", "==", "!=", "<", ">")


class ExpressionSyntaxError(InvalidInput):
    """The condition text is not a valid expression; ``position`` is the 0-based character offset."""

    def __init__(self, message: str, position: int, text: str) -> None:
        column = position + 1
        super().__init__(
            f"{message} at position {column}",
            field="condition",
            code="rule_syntax",
            extra={"position": column, "text": text},
        )
        self.position = position


# --------------------------------------------------------------------------- tokens


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # number, string, name, keyword, op, end
    value: str
    position: int


_SINGLE_CHAR_OPS = frozenset("+-*/()[],.<>")


def tokenize(text: str) -> list[Token]:
    if not isinstance(text, str):
        raise ExpressionSyntaxError("condition must be text", 0, repr(text)[:80])
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ExpressionSyntaxError(
            f"condition longer than {MAX_EXPRESSION_LENGTH} characters", MAX_EXPRESSION_LENGTH, text[:80]
        )
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in " \t\r\n":
            i += 1
            continue
        if len(tokens) >= MAX_TOKENS:
            raise ExpressionSyntaxError(f"condition has more than {MAX_TOKENS} tokens", i, text)
        start = i
        if ch.isascii() and ch.isdigit():
            while i < n and text[i].isascii() and text[i].isdigit():
                i += 1
            if i < n and text[i] == "." and i + 1 < n and text[i + 1].isascii() and text[i + 1].isdigit():
                i += 1
                while i < n and text[i].isascii() and text[i].isdigit():
                    i += 1
            if i < n and (text[i].isalpha() or text[i] == "_"):
                raise ExpressionSyntaxError(f"unexpected character {text[i]!r} in number", i, text)
            literal = text[start:i]
            if sum(c.isdigit() for c in literal) > MAX_NUMBER_DIGITS:
                raise ExpressionSyntaxError(f"number longer than {MAX_NUMBER_DIGITS} digits", start, text)
            tokens.append(Token("number", literal, start))
        elif ch.isascii() and (ch.isalpha() or ch == "_"):
            while i < n and text[i].isascii() and (text[i].isalnum() or text[i] == "_"):
                i += 1
            word = text[start:i]
            tokens.append(Token("keyword" if word in KEYWORDS else "name", word, start))
        elif ch in "'\"":
            quote, i, chars = ch, i + 1, []
            while True:
                if i >= n:
                    raise ExpressionSyntaxError("unterminated string", start, text)
                c = text[i]
                if c == "\\":
                    if i + 1 >= n or text[i + 1] not in (quote, "\\"):
                        raise ExpressionSyntaxError("unsupported escape in string", i, text)
                    chars.append(text[i + 1])
                    i += 2
                    continue
                if c == quote:
                    i += 1
                    break
                chars.append(c)
                i += 1
            if len(chars) > MAX_STRING_LENGTH:
                raise ExpressionSyntaxError(f"string longer than {MAX_STRING_LENGTH} characters", start, text)
            tokens.append(Token("string", "".join(chars), start))
        elif text.startswith(("<=", ">=", "==", "!="), i):
            tokens.append(Token("op", text[i : i + 2], start))
            i += 2
        elif ch in _SINGLE_CHAR_OPS:
            tokens.append(Token("op", ch, start))
            i += 1
        elif ch in "=!":
            hint = " (use == to compare)" if ch == "=" else " (use != or not)"
            raise ExpressionSyntaxError(f"unexpected character {ch!r}{hint}", i, text)
        else:
            raise ExpressionSyntaxError(f"unexpected character {ch!r}", i, text)
    tokens.append(Token("end", "", n))
    return tokens


# --------------------------------------------------------------------------- syntax tree


@dataclass(frozen=True, slots=True)
class Node:
    position: int


@dataclass(frozen=True, slots=True)
class Literal(Node):
    value: Any  # Decimal | str | bool


@dataclass(frozen=True, slots=True)
class Name(Node):
    path: tuple[str, ...]

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True, slots=True)
class Negate(Node):
    operand: Node


@dataclass(frozen=True, slots=True)
class Arithmetic(Node):
    operator: str  # + - * /
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Comparison(Node):
    operator: str  # < <= > >= == !=
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Logical(Node):
    operator: str  # and | or
    operands: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not(Node):
    operand: Node


@dataclass(frozen=True, slots=True)
class Membership(Node):
    item: Node
    options: tuple[Node, ...]
    negated: bool


@dataclass(frozen=True, slots=True)
class MissingTest(Node):
    operand: Node
    negated: bool  # True for `is not missing`


@dataclass(frozen=True, slots=True)
class Call(Node):
    function: str
    arguments: tuple[Node, ...]


# --------------------------------------------------------------------------- parser


# name -> (minimum arguments, maximum arguments or None)
FUNCTION_ARITY: dict[str, tuple[int, int | None]] = {
    "min": (1, None),
    "max": (1, None),
    "abs": (1, 1),
    "coalesce": (1, None),
    "days_between": (2, 2),
    "date": (1, 1),
}


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0

    # -- helpers
    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def error(self, message: str, token: Token | None = None) -> ExpressionSyntaxError:
        token = token or self.current
        return ExpressionSyntaxError(message, token.position, self.text)

    def describe(self, token: Token) -> str:
        return "end of condition" if token.kind == "end" else repr(token.value)

    def advance(self) -> Token:
        token = self.current
        self.index += 1
        return token

    def at(self, kind: str, value: str | None = None) -> bool:
        token = self.current
        return token.kind == kind and (value is None or token.value == value)

    def expect(self, kind: str, value: str, what: str) -> Token:
        if not self.at(kind, value):
            raise self.error(f"expected {what}, found {self.describe(self.current)}")
        return self.advance()

    def nested(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"condition nested deeper than {MAX_DEPTH} levels")

    # -- grammar
    def parse(self) -> Node:
        if self.at("end"):
            raise self.error("empty condition")
        node = self.or_expr()
        if not self.at("end"):
            raise self.error(f"unexpected {self.describe(self.current)}")
        return node

    def or_expr(self) -> Node:
        return self.logical("or", self.and_expr)

    def and_expr(self) -> Node:
        return self.logical("and", self.not_expr)

    def logical(self, operator: str, operand: Callable[[], Node]) -> Node:
        first = operand()
        operands = [first]
        while self.at("keyword", operator):
            self.advance()
            operands.append(operand())
        return first if len(operands) == 1 else Logical(first.position, operator, tuple(operands))

    def not_expr(self) -> Node:
        if self.at("keyword", "not"):
            token = self.advance()
            self.nested()
            operand = self.not_expr()
            self.depth -= 1
            return Not(token.position, operand)
        return self.comparison()

    def comparison(self) -> Node:
        left = self.additive()
        token = self.current
        if token.kind == "op" and token.value in COMPARISON_OPERATORS:
            self.advance()
            if self.at("keyword", "missing") or self.at("keyword", "null"):
                raise self.error("compare with missing using `is missing` / `is not missing`")
            right = self.additive()
            following = self.current
            if following.kind == "op" and following.value in COMPARISON_OPERATORS:
                raise self.error("comparisons do not chain; join them with `and`", following)
            return Comparison(token.position, token.value, left, right)
        if token.kind == "keyword" and token.value == "is":
            self.advance()
            negated = False
            if self.at("keyword", "not"):
                self.advance()
                negated = True
            if not (self.at("keyword", "missing") or self.at("keyword", "null")):
                raise self.error(f"expected `missing` after `is`, found {self.describe(self.current)}")
            self.advance()
            return MissingTest(token.position, left, negated)
        if token.kind == "keyword" and token.value == "in":
            self.advance()
            return Membership(token.position, left, self.option_list(), False)
        if token.kind == "keyword" and token.value == "not" and self.tokens[self.index + 1].value == "in":
            self.advance()
            self.advance()
            return Membership(token.position, left, self.option_list(), True)
        return left

    def option_list(self) -> tuple[Node, ...]:
        self.expect("op", "[", "`[` to open the list after `in`")
        self.nested()
        options: list[Node] = []
        if not self.at("op", "]"):
            while True:
                options.append(self.additive())
                if len(options) > MAX_LIST_ITEMS:
                    raise self.error(f"list longer than {MAX_LIST_ITEMS} items")
                if not self.at("op", ","):
                    break
                self.advance()
        self.expect("op", "]", "`,` or `]` in the list")
        self.depth -= 1
        return tuple(options)

    def additive(self) -> Node:
        return self.left_chain(("+", "-"), self.term)

    def term(self) -> Node:
        return self.left_chain(("*", "/"), self.unary)

    def left_chain(self, operators: tuple[str, ...], operand: Callable[[], Node]) -> Node:
        depth = self.depth
        node = operand()
        while self.current.kind == "op" and self.current.value in operators:
            token = self.advance()
            self.nested()  # each link of a left-deep chain is one more level of the tree
            node = Arithmetic(token.position, token.value, node, operand())
        self.depth = depth
        return node

    def unary(self) -> Node:
        if self.at("op", "-"):
            token = self.advance()
            self.nested()
            operand = self.unary()
            self.depth -= 1
            if isinstance(operand, Literal) and isinstance(operand.value, Decimal):
                return Literal(token.position, -operand.value)
            return Negate(token.position, operand)
        return self.primary()

    def primary(self) -> Node:
        token = self.current
        if token.kind == "number":
            self.advance()
            return Literal(token.position, Decimal(token.value))
        if token.kind == "string":
            self.advance()
            return Literal(token.position, token.value)
        if token.kind == "keyword" and token.value in ("true", "false"):
            self.advance()
            return Literal(token.position, token.value == "true")
        if token.kind == "op" and token.value == "(":
            self.advance()
            self.nested()
            node = self.or_expr()
            self.expect("op", ")", "`)`")
            self.depth -= 1
            return node
        if token.kind == "name":
            return self.name_or_call()
        if token.kind == "keyword" and token.value in ("missing", "null"):
            raise self.error("`missing` can only be tested with `is missing` / `is not missing`")
        raise self.error(f"expected a value, found {self.describe(token)}")

    def name_or_call(self) -> Node:
        first = self.advance()
        if self.at("op", "("):
            return self.call(first)
        parts = [first.value]
        while self.at("op", "."):
            self.advance()
            if not self.at("name"):
                raise self.error(f"expected a name after `.`, found {self.describe(self.current)}")
            parts.append(self.advance().value)
            if len(parts) > MAX_NAME_PARTS:
                raise self.error(f"name has more than {MAX_NAME_PARTS} parts", first)
        if any(part.startswith("__") for part in parts):
            raise self.error("names may not start with `__`", first)
        return Name(first.position, tuple(parts))

    def call(self, name: Token) -> Node:
        if name.value not in FUNCTION_ARITY:
            allowed = ", ".join(sorted(FUNCTION_ARITY))
            raise self.error(f"unknown function {name.value!r} (allowed: {allowed})", name)
        self.advance()  # (
        self.nested()
        arguments: list[Node] = []
        if not self.at("op", ")"):
            while True:
                arguments.append(self.or_expr())
                if len(arguments) > MAX_LIST_ITEMS:
                    raise self.error(f"more than {MAX_LIST_ITEMS} arguments")
                if not self.at("op", ","):
                    break
                self.advance()
        self.expect("op", ")", "`,` or `)` in the argument list")
        self.depth -= 1
        low, high = FUNCTION_ARITY[name.value]
        if len(arguments) < low or (high is not None and len(arguments) > high):
            expected = str(low) if low == high else f"at least {low}"
            raise self.error(f"{name.value}() takes {expected} argument(s), got {len(arguments)}", name)
        return Call(name.position, name.value, tuple(arguments))


def parse_expression(text: str) -> Node:
    """Parse condition text into a syntax tree, or raise ``ExpressionSyntaxError`` naming the position."""
    return _Parser(text).parse()


def _children(node: Node) -> Iterable[Node]:
    if isinstance(node, Negate | Not | MissingTest):
        return (node.operand,)
    if isinstance(node, Arithmetic | Comparison):
        return (node.left, node.right)
    if isinstance(node, Logical):
        return node.operands
    if isinstance(node, Membership):
        return (node.item, *node.options)
    if isinstance(node, Call):
        return node.arguments
    return ()


def referenced_names(node: Node) -> frozenset[str]:
    """Every dotted name the expression reads."""
    found: set[str] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, Name):
            found.add(current.dotted)
        stack.extend(_children(current))
    return frozenset(found)


def _name_is_known(name: str, known_names: frozenset[str]) -> bool:
    if name in known_names:
        return True
    parts = name.split(".")
    return any(".".join(parts[:i]) + ".*" in known_names for i in range(1, len(parts)))


def unknown_names(node: Node, known_names: Iterable[str]) -> list[str]:
    """The names the expression reads that are not in ``known_names``, sorted.

    A known entry ``"features.*"`` admits every name under ``features.``.
    """
    known = frozenset(known_names)
    return sorted(name for name in referenced_names(node) if not _name_is_known(name, known))


def check_expression(text: str, known_names: Iterable[str] | None = None) -> Node:
    """Parse and, when ``known_names`` is given, refuse names outside it. Returns the tree."""
    node = parse_expression(text)
    if known_names is not None:
        unknown = unknown_names(node, known_names)
        if unknown:
            first = _first_position(node, set(unknown))
            raise ExpressionSyntaxError(f"unknown name(s): {', '.join(unknown)}", first, text)
    return node


def _first_position(node: Node, names: set[str]) -> int:
    positions = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, Name) and current.dotted in names:
            positions.append(current.position)
        stack.extend(_children(current))
    return min(positions, default=0)
