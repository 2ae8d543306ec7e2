"""``processor review next``: the review queue from a terminal, one item at a time.

The same store, claim and transaction as the web app, so a decision made here is exactly as
once-only as one made in a browser. Event content is shown with the same care: control,
invisible and direction-changing characters appear as ``<U+XXXX>``, huge values are cut.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Callable
from typing import Any, TextIO

import orjson

from processor.review.decisions import DecisionService
from processor.review.items import ReviewItem
from processor.review.render import duration, number, timestamp
from processor.review.store import ReviewStore

_HIDDEN = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"})


def safe_text(value: Any, limit: int = 400) -> str:
    """Printable on a terminal: no escape sequences, no bidi tricks, bounded length."""
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    shown = "".join(f"<U+{ord(c):04X}>" if unicodedata.category(c) in _HIDDEN else c for c in text[:limit])
    return shown + (f" … ({len(text) - limit:,} more characters)" if len(text) > limit else "")


def describe(item: ReviewItem, now_ms: int, sla_s: int) -> str:
    waited = (now_ms - item.processed_at) / 1000
    lines = [
        f"{safe_text(item.event_type, 80)}  {safe_text(item.event_id, 200)}",
        f"  escalated because: {safe_text(item.review_reason, 200)}" + ("   ** OVER SLA **" if waited > sla_s else ""),
        f"  waiting:           {duration(waited)} (since {timestamp(item.processed_at)})",
        f"  model score:       {number(item.score) or 'none'}  model said: {safe_text(item.decision, 60)}"
        f" ({safe_text(item.decision_source, 20)}, {safe_text(item.model_version or 'no model', 60)})",
        f"  rules:             {safe_text(', '.join(item.rule_ids) or 'none', 200)}",
        f"  reason:            {safe_text(item.reason or '', 300)}",
        f"  entity:            {safe_text(item.entity_id, 200)}",
        "  features:",
        *(f"    {safe_text(k, 60)} = {v}" for k, v in sorted(item.features.items())),
        "  event:",
    ]
    fields = item.event_fields()
    if fields is None:
        lines.append(f"    {safe_text(item.event, 2000)}")
    else:
        lines += [f"    {safe_text(k, 60)}: {safe_text(v, 400)}" for k, v in fields.items()]
    return "\n".join(lines)


def review_next(
    store: ReviewStore,
    service: DecisionService,
    reviewer: str,
    *,
    sla_s: int,
    read: Callable[[str], str],
    out: TextIO,
    once: bool = False,
) -> int:
    """Show the most urgent item nobody is deciding, take a decision, repeat. Returns how many were decided."""
    decided = 0
    skipped: set[str] = set()
    while True:
        entry = next(
            (
                e
                for e in store.queue(limit=500)
                if e.item.event_id not in skipped and store.holder(e.item.event_id) is None
            ),
            None,
        )
        if entry is None:
            print("The queue is empty." if not skipped else "No more items (some skipped).", file=out)
            return decided
        item = entry.item
        choices = service.choices.for_type(item.event_type)
        print("\n" + describe(item, int(time.time() * 1000), sla_s), file=out)
        menu = "  ".join(f"[{i}] {c.decision} (label {c.label})" for i, c in enumerate(choices, start=1))
        print(f"\n{menu}  [s] skip  [q] quit", file=out)
        answer = read("decision> ").strip().lower()
        if answer in ("q", "quit", ""):
            return decided
        if answer in ("s", "skip"):
            skipped.add(item.event_id)
            continue
        choice = next((c for i, c in enumerate(choices, 1) if answer in (str(i), c.decision)), None)
        if choice is None:
            print(f"not a choice: {safe_text(answer, 40)}", file=out)
            continue
        note = read("note (optional)> ")
        outcome = service.decide(item.event_id, reviewer, choice.decision, note)
        print(f"{outcome.status}: {outcome.message}", file=out)
        if outcome.status == "decided":
            decided += 1
        elif not outcome.recorded:
            skipped.add(item.event_id)
        if once:
            return decided
