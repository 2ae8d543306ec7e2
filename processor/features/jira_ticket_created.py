"""Features of ``jira_ticket_created``: will this new ticket turn out not actionable?

Not-actionable tickets (duplicates, won't-fix, invalid, cannot-reproduce...) tend to be short,
vague, free of evidence (no stack trace, no reproduction code, no affected version) or about
topics that are routinely closed elsewhere (flaky tests, questions). Evidence of the opposite
(a stack trace, a ``{code}`` block, a CVE) makes a ticket likely actionable.

Only what the ``jira:issue_created`` webhook carries is used: the status or resolution known
later would leak the label. Patterns are compiled at import; ``compute`` only runs them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from processor.features.base import HistoryCounter

_HOUR_MS = 3_600_000
_DAY_MS = 24 * _HOUR_MS

HISTORY: tuple[HistoryCounter, ...] = (
    # Prolific reporters file more tickets that get closed as duplicates of their own earlier ones.
    HistoryCounter("tickets_same_reporter_30d", "reporter", 30 * _DAY_MS),
    # Ticket storms (a broken build, a release) produce many overlapping reports within a day.
    HistoryCounter("tickets_same_project_1d", "project_key", _DAY_MS),
)

#: Keyword flags on the lower-cased summary: (feature name, pattern). Fixed list, fixed order.
_KEYWORDS: tuple[tuple[str, str], ...] = (
    ("kw_flaky", r"\bflak(y|iness)\b|\bintermittent"),
    ("kw_test", r"\btests?\b|\btest[a-z]+\b|\bunit ?test"),
    ("kw_fails", r"\bfail(s|ed|ing|ure|ures)?\b|\bbroken\b"),
    ("kw_npe", r"\bnpe\b|nullpointer"),
    ("kw_typo", r"\btypos?\b|\bspelling\b|\bmisspel"),
    ("kw_doc", r"\bdocs?\b|\bdocument(ation)?\b|\bjavadoc|\breadme\b"),
    ("kw_upgrade", r"\bupgrade|\bbump\b|\bupdate [a-z0-9.-]+ to\b"),
    ("kw_cve", r"\bcve-?\d|\bvulnerab|\bsecurity\b"),
    ("kw_duplicate", r"\bduplicat"),
    ("kw_question", r"^(how|why|what|is|can|does|should)\b|\bhow to\b|\bquestion\b"),
    ("kw_windows", r"\bwindows\b"),
    ("kw_support", r"\bsupport\b|\bfeature request\b|\badd (an? )?option\b"),
)
_KEYWORD_PATTERNS: tuple[re.Pattern[str], ...] = tuple(re.compile(p) for _, p in _KEYWORDS)

FEATURE_NAMES: tuple[str, ...] = (
    "summary_length",
    "summary_words",
    "summary_question_marks",
    "summary_has_identifier",
    "description_missing",
    "log_description_length",
    "description_lines",
    "description_question_marks",
    "has_stack_trace",
    "has_code_block",
    "has_url",
    "has_version_number",
    "affects_versions_count",
    "components_count",
    "labels_count",
    "priority_code",
    "issue_type_code",
    "hour_of_day_utc",
    *(name for name, _ in _KEYWORDS),
    *(c.name for c in HISTORY),
)

PRIORITY_CODES: Mapping[str, float] = {"blocker": 0.0, "critical": 1.0, "major": 2.0, "minor": 3.0, "trivial": 4.0}
PRIORITY_OTHER = 5.0
ISSUE_TYPE_CODES: Mapping[str, float] = {
    "bug": 0.0,
    "improvement": 1.0,
    "task": 2.0,
    "sub-task": 3.0,
    "new feature": 4.0,
    "test": 5.0,
    "wish": 6.0,
}
ISSUE_TYPE_OTHER = 7.0

# A Java stack trace ("\tat org.x.Y.m(Y.java:12)"), an exception name, or a chained cause. The
# reference pattern is _STACK_TRACE; _has_stack_trace answers the same question ten times faster on
# long descriptions: ``\b\w*Exception\b`` holds exactly when ``Exception\b`` does (the word it ends
# starts at a boundary), ``\b\w+Error\b`` when ``\wError\b`` does, and a line start is the text's
# start or a newline; each is tried only when its literal is in the text (a C-speed scan).
_STACK_TRACE = re.compile(r"\b\w*Exception\b|\b\w+Error\b|^[ \t]*at [\w$.]+\(|Caused by:", re.MULTILINE)
_EXCEPTION = re.compile(r"Exception\b")
_ERROR = re.compile(r"\wError\b")
_AT_FIRST_LINE = re.compile(r"[ \t]*at [\w$.]+\(")
_AT_LINE = re.compile(r"\n[ \t]*at [\w$.]+\(")
_CODE_BLOCK = re.compile(r"\{code|\{noformat|```")
_URL = re.compile(r"[hH][tT][tT][pP][sS]?://")  # case-blind without re.IGNORECASE's cost on long texts
_VERSION = re.compile(r"\b\d+\.\d+(\.\d+)?\b")
# CamelCase class names or dotted.java.names: the reporter pointed at specific code.
_IDENTIFIER = re.compile(r"\b[A-Z][a-z0-9]+[A-Z]\w*\b|\b[a-z]\w*\.[a-z]\w*\.\w+\b|\b\w+\(\)")


def _code(value: Any, table: Mapping[str, float], other: float) -> float:
    if not isinstance(value, str) or not value:
        return math.nan
    return table.get(value.strip().lower(), other)


def _has_stack_trace(text: str) -> bool:
    """``_STACK_TRACE.search(text)`` is not None (see the patterns)."""
    return bool(
        ("Exception" in text and _EXCEPTION.search(text))
        or ("Error" in text and _ERROR.search(text))
        or "Caused by:" in text
        or _AT_FIRST_LINE.match(text)
        or _AT_LINE.search(text)
    )


def _has_version(text: str) -> bool:
    """``_VERSION.search(text)`` is not None, tried only where a dot follows a digit: a version's
    digits start at a word boundary, so the match can only begin where that digit run begins."""
    dot = text.find(".")
    while dot != -1:
        if dot and text[dot - 1].isdecimal():  # \d is a Unicode decimal digit
            start = dot - 1
            while start and text[start - 1].isdecimal():
                start -= 1
            if _VERSION.match(text, start):  # \b at ``start`` sees the real preceding character
                return True
        dot = text.find(".", dot + 1)
    return False


def _count(value: Any) -> float:
    return float(len(value)) if isinstance(value, list) else math.nan


def compute(record: Mapping[str, Any], history: Mapping[str, int]) -> list[float]:
    """The feature vector of one validated ticket, in ``FEATURE_NAMES`` order."""
    nan = math.nan
    summary = record.get("summary")
    if isinstance(summary, str):
        lower = summary.lower()
        summary_len = float(len(summary))
        summary_words = float(len(summary.split()))
        summary_q = float(summary.count("?"))
        summary_ident = 1.0 if _IDENTIFIER.search(summary) else 0.0
        keywords = [1.0 if p.search(lower) else 0.0 for p in _KEYWORD_PATTERNS]
    else:
        summary_len = summary_words = summary_q = summary_ident = nan
        keywords = [nan] * len(_KEYWORD_PATTERNS)

    description = record.get("description")
    if isinstance(description, str) and description.strip():
        desc_missing = 0.0
        log_desc_len = math.log1p(len(description))
        desc_lines = float(description.count("\n") + 1)
        desc_q = float(description.count("?"))
        body = description
    else:
        desc_missing = 1.0
        log_desc_len = desc_lines = desc_q = nan
        body = ""
    # Evidence may sit in the summary too ("NPE in Foo.bar()"), so search both.
    text = f"{summary}\n{body}" if isinstance(summary, str) else body
    stack = 1.0 if _has_stack_trace(text) else 0.0
    code_block = 1.0 if _CODE_BLOCK.search(text) else 0.0
    url = 1.0 if _URL.search(text) else 0.0
    version = 1.0 if _has_version(text) else 0.0

    occurred_at = record.get("occurred_at")
    hour = float((occurred_at // _HOUR_MS) % 24) if isinstance(occurred_at, int) else nan

    return [
        summary_len,
        summary_words,
        summary_q,
        summary_ident,
        desc_missing,
        log_desc_len,
        desc_lines,
        desc_q,
        stack,
        code_block,
        url,
        version,
        _count(record.get("affects_versions")),
        _count(record.get("components")),
        _count(record.get("labels")),
        _code(record.get("priority"), PRIORITY_CODES, PRIORITY_OTHER),
        _code(record.get("issue_type"), ISSUE_TYPE_CODES, ISSUE_TYPE_OTHER),
        hour,
        *keywords,
        *(float(history.get(c.name, 0)) for c in HISTORY),
    ]
