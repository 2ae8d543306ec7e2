"""The kill switch: operators turn the model off, globally or per event type, from Redis.

Keys (``<prefix>killswitch:global`` and ``<prefix>killswitch:type:<event_type>``) hold either a
plain mode, for the operator at 3 a.m.::

    redis-cli SET proc:killswitch:global fallback      # or: review, off

or the JSON the CLI writes (``processor killswitch on --mode fallback --reason "..."``), with the
reason, who set it and since when. A per-type key wins over the global one.

Modes: ``fallback`` (the type's deterministic fallback decides, ``decision_source=fallback``) and
``review`` (every event goes to human review). Either way events keep being consumed, validated and
written: data capture never stops. Every processor polls the keys at least every half second; if
Redis cannot be read, the last known state holds (at start-up, the configured default).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import orjson
import redis

from processor.state.keys import Keys
from processor.state.redis_client import read_many

log = logging.getLogger(__name__)

Mode = Literal["off", "fallback", "review"]
MODES: tuple[Mode, ...] = ("off", "fallback", "review")
GLOBAL = "global"


@dataclass(frozen=True, slots=True)
class SwitchState:
    mode: Mode = "off"
    reason: str | None = None
    since: str | None = None
    by: str | None = None
    scope: str = GLOBAL

    @property
    def engaged(self) -> bool:
        return self.mode != "off"

    def since_epoch(self) -> float:
        """``since`` as epoch seconds; 0 when unknown (a plain redis-cli SET carries no time)."""
        if not self.since:
            return 0.0
        try:
            return datetime.fromisoformat(self.since).timestamp()
        except ValueError:
            return 0.0


def parse_state(raw: bytes | str | None, scope: str) -> SwitchState | None:
    """A key's value as a state; None when the key is absent. Unreadable values fail safe."""
    if raw is None:
        return None
    text = (raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw).strip()
    if text.startswith("{"):
        try:
            data = orjson.loads(text)
            mode = str(data.get("mode", "fallback")).lower()
            reason, since, by = data.get("reason"), data.get("since"), data.get("by")
        except (orjson.JSONDecodeError, AttributeError):
            mode, reason, since, by = "fallback", f"unreadable kill-switch value {text[:80]!r}", None, None
    else:
        mode, reason, since, by = text.lower(), "set directly in Redis", None, None
    if mode not in MODES:
        # someone meant to switch something: the safe reading of a typo is "model off"
        return SwitchState("fallback", f"unknown mode {mode[:40]!r}; treated as fallback", since, by, scope)
    return SwitchState(mode, reason, since, by, scope)


class KillSwitch:
    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        event_types: list[str],
        *,
        default: Mode = "off",
        poll_interval_s: float = 0.5,
    ) -> None:
        self._client = client
        self._keys = keys
        self._types = list(event_types)
        self._interval = poll_interval_s
        self._next_poll = 0.0
        fallback_default = SwitchState(default, "default at start-up (no state read yet)") if default != "off" else None
        self._global: SwitchState | None = fallback_default
        self._per_type: dict[str, SwitchState | None] = {}
        self.reachable = True

    def refresh(self, force: bool = False) -> bool:
        """Read the keys if the poll interval has passed; True when something changed."""
        now = time.monotonic()
        if not force and now < self._next_poll:
            return False
        self._next_poll = now + self._interval
        names = [self._keys.killswitch(GLOBAL)] + [self._keys.killswitch(t) for t in self._types]
        try:
            values = read_many(self._client, names)
        except redis.RedisError as exc:
            if self.reachable:
                log.warning("kill switch unreadable (%s): the last known state holds", exc)
            self.reachable = False
            return False
        self.reachable = True
        new_global = parse_state(values[0], GLOBAL)
        new_types = {t: parse_state(v, t) for t, v in zip(self._types, values[1:], strict=True)}
        changed = new_global != self._global or new_types != self._per_type
        if changed:
            for scope, old, new in [(GLOBAL, self._global, new_global)] + [
                (t, self._per_type.get(t), new_types[t]) for t in self._types
            ]:
                if old != new:
                    log.warning(
                        "kill switch %s: %s -> %s (%s)",
                        scope,
                        old.mode if old else "off",
                        new.mode if new else "off",
                        new.reason if new else "cleared",
                        extra={
                            "scope": scope,
                            "mode": new.mode if new else "off",
                            "previous_mode": old.mode if old else "off",
                            "by": new.by if new else None,
                        },
                    )
            self._global, self._per_type = new_global, new_types
        return changed

    def state_for(self, event_type: str) -> SwitchState:
        specific = self._per_type.get(event_type)
        if specific is not None:
            return specific
        return self._global or SwitchState()

    def states(self) -> dict[str, SwitchState]:
        """The effective state of every scope (for metrics and `status`)."""
        out = {GLOBAL: self._global or SwitchState()}
        out.update({t: self._per_type.get(t) or SwitchState(scope=t) for t in self._types})
        return out


def set_switch(
    client: redis.Redis, keys: Keys, scope: str, mode: Mode, reason: str, by: str, now: datetime | None = None
) -> SwitchState:
    """Engage (or, with mode "off", record the release of) a switch; returns what was written."""
    since = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    state = SwitchState(mode, reason, since, by, scope)
    if mode == "off":
        client.delete(keys.killswitch(scope))
    else:
        client.set(keys.killswitch(scope), orjson.dumps({"mode": mode, "reason": reason, "since": since, "by": by}))
    return state


def read_switch(client: redis.Redis, keys: Keys, scope: str) -> SwitchState:
    return parse_state(client.get(keys.killswitch(scope)), scope) or SwitchState(scope=scope)
