"""The model registry: which artifact version serves each event type, and which runs in shadow.

Artifacts live in the store (``settings.models.dir``, see ``processor.serving.artifact``); the
rollout state is in Redis so every processor of a group follows the same switch:

- ``<prefix>{model:<type>}:active``: the version that decides (absent: the newest artifact
  serves, which is how a fresh install bootstraps before anyone promotes);
- ``<prefix>{model:<type>}:shadow``: a candidate scored beside the active one, never acted on;
- ``<prefix>{model:<type>}:history``: the versions active before, newest first (``rollback``
  pops it);
- ``<prefix>{model:<type>}:log``: the last ``LOG_LENGTH`` changes (who, when, why).

The keys of one type share a hash tag, so a change is one MULTI/EXEC in one slot (Redis
Cluster ready), guarded by WATCH so two operators promoting at once cannot interleave.

Promote and shadow refuse a version that does not verify (checksums, feature list against the
serving feature module, LightGBM loads it): the broken artifact never reaches a processor
through the CLI; a processor still re-verifies whatever it loads (disks rot after promotion).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import redis

from processor.errors import ProcessorError
from processor.features.base import FeatureModule
from processor.serving.artifact import ArtifactRef, find_artifact, list_versions
from processor.serving.loading import load_model

LOG_LENGTH = 100
Role = Literal["active", "shadow"]


class RegistryError(ProcessorError):
    """A registry change that cannot be made (unknown version, nothing to roll back to...)."""


@dataclass(frozen=True, slots=True)
class RolloutState:
    event_type: str
    active: str | None  # None: no version promoted; the newest artifact serves
    shadow: str | None
    history: tuple[str, ...]  # previously active versions, newest first


@dataclass(frozen=True, slots=True)
class RolloutChange:
    event_type: str
    action: str
    version: str | None
    previous: str | None


class ModelRegistry:
    def __init__(self, client: redis.Redis, key_prefix: str, models_dir: Path) -> None:
        self._client = client
        self._prefix = key_prefix
        self.models_dir = models_dir

    # -- keys ------------------------------------------------------------------------------------

    def key(self, event_type: str, kind: str) -> str:
        return f"{self._prefix}{{model:{event_type}}}:{kind}"

    # -- reading ---------------------------------------------------------------------------------

    def states(self, event_types: list[str]) -> dict[str, RolloutState]:
        """Every type's state in one round trip (the worker polls this)."""
        pipe = self._client.pipeline(transaction=False)
        for event_type in event_types:
            pipe.get(self.key(event_type, "active"))
            pipe.get(self.key(event_type, "shadow"))
            pipe.lrange(self.key(event_type, "history"), 0, -1)
        results = pipe.execute()
        out = {}
        for i, event_type in enumerate(event_types):
            active, shadow, history = results[3 * i : 3 * i + 3]
            out[event_type] = RolloutState(
                event_type, _text(active), _text(shadow), tuple(v.decode() for v in history or [])
            )
        return out

    def state(self, event_type: str) -> RolloutState:
        return self.states([event_type])[event_type]

    def serving_version(self, event_type: str) -> str | None:
        """What a processor serves now: the promoted version, or the newest artifact when none is."""
        active = self.state(event_type).active
        if active is not None:
            return active
        versions = list_versions(self.models_dir, event_type)
        return versions[-1].version if versions else None

    def log(self, event_type: str) -> list[dict[str, Any]]:
        return [json.loads(item) for item in self._client.lrange(self.key(event_type, "log"), 0, -1)]

    # -- changing --------------------------------------------------------------------------------

    def promote(self, event_type: str, version: str, module: FeatureModule, *, by: str, reason: str) -> RolloutChange:
        ref = find_artifact(self.models_dir, event_type, version)
        check_loadable(ref, module)

        def change(pipe: Any, state: RolloutState) -> RolloutChange:
            previous = state.active or self._bootstrap_version(event_type, exclude=version)
            if previous == version:
                raise RegistryError("already_active", f"{event_type} {version} is already the active version")
            pipe.multi()
            pipe.set(self.key(event_type, "active"), version)
            if previous is not None:
                pipe.lpush(self.key(event_type, "history"), previous)
                pipe.ltrim(self.key(event_type, "history"), 0, LOG_LENGTH - 1)
            if state.shadow == version:  # the candidate graduated: it no longer shadows itself
                pipe.delete(self.key(event_type, "shadow"))
            return RolloutChange(event_type, "promote", version, previous)

        return self._change(event_type, change, by=by, reason=reason)

    def rollback(self, event_type: str, module: FeatureModule, *, by: str, reason: str) -> RolloutChange:
        state = self.state(event_type)
        if not state.history:
            raise RegistryError(
                "nothing_to_roll_back", f"{event_type}: no previously active version recorded (promote first)"
            )
        # the version we return to must still load: refuse before touching the active key
        check_loadable(find_artifact(self.models_dir, event_type, state.history[0]), module)

        def change(pipe: Any, state: RolloutState) -> RolloutChange:
            if not state.history:
                raise RegistryError("nothing_to_roll_back", f"{event_type}: history emptied concurrently")
            target = state.history[0]
            pipe.multi()
            pipe.set(self.key(event_type, "active"), target)
            pipe.lpop(self.key(event_type, "history"))
            return RolloutChange(event_type, "rollback", target, state.active)

        return self._change(event_type, change, by=by, reason=reason)

    def set_shadow(
        self, event_type: str, version: str | None, module: FeatureModule | None, *, by: str, reason: str
    ) -> RolloutChange:
        if version is not None:
            assert module is not None
            check_loadable(find_artifact(self.models_dir, event_type, version), module)

        def change(pipe: Any, state: RolloutState) -> RolloutChange:
            if version is not None and version == (state.active or self._bootstrap_version(event_type)):
                raise RegistryError("shadow_is_active", f"{event_type} {version} is the active version already")
            pipe.multi()
            if version is None:
                pipe.delete(self.key(event_type, "shadow"))
            else:
                pipe.set(self.key(event_type, "shadow"), version)
            return RolloutChange(event_type, "shadow" if version else "unshadow", version, state.shadow)

        return self._change(event_type, change, by=by, reason=reason)

    def _bootstrap_version(self, event_type: str, exclude: str | None = None) -> str | None:
        versions = [r.version for r in list_versions(self.models_dir, event_type) if r.version != exclude]
        return versions[-1] if versions else None

    def _change(self, event_type: str, change: Any, *, by: str, reason: str) -> RolloutChange:
        watched = [self.key(event_type, k) for k in ("active", "shadow", "history")]
        pipe: Any
        with self._client.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(*watched)
                    active, shadow = pipe.get(watched[0]), pipe.get(watched[1])
                    history = tuple(str(_text(v)) for v in pipe.lrange(watched[2], 0, -1))
                    result: RolloutChange = change(
                        pipe, RolloutState(event_type, _text(active), _text(shadow), history)
                    )
                    entry = {
                        "action": result.action,
                        "version": result.version,
                        "previous": result.previous,
                        "by": by,
                        "reason": reason,
                        "at": datetime.now(UTC).isoformat(timespec="seconds"),
                        "at_ms": int(time.time() * 1000),
                    }
                    pipe.lpush(self.key(event_type, "log"), json.dumps(entry))
                    pipe.ltrim(self.key(event_type, "log"), 0, LOG_LENGTH - 1)
                    pipe.execute()
                    return result
                except redis.WatchError:
                    continue  # someone changed the state meanwhile: decide again on the new state


def check_loadable(ref: ArtifactRef, module: FeatureModule) -> None:
    """Everything a processor will check when it loads ``ref``; raises ``ArtifactError`` if any fails."""
    load_model(ref, module)  # the worker's own loader: one definition of "loadable"


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        return value.decode() or None
    return value or None
