"""Declarative rule overrides: safe conditions (no eval), explicit order, first match wins.

A rule in ``config/pipelines.yaml``::

    rules:
      - id: sanctioned-country          # recorded in rule_ids of every output it decides
        when: {field: country, in: [KP, IR, SY]}
        action: block                    # approve | block | review | categorize
        category: sanctioned_country     # optional (required for categorize)

Conditions: a leaf names a ``field`` of the event (dotted paths reach nested values) or a
``feature`` of the type's feature module, and one operator: ``eq``, ``ne``, ``in``, ``not_in``,
``gt``, ``gte``, ``lt``, ``lte``, ``matches`` (a regular expression, full match) or ``missing``
(true/false). ``all: [...]``, ``any: [...]`` and ``not: {...}`` combine them. Rules are checked in
the order written; the first that matches decides, and overrides the model (regulatory and
business rules win). Rules are compiled at start-up: a bad rule stops the processor with an error
naming the event type, the rule and the field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from processor.errors import ConfigError

Predicate = Callable[[Mapping[str, Any], Mapping[str, float | None]], bool]
ACTIONS = ("approve", "block", "review", "categorize")
_COMPARE = ("gt", "gte", "lt", "lte")
_OPERATORS = ("eq", "ne", "in", "not_in", *_COMPARE, "matches", "missing")
_MISSING = object()


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    action: str
    category: str | None
    matches: Predicate


def compile_rules(
    event_type: str, raw_rules: Sequence[Mapping[str, Any]], fields: set[str], features: set[str]
) -> list[Rule]:
    rules: list[Rule] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_rules):
        where = f"event_types.{event_type}.rules[{index}]"
        if not isinstance(raw, Mapping):
            raise ConfigError("invalid_rule", f"{where}: a rule is a mapping with id, when and action")
        rule_id = raw.get("id")
        if not isinstance(rule_id, str) or not rule_id:
            raise ConfigError("invalid_rule", f"{where}: every rule needs a non-empty string id")
        where = f"{where} (id {rule_id})"
        if rule_id in seen:
            raise ConfigError("invalid_rule", f"{where}: duplicate rule id")
        seen.add(rule_id)
        unknown = set(raw) - {"id", "when", "action", "category", "description"}
        if unknown:
            raise ConfigError("invalid_rule", f"{where}: unknown key(s) {sorted(unknown)}")
        action = raw.get("action")
        if action not in ACTIONS:
            raise ConfigError("invalid_rule", f"{where}: action must be one of {list(ACTIONS)}, got {action!r}")
        category = raw.get("category")
        if category is not None and not isinstance(category, str):
            raise ConfigError("invalid_rule", f"{where}: category must be a string")
        if action == "categorize" and category is None:
            raise ConfigError("invalid_rule", f"{where}: action categorize needs a category")
        if "when" not in raw:
            raise ConfigError("invalid_rule", f"{where}: missing 'when'")
        predicate = _compile(raw["when"], where + ".when", fields, features)
        rules.append(Rule(rule_id, str(action), category, predicate))
    return rules


def first_match(rules: Sequence[Rule], record: Mapping[str, Any], features: Mapping[str, float | None]) -> Rule | None:
    for rule in rules:
        if rule.matches(record, features):
            return rule
    return None


def _compile(node: Any, where: str, fields: set[str], features: set[str]) -> Predicate:
    if not isinstance(node, Mapping) or not node:
        raise ConfigError("invalid_rule", f"{where}: a condition is a non-empty mapping")
    if "all" in node or "any" in node:
        key = "all" if "all" in node else "any"
        if len(node) != 1 or not isinstance(node[key], list) or not node[key]:
            raise ConfigError("invalid_rule", f"{where}: '{key}' takes a non-empty list and nothing beside it")
        parts = [_compile(c, f"{where}.{key}[{i}]", fields, features) for i, c in enumerate(node[key])]
        if key == "all":
            return lambda r, f: all(p(r, f) for p in parts)
        return lambda r, f: any(p(r, f) for p in parts)
    if "not" in node:
        if len(node) != 1:
            raise ConfigError("invalid_rule", f"{where}: 'not' takes one condition and nothing beside it")
        inner = _compile(node["not"], f"{where}.not", fields, features)
        return lambda r, f: not inner(r, f)
    return _leaf(node, where, fields, features)


def _leaf(node: Mapping[str, Any], where: str, fields: set[str], features: set[str]) -> Predicate:
    subjects = [k for k in ("field", "feature") if k in node]
    if len(subjects) != 1:
        raise ConfigError("invalid_rule", f"{where}: a condition names exactly one 'field' or 'feature'")
    subject = subjects[0]
    name = node[subject]
    if not isinstance(name, str):
        raise ConfigError("invalid_rule", f"{where}: {subject} must be a string")
    if subject == "field" and name.split(".")[0] not in fields:
        raise ConfigError("invalid_rule", f"{where}: field {name!r} is not in the event's schema")
    if subject == "feature" and name not in features:
        raise ConfigError("invalid_rule", f"{where}: feature {name!r} is not one of the type's features")
    ops = [k for k in node if k != subject]
    if len(ops) != 1 or ops[0] not in _OPERATORS:
        raise ConfigError(
            "invalid_rule", f"{where}: one operator of {list(_OPERATORS)} expected for {subject} {name!r}, got {ops}"
        )
    op, operand = ops[0], node[ops[0]]
    get = _field_getter(name) if subject == "field" else _feature_getter(name)
    if op == "missing":
        if not isinstance(operand, bool):
            raise ConfigError("invalid_rule", f"{where}: missing takes true or false")
        return lambda r, f: (get(r, f) is _MISSING) is operand
    if op in ("in", "not_in"):
        if not isinstance(operand, list):
            raise ConfigError("invalid_rule", f"{where}: {op} takes a list")
        allowed = list(operand)
        if op == "in":
            return lambda r, f: _present(v := get(r, f)) and v in allowed
        return lambda r, f: _present(v := get(r, f)) and v not in allowed
    if op == "matches":
        if not isinstance(operand, str):
            raise ConfigError("invalid_rule", f"{where}: matches takes a regular expression string")
        try:
            pattern = re.compile(operand)
        except re.error as exc:
            raise ConfigError("invalid_rule", f"{where}: pattern does not compile: {exc}") from exc
        return lambda r, f: isinstance(v := get(r, f), str) and pattern.fullmatch(v) is not None
    if op in _COMPARE:
        if isinstance(operand, bool) or not isinstance(operand, int | float):
            raise ConfigError("invalid_rule", f"{where}: {op} takes a number")
        bound = float(operand)
        compare: Callable[[float], bool] = {
            "gt": lambda x: x > bound,
            "gte": lambda x: x >= bound,
            "lt": lambda x: x < bound,
            "lte": lambda x: x <= bound,
        }[op]
        return lambda r, f: _number(get(r, f)) is not None and compare(_number(get(r, f)))  # type: ignore[arg-type]
    if op == "eq":
        return lambda r, f: _present(v := get(r, f)) and v == operand
    return lambda r, f: _present(v := get(r, f)) and v != operand  # ne


def _present(value: Any) -> bool:
    return value is not _MISSING and value is not None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return None if isinstance(value, float) and math.isnan(value) else float(value)


def _field_getter(path: str) -> Callable[[Mapping[str, Any], Mapping[str, float | None]], Any]:
    parts = path.split(".")

    def get(record: Mapping[str, Any], _features: Mapping[str, float | None]) -> Any:
        value: Any = record
        for part in parts:
            # records are dicts: the exact-type test spares the slow ABC check on the hot path
            if not (type(value) is dict or isinstance(value, Mapping)) or part not in value:
                return _MISSING
            value = value[part]
        return _MISSING if value is None else value

    return get


def _feature_getter(name: str) -> Callable[[Mapping[str, Any], Mapping[str, float | None]], Any]:
    def get(_record: Mapping[str, Any], features: Mapping[str, float | None]) -> Any:
        value = features.get(name)
        return _MISSING if value is None else value

    return get
