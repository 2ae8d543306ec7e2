"""Showing hostile event content as text: autoescaped templates, plus what escaping cannot fix.

HTML escaping stops script tags; it does nothing about characters that change how text *looks*:
bidi overrides (``U+202E`` turns ``exe.pdf`` around), zero-width and other invisible format
characters, control characters, line separators, floods of combining marks. ``reveal`` shows each
of those as a visible ``U+XXXX`` badge instead, and folds huge values away after a limit.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from pathlib import Path
from typing import Any

import orjson
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

#: Categories shown as badges: controls, format (bidi, zero-width), private use, surrogates,
#: unassigned, line and paragraph separators.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"})
_KEPT_CONTROLS = frozenset("\n\t")
#: More combining marks than this on one base character is a "zalgo" flood, not a language.
_MAX_COMBINING = 3


def reveal(value: Any, limit: int = 4_000) -> Markup:
    """``value`` as escaped HTML with invisible and direction-changing characters made visible."""
    text = value if isinstance(value, str) else _json(value)
    shown, rest = text[:limit], len(text) - limit
    out: list[str] = []
    plain: list[str] = []
    combining = 0
    for ch in shown:
        category = unicodedata.category(ch)
        if category == "Mn":
            combining += 1
            if combining > _MAX_COMBINING:
                if combining == _MAX_COMBINING + 1:
                    out.append(str(escape("".join(plain))))
                    plain.clear()
                    out.append('<span class="badge" title="more combining marks hidden">+marks</span>')
                continue
        else:
            combining = 0
        if category in _HIDDEN_CATEGORIES and ch not in _KEPT_CONTROLS:
            out.append(str(escape("".join(plain))))
            plain.clear()
            name = unicodedata.name(ch, "control or unassigned character")
            out.append(f'<span class="badge" title="{escape(name)}">U+{ord(ch):04X}</span>')
        else:
            plain.append(ch)
    out.append(str(escape("".join(plain))))
    if rest > 0:
        out.append(f'<span class="more">… {rest:,} more characters not shown</span>')
    return Markup("".join(out))


def event_fields(event: str) -> list[tuple[str, Any]] | None:
    """The embedded event's fields in order, or None when it is not a JSON object."""
    try:
        value = orjson.loads(event)
    except orjson.JSONDecodeError:
        return None
    return list(value.items()) if isinstance(value, dict) else None


def timestamp(ms: int | None) -> str:
    if ms is None:
        return ""
    try:
        return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return str(ms)


def duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172_800:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"


def number(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"], default_for_string=True, default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(reveal=reveal, ts=timestamp, duration=duration, num=number)
    env.globals["event_fields"] = event_fields
    return env


def _json(value: Any) -> str:
    try:
        return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()
    except TypeError:
        return repr(value)
