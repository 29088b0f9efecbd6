"""Policy rules as data: a rule, an overlay action, a versioned rule set and its maker-checker lifecycle.

A rule set moves ``draft → active → retired``. A draft is approved by someone other than its author
(``approve``), and only an approved draft can be activated (``activate``); activating a new version
retires the old one, which the caller records with ``retire``. Every function here is pure: it returns
a new ``RuleSet`` or raises a domain error. The JSON form (``ruleset_to_json`` / ``ruleset_from_json``)
is what the service stores; money and fractions travel as decimal strings.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from risk_engine.errors import Conflict, IllegalTransition, InvalidInput, PermissionDenied
from risk_engine.rules.expr import Condition, ExpressionSyntaxError

RULE_CODE_PATTERN = re.compile(r"^[A-Z][A-Z0-9_]{1,63}$")
MAX_RULES = 500
MAX_NOTCHES = 10


class RuleKind(StrEnum):
    KNOCK_OUT = "knock_out"  # decline, with the rule's reason
    REFER = "refer"  # send to a risk officer
    OVERLAY = "overlay"  # adjust the grade or the limit, keep the decision


class RuleSetStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    RETIRED = "retired"


@dataclass(frozen=True)
class OverlayAction:
    """What a fired overlay does.

    ``notches``: move the grade down this many steps on the master scale (negative moves it up).
    ``limit_cap``: the limit may not exceed this amount (CNY).
    ``limit_fraction``: the limit may not exceed this fraction of what the limit policy would otherwise
    grant (0 < fraction ≤ 1).
    """

    notches: int = 0
    limit_cap: Decimal | None = None
    limit_fraction: Decimal | None = None

    def __post_init__(self) -> None:
        if isinstance(self.notches, bool) or not isinstance(self.notches, int):
            raise InvalidInput("notches must be a whole number", field="action.notches")
        if abs(self.notches) > MAX_NOTCHES:
            raise InvalidInput(f"notches must be within ±{MAX_NOTCHES}", field="action.notches")
        if self.limit_cap is not None and (not isinstance(self.limit_cap, Decimal) or self.limit_cap < 0):
            raise InvalidInput("limit_cap must be a non-negative decimal amount", field="action.limit_cap")
        if self.limit_fraction is not None and (
            not isinstance(self.limit_fraction, Decimal) or not Decimal(0) <= self.limit_fraction <= 1
        ):
            raise InvalidInput("limit_fraction must be between 0 and 1", field="action.limit_fraction")
        if self.notches == 0 and self.limit_cap is None and self.limit_fraction is None:
            raise InvalidInput(
                "an overlay action must notch the grade or cap the limit", field="action"
            )

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.notches:
            data["notches"] = self.notches
        if self.limit_cap is not None:
            data["limit_cap"] = str(self.limit_cap)
        if self.limit_fraction is not None:
            data["limit_fraction"] = str(self.limit_fraction)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OverlayAction:
        if not isinstance(data, Mapping):
            raise InvalidInput("action must be an object", field="action")
        unknown = set(data) - {"notches", "limit_cap", "limit_fraction"}
        if unknown:
            raise InvalidInput(f"unknown action field(s): {', '.join(sorted(unknown))}", field="action")
        return cls(
            notches=data.get("notches", 0),
            limit_cap=_decimal_or_none(data.get("limit_cap"), "action.limit_cap"),
            limit_fraction=_decimal_or_none(data.get("limit_fraction"), "action.limit_fraction"),
        )


@dataclass(frozen=True)
class Rule:
    code: str
    kind: RuleKind
    condition: Condition
    reason_zh: str
    reason_en: str
    action: OverlayAction | None = None

    def __post_init__(self) -> None:
        # accept plain values when built in code: Rule("X", "refer", "dpd_current > 0", ...)
        if isinstance(self.condition, str):
            try:
                object.__setattr__(self, "condition", Condition.parse(self.condition))
            except ExpressionSyntaxError as exc:
                raise InvalidInput(f"rule {self.code}: {exc.detail}", field="condition",
                                   code=exc.code, extra=exc.extra) from None
        if not isinstance(self.kind, RuleKind):
            try:
                object.__setattr__(self, "kind", RuleKind(self.kind))
            except ValueError:
                raise InvalidInput(f"rule {self.code}: unknown kind {self.kind!r}", field="kind") from None
        if not isinstance(self.code, str) or not RULE_CODE_PATTERN.match(self.code):
            raise InvalidInput(
                "rule code must be 2-64 upper-case letters, digits or underscores", field="code"
            )
        for name in ("reason_zh", "reason_en"):
            reason = getattr(self, name)
            if not isinstance(reason, str) or not reason.strip():
                raise InvalidInput(f"rule {self.code}: reasons in Chinese and English are required, as text",
                                   field=name)
        if self.kind is RuleKind.OVERLAY and self.action is None:
            raise InvalidInput(f"overlay rule {self.code} needs an action", field="action")
        if self.kind is not RuleKind.OVERLAY and self.action is not None:
            raise InvalidInput(f"only overlay rules take an action ({self.code} is {self.kind})",
                               field="action")

    @classmethod
    def from_json(cls, data: Mapping[str, Any], known_names: Iterable[str] | None = None) -> Rule:
        if not isinstance(data, Mapping):
            raise InvalidInput("a rule must be an object", field="rules")
        unknown = set(data) - {"code", "kind", "condition", "reason_zh", "reason_en", "action"}
        if unknown:
            raise InvalidInput(f"unknown rule field(s): {', '.join(sorted(unknown))}", field="rules")
        code = data.get("code")
        try:
            kind = RuleKind(data.get("kind"))
        except ValueError:
            raise InvalidInput(
                f"rule {code}: kind must be one of {', '.join(k.value for k in RuleKind)}", field="kind"
            ) from None
        try:
            condition = Condition.parse(data.get("condition"), known_names)
        except ExpressionSyntaxError as exc:
            raise InvalidInput(
                f"rule {code}: {exc.detail}", field="condition", code=exc.code, extra=exc.extra
            ) from None
        action = data.get("action")
        return cls(
            code=code,
            kind=kind,
            condition=condition,
            reason_zh=data.get("reason_zh", ""),
            reason_en=data.get("reason_en", ""),
            action=None if action is None else OverlayAction.from_json(action),
        )

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "code": self.code,
            "kind": self.kind.value,
            "condition": self.condition.text,
            "reason_zh": self.reason_zh,
            "reason_en": self.reason_en,
        }
        if self.action is not None:
            data["action"] = self.action.to_json()
        return data


@dataclass(frozen=True)
class RuleSet:
    version: int
    rules: tuple[Rule, ...]
    author: str
    status: RuleSetStatus = RuleSetStatus.DRAFT
    approver: str | None = None
    description: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)  # free metadata the caller keeps with the set

    def __post_init__(self) -> None:
        if not isinstance(self.status, RuleSetStatus):
            object.__setattr__(self, "status", RuleSetStatus(self.status))
        object.__setattr__(self, "rules", tuple(self.rules))
        if isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 1:
            raise InvalidInput("version must be a positive whole number", field="version")
        if not (self.author or "").strip():
            raise InvalidInput("a rule set needs an author", field="author")
        if len(self.rules) > MAX_RULES:
            raise InvalidInput(f"a rule set holds at most {MAX_RULES} rules", field="rules")
        seen: set[str] = set()
        for rule in self.rules:
            if rule.code in seen:
                raise InvalidInput(f"duplicate rule code {rule.code}", field="rules")
            seen.add(rule.code)
        if self.status is not RuleSetStatus.DRAFT and self.approver is None:
            raise InvalidInput(f"a {self.status} rule set must name its approver", field="approver")
        if self.approver is not None and _same_person(self.approver, self.author):
            raise PermissionDenied("the approver of a rule set may not be its author",
                                   field="approver", code="maker_checker")

    def rule(self, code: str) -> Rule:
        for rule in self.rules:
            if rule.code == code:
                return rule
        raise KeyError(code)

    @property
    def names(self) -> frozenset[str]:
        """Every context name the rule set reads."""
        return frozenset().union(*(rule.condition.names for rule in self.rules))


def _same_person(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()


def approve(ruleset: RuleSet, approver: str) -> RuleSet:
    """Record the checker's approval of a draft. The approver may not be the author (maker-checker)."""
    if not (approver or "").strip():
        raise InvalidInput("an approver is required", field="approver")
    if ruleset.status is not RuleSetStatus.DRAFT:
        raise IllegalTransition(f"only a draft can be approved; version {ruleset.version} is "
                                f"{ruleset.status}", field="status")
    if _same_person(approver, ruleset.author):
        raise PermissionDenied("the author of a rule set may not approve it",
                               field="approver", code="maker_checker")
    return replace(ruleset, approver=approver.strip())


def activate(ruleset: RuleSet) -> RuleSet:
    """Make an approved draft the active version. The caller retires the previously active one."""
    if ruleset.status is not RuleSetStatus.DRAFT:
        raise IllegalTransition(f"only a draft can be activated; version {ruleset.version} is "
                                f"{ruleset.status}", field="status")
    if ruleset.approver is None:
        raise Conflict("a rule set must be approved before it is activated",
                       field="approver", code="not_approved")
    return replace(ruleset, status=RuleSetStatus.ACTIVE)


def retire(ruleset: RuleSet) -> RuleSet:
    """Retire the active version (kept for history and for explaining past decisions)."""
    if ruleset.status is not RuleSetStatus.ACTIVE:
        raise IllegalTransition(f"only the active rule set can be retired; version {ruleset.version} "
                                f"is {ruleset.status}", field="status")
    return replace(ruleset, status=RuleSetStatus.RETIRED)


def draft_from(base: RuleSet, *, version: int, author: str, rules: Iterable[Rule] | None = None,
               description: str | None = None) -> RuleSet:
    """A new draft derived from ``base`` (any status), unapproved, by ``author``."""
    return RuleSet(
        version=version,
        rules=tuple(base.rules if rules is None else rules),
        author=author,
        description=base.description if description is None else description,
    )


# --------------------------------------------------------------------------- JSON


def ruleset_to_json(ruleset: RuleSet) -> dict[str, Any]:
    data: dict[str, Any] = {
        "version": ruleset.version,
        "status": ruleset.status.value,
        "author": ruleset.author,
        "approver": ruleset.approver,
        "description": ruleset.description,
        "rules": [rule.to_json() for rule in ruleset.rules],
    }
    if ruleset.extra:
        data["extra"] = dict(ruleset.extra)
    return data


def ruleset_from_json(data: Mapping[str, Any] | str, known_names: Iterable[str] | None = None) -> RuleSet:
    """Build a rule set from its JSON form (a mapping or JSON text), validating every rule.

    With ``known_names``, a condition that reads a name outside the set is refused.
    """
    if isinstance(data, str | bytes):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise InvalidInput(f"rule set is not valid JSON: {exc}", field="ruleset") from None
    if not isinstance(data, Mapping):
        raise InvalidInput("a rule set must be a JSON object", field="ruleset")
    rules_data = data.get("rules")
    if not isinstance(rules_data, list):
        raise InvalidInput("rules must be a list", field="rules")
    known = None if known_names is None else frozenset(known_names)
    rules = []
    for index, rule_data in enumerate(rules_data):
        try:
            rules.append(Rule.from_json(rule_data, known))
        except InvalidInput as exc:
            inner = exc.field if exc.field and exc.field != "rules" else None
            exc.field = f"rules[{index}].{inner}" if inner else f"rules[{index}]"
            raise
    try:
        status = RuleSetStatus(data.get("status", "draft"))
    except ValueError:
        raise InvalidInput("status must be draft, active or retired", field="status") from None
    return RuleSet(
        version=data.get("version"),
        rules=tuple(rules),
        author=data.get("author") or "",
        status=status,
        approver=data.get("approver"),
        description=data.get("description") or "",
        extra=dict(data.get("extra") or {}),
    )


def ruleset_digest(ruleset: RuleSet) -> str:
    """SHA-256 of the rules' canonical JSON (not of status or approver): what a decision was judged by."""
    canonical = json.dumps([rule.to_json() for rule in ruleset.rules], sort_keys=True,
                           ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _decimal_or_none(value: Any, field_name: str) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or isinstance(value, float):
        raise InvalidInput("give amounts and fractions as decimal strings", field=field_name)
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise InvalidInput(f"not a decimal: {value!r}", field=field_name) from None
    if not result.is_finite():
        raise InvalidInput(f"not a finite decimal: {value!r}", field=field_name)
    return result
