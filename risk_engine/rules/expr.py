"""A small, safe expression language for policy-rule conditions.

Rule conditions are user text stored in a rule set; they are tokenised and parsed into our own syntax
tree (``risk_engine.rules.syntax``) and evaluated here by walking that tree. Nothing calls Python's
``eval``, ``exec`` or ``compile``, and user text never reaches an attribute: a name only reads keys of
the context mapping (and of mappings nested in it).

The grammar, the functions and the size limits that refuse hostile text are documented in ``syntax``.

Missing values — three-valued (Kleene) logic, as in SQL:

* a name is *missing* when the context has no such key or its value is ``None``;
* arithmetic, comparisons, ``in``, ``min``/``max``/``abs``/``days_between`` with a missing operand
  give *missing* (unknown), never ``false``;
* ``x is missing`` / ``x is not missing`` are always true or false;
* ``false and <anything>`` is false, ``true or <anything>`` is true (evaluation short-circuits left to
  right); otherwise ``and``/``or``/``not`` over an unknown give unknown;
* a rule fires only when its condition is exactly ``true``. ``not (dpd_current > 30)`` does not fire
  when ``dpd_current`` is missing. To act on missing data, say so: ``consent_scoring is missing or
  consent_scoring == false``. The evaluator records which names were missing, so an unknown result
  can be explained.

Types are strict: ordering compares numbers with numbers and dates with dates; ``==``/``!=`` need the
same type on both sides; ``and``/``or``/``not`` need booleans; arithmetic needs numbers. A violation is
an ``ExpressionEvaluationError`` (a rule in error, not a silent ``false``).

Decimal arithmetic runs in a bounded context whose overflow is an evaluation error.
"""
from __future__ import annotations

import datetime as dt
import decimal
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from risk_engine.errors import InvalidInput
from risk_engine.rules.syntax import (
    Arithmetic,
    Call,
    Comparison,
    ExpressionSyntaxError,
    Literal,
    Logical,
    Membership,
    MissingTest,
    Name,
    Negate,
    Node,
    Not,
    check_expression,
    parse_expression,
    referenced_names,
    unknown_names,
)

__all__ = [
    "MISSING",
    "Condition",
    "Evaluation",
    "ExpressionEvaluationError",
    "ExpressionSyntaxError",
    "check_expression",
    "evaluate_expression",
    "parse_expression",
    "referenced_names",
    "to_expression_value",
    "unknown_names",
]

_ARITHMETIC = decimal.Context(
    prec=34,
    rounding=decimal.ROUND_HALF_EVEN,
    Emax=999_999,
    Emin=-999_999,
    traps=[decimal.Overflow, decimal.DivisionByZero, decimal.InvalidOperation],
)

class ExpressionEvaluationError(InvalidInput):
    """A well-formed expression could not be evaluated on a context (type error, division by zero...)."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(
            f"{message} at position {position + 1}",
            field="condition",
            code="rule_evaluation",
            extra={"position": position + 1},
        )
        self.position = position


class _Missing:
    """The unknown value of three-valued logic. A singleton: compare with ``is MISSING``."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        raise TypeError("MISSING has no truth value; test it with `is MISSING`")


MISSING = _Missing()


# --------------------------------------------------------------------------- evaluation


def to_expression_value(value: Any) -> Any:
    """Normalise a context value: numbers to ``Decimal``, ``None`` to ``MISSING``; bool, str, date kept."""
    if value is None or value is MISSING:
        return MISSING
    if isinstance(value, bool | str | Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if value != value:  # NaN: an absent measurement
            return MISSING
        return Decimal(repr(float(value)))  # numpy's float64 is a float whose repr names numpy
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    # numpy scalars register with the numeric tower; numpy booleans do not (their type is named
    # ``bool_`` before numpy 2, ``bool`` since): known by their dtype
    if isinstance(value, numbers.Integral):
        return Decimal(int(value))
    if isinstance(value, numbers.Real):
        return to_expression_value(float(value))
    if getattr(getattr(value, "dtype", None), "kind", None) == "b":
        return bool(value)
    raise TypeError(f"unsupported context value of type {type(value).__name__}")


@dataclass
class Evaluation:
    """The result of evaluating one expression: ``value`` plus the names found missing on the way."""

    value: Any
    missing_names: tuple[str, ...] = ()


@dataclass
class _Evaluator:
    context: Mapping[str, Any]
    missing: list[str] = field(default_factory=list)

    def fail(self, node: Node, message: str) -> ExpressionEvaluationError:
        return ExpressionEvaluationError(message, node.position)

    def resolve(self, node: Name) -> Any:
        dotted = node.dotted
        if dotted in self.context:
            raw = self.context[dotted]
        else:
            raw: Any = self.context
            for part in node.path:
                if isinstance(raw, Mapping) and part in raw:
                    raw = raw[part]
                else:
                    raw = None
                    break
        try:
            value = to_expression_value(raw)
        except TypeError as exc:
            raise self.fail(node, f"{dotted}: {exc}") from None
        if value is MISSING and dotted not in self.missing:
            self.missing.append(dotted)
        return value

    def run(self, node: Node) -> Any:
        if isinstance(node, Literal):
            return node.value
        if isinstance(node, Name):
            return self.resolve(node)
        if isinstance(node, Logical):
            return self.logical(node)
        if isinstance(node, Not):
            value = self.boolean(node.operand)
            return MISSING if value is MISSING else not value
        if isinstance(node, Comparison):
            return self.compare(node)
        if isinstance(node, MissingTest):
            is_missing = self.run(node.operand) is MISSING
            return not is_missing if node.negated else is_missing
        if isinstance(node, Membership):
            return self.membership(node)
        if isinstance(node, Arithmetic):
            return self.arithmetic(node)
        if isinstance(node, Negate):
            value = self.number(node.operand)
            return MISSING if value is MISSING else -value
        if isinstance(node, Call):
            return self.call(node)
        raise self.fail(node, f"unsupported node {type(node).__name__}")

    def boolean(self, node: Node) -> Any:
        value = self.run(node)
        if value is not MISSING and not isinstance(value, bool):
            raise self.fail(node, f"expected true/false, got {_type_name(value)}")
        return value

    def number(self, node: Node) -> Any:
        value = self.run(node)
        if value is not MISSING and not (isinstance(value, Decimal)):
            raise self.fail(node, f"expected a number, got {_type_name(value)}")
        return value

    def logical(self, node: Logical) -> Any:
        decisive = node.operator == "or"  # `true` decides an or, `false` decides an and
        unknown = False
        for operand in node.operands:
            value = self.boolean(operand)
            if value is MISSING:
                unknown = True
            elif value is decisive:
                return decisive
        return MISSING if unknown else not decisive

    def compare(self, node: Comparison) -> Any:
        left, right = self.run(node.left), self.run(node.right)
        if left is MISSING or right is MISSING:
            return MISSING
        if node.operator in ("==", "!="):
            equal = self.equal(node, left, right)
            return equal if node.operator == "==" else not equal
        ordered_types = (Decimal, dt.date)
        if not (
            isinstance(left, ordered_types)
            and not isinstance(left, bool)
            and type(left) is type(right)
        ):
            raise self.fail(node, f"cannot order {_type_name(left)} and {_type_name(right)}")
        if node.operator == "<":
            return left < right
        if node.operator == "<=":
            return left <= right
        if node.operator == ">":
            return left > right
        return left >= right

    def equal(self, node: Node, left: Any, right: Any) -> bool:
        if _type_name(left) != _type_name(right):
            raise self.fail(node, f"cannot compare {_type_name(left)} with {_type_name(right)}")
        return bool(left == right)

    def membership(self, node: Membership) -> Any:
        item = self.run(node.item)
        if item is MISSING:
            return MISSING
        unknown = False
        for option in node.options:
            value = self.run(option)
            if value is MISSING:
                unknown = True
            elif self.equal(option, item, value):
                return not node.negated
        if unknown:
            return MISSING
        return node.negated

    def arithmetic(self, node: Arithmetic) -> Any:
        left, right = self.number(node.left), self.number(node.right)
        if left is MISSING or right is MISSING:
            return MISSING
        try:
            if node.operator == "+":
                return _ARITHMETIC.add(left, right)
            if node.operator == "-":
                return _ARITHMETIC.subtract(left, right)
            if node.operator == "*":
                return _ARITHMETIC.multiply(left, right)
            if right == 0:
                raise self.fail(node, "division by zero")
            return _ARITHMETIC.divide(left, right)
        except decimal.DecimalException as exc:
            raise self.fail(node, f"arithmetic error ({type(exc).__name__})") from None

    def call(self, node: Call) -> Any:
        name = node.function
        if name == "coalesce":
            for argument in node.arguments:
                value = self.run(argument)
                if value is not MISSING:
                    return value
            return MISSING
        if name in ("min", "max", "abs"):
            values = [self.number(argument) for argument in node.arguments]
            if any(value is MISSING for value in values):
                return MISSING
            if name == "abs":
                return abs(values[0])
            return min(values) if name == "min" else max(values)
        if name == "date":
            value = self.run(node.arguments[0])
            return MISSING if value is MISSING else self.as_date(node.arguments[0], value)
        if name == "days_between":
            start, end = (self.run(argument) for argument in node.arguments)
            if start is MISSING or end is MISSING:
                return MISSING
            first = self.as_date(node.arguments[0], start)
            second = self.as_date(node.arguments[1], end)
            return Decimal((second - first).days)
        raise self.fail(node, f"unknown function {name!r}")

    def as_date(self, node: Node, value: Any) -> dt.date:
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                raise self.fail(node, f"not an ISO date: {value[:40]!r}") from None
        raise self.fail(node, f"expected a date, got {_type_name(value)}")


def _type_name(value: Any) -> str:
    if value is MISSING:
        return "missing"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, Decimal):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dt.date):
        return "date"
    return type(value).__name__


def evaluate_expression(node: Node, context: Mapping[str, Any]) -> Evaluation:
    """Evaluate a parsed expression on a context mapping.

    Raises ``ExpressionEvaluationError`` on a type error, division by zero or arithmetic overflow.
    """
    evaluator = _Evaluator(context)
    value = evaluator.run(node)
    return Evaluation(value, tuple(evaluator.missing))


@dataclass(frozen=True)
class Condition:
    """A parsed rule condition: its source text, tree and the names it reads."""

    text: str
    tree: Node
    names: frozenset[str]

    @classmethod
    def parse(cls, text: str, known_names: Iterable[str] | None = None) -> Condition:
        tree = check_expression(text, known_names)
        return cls(text, tree, referenced_names(tree))

    def evaluate(self, context: Mapping[str, Any]) -> Evaluation:
        return evaluate_expression(self.tree, context)
