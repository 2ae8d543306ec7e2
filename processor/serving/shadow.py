"""Shadow scoring: a candidate model scores the same batch as the active one, and is only measured.

The comparison is on what the scores would *do*: each score maps to an outcome through the event
type's decision policy (the band's decision, or ``review`` inside the review band), and the two
models agree on an event when their outcomes are equal. Rules and the kill switch are left out on
purpose: they act the same whichever model scored, so they would only dilute the disagreement.

Each comparison can also be written, inside the batch's transaction, to a shadow topic
(``settings.models.shadow_topic``; schema ``processor/schemas/output/shadow.avsc``) for offline analysis.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from processor.config import DecisionPolicy
from processor.messages import Event, OutputRecord
from processor.serializers.outputs import OutputEncoder


@dataclass(frozen=True, slots=True)
class ShadowResult:
    event_type: str
    active_version: str
    shadow_version: str
    n: int
    agreements: int
    abs_diffs: npt.NDArray[np.float64]
    records: list[OutputRecord] = field(default_factory=list)


def outcome(policy: DecisionPolicy, score: float) -> str:
    """What a score alone would decide: ``review`` inside the review band, else the band's decision."""
    band = policy.review_band
    if band is not None and band.low <= score < band.high:
        return "review"
    for b in policy.sorted_bands():
        if score >= b.min_score:
            return b.decision
    return policy.sorted_bands()[-1].decision


class ShadowComparer:
    def __init__(
        self, policies: Mapping[str, DecisionPolicy], encoder: OutputEncoder | None = None, topic: str | None = None
    ) -> None:
        self._policies = dict(policies)
        self._encoder = encoder
        self._topic = topic if encoder is not None else None

    def compare(
        self,
        event_type: str,
        events: Sequence[Event],
        active_version: str,
        active_scores: npt.NDArray[np.float64],
        shadow_version: str,
        shadow_scores: npt.NDArray[np.float64],
    ) -> ShadowResult:
        policy = self._policies[event_type]
        active_out = [outcome(policy, float(s)) for s in active_scores]
        shadow_out = [outcome(policy, float(s)) for s in shadow_scores]
        agree = [a == s for a, s in zip(active_out, shadow_out, strict=True)]
        records: list[OutputRecord] = []
        if self._topic is not None and self._encoder is not None:
            now_ms = int(time.time() * 1000)
            for i, event in enumerate(events):
                value = self._encoder.encode(
                    "shadow",
                    {
                        "event_id": event.event_id,
                        "event_type": event_type,
                        "entity_id": event.entity_id,
                        "active_version": active_version,
                        "active_score": float(active_scores[i]),
                        "active_outcome": active_out[i],
                        "shadow_version": shadow_version,
                        "shadow_score": float(shadow_scores[i]),
                        "shadow_outcome": shadow_out[i],
                        "agree": agree[i],
                        "scored_at": now_ms,
                    },
                )
                headers = self._encoder.schema_headers("shadow")
                records.append(OutputRecord(self._topic, event.entity_id.encode("utf-8"), value, headers))
        return ShadowResult(
            event_type=event_type,
            active_version=active_version,
            shadow_version=shadow_version,
            n=len(agree),
            agreements=sum(agree),
            abs_diffs=np.abs(shadow_scores - active_scores),
            records=records,
        )
