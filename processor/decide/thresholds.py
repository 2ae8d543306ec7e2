"""Map a model score to a decision, a category and a route, per event type.

``decide`` and ``escalate_out_of_range`` judge one event; ``decide_batch`` and
``escalate_out_of_range_batch`` give the same answers for a whole model call at once (the bands,
the review band and the training ranges compared on arrays), which is what the pipeline uses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt

from processor.config import Band, DecisionPolicy, PipelinesConfig
from processor.decide.killswitch import SwitchState
from processor.decide.rules import Rule, first_match
from processor.messages import Decision


class DecisionMaker:
    def __init__(self, pipelines: PipelinesConfig, rules: Mapping[str, Sequence[Rule]] | None = None) -> None:
        self._policies: dict[str, DecisionPolicy] = {n: c.decision for n, c in pipelines.event_types.items()}
        self._bands: dict[str, list[Band]] = {n: p.sorted_bands() for n, p in self._policies.items()}
        self._rules: dict[str, list[Rule]] = {n: list(r) for n, r in (rules or {}).items()}

    def escalate_out_of_range(
        self, decision: Decision, features: Mapping[str, float | None], ranges: Mapping[str, tuple[float, float]]
    ) -> Decision:
        """A confident model decision on inputs unlike anything it was trained on goes to a human."""
        if decision.decision_source != "model" or decision.route == "review":
            return decision
        for name, (low, high) in ranges.items():
            value = features.get(name)
            if value is not None and not low <= value <= high:
                return replace(
                    decision,
                    route="review",
                    review_reason=f"feature_out_of_range:{name}",
                    reason=f"{decision.reason}; {name}={value:g} outside training range [{low:g}, {high:g}]",
                )
        return decision

    def escalate_out_of_range_batch(
        self,
        decisions: list[Decision],
        features: npt.NDArray[np.float64],
        names: Sequence[str],
        ranges: Mapping[str, tuple[float, float]],
    ) -> list[Decision]:
        """``escalate_out_of_range`` of every row of a feature matrix (columns in ``names`` order)."""
        column = {name: i for i, name in enumerate(names)}
        checked = [(name, column[name], low, high) for name, (low, high) in ranges.items() if name in column]
        if not checked or not decisions:
            return decisions
        values = features[:, [c[1] for c in checked]]
        low = np.array([c[2] for c in checked], dtype=np.float64)
        high = np.array([c[3] for c in checked], dtype=np.float64)
        # exactly ``not low <= value <= high`` for a present (non-NaN) value, NaN bounds included
        outside = ~np.isnan(values) & ~((low <= values) & (values <= high))
        rows = np.flatnonzero(outside.any(axis=1))
        if not len(rows):
            return decisions
        first = outside[rows].argmax(axis=1)
        out = list(decisions)
        for row, k in zip(rows.tolist(), first.tolist(), strict=True):
            decision = out[row]
            if decision.decision_source != "model" or decision.route == "review":
                continue
            name, _, lo, hi = checked[k]
            value = float(values[row, k])
            out[row] = replace(
                decision,
                route="review",
                review_reason=f"feature_out_of_range:{name}",
                reason=f"{decision.reason}; {name}={value:g} outside training range [{lo:g}, {hi:g}]",
            )
        return out

    def apply_rules(
        self, event_type: str, decision: Decision, record: Mapping[str, Any], features: Mapping[str, float | None]
    ) -> Decision:
        """The first matching rule overrides what the model (or the fallback) decided."""
        rule = first_match(self._rules.get(event_type, ()), record, features)
        if rule is None:
            return decision
        bands = self._bands[event_type]
        why = f"rule {rule.id}"
        if rule.action in ("approve", "block"):
            band = bands[-1] if rule.action == "approve" else bands[0]
            return replace(
                decision,
                decision=band.decision,
                category=rule.category or band.category,
                decision_source="rule",
                route="scored",
                reason=why,
                review_reason=None,
                rule_ids=(rule.id,),
            )
        if rule.action == "review":
            return replace(
                decision,
                category=rule.category or decision.category,
                decision_source="rule",
                route="review",
                reason=why,
                review_reason=f"rule:{rule.id}",
                rule_ids=(rule.id,),
            )
        return replace(decision, category=rule.category, reason=f"{decision.reason}; {why}", rule_ids=(rule.id,))

    def switched_off(self, event_type: str, state: SwitchState) -> Decision:
        """The kill switch is engaged for this type: no model; fallback rules, or a human."""
        return self._fallback(
            event_type,
            model_version=None,
            reason=f"kill switch ({state.scope}, {state.mode}): {state.reason or 'no reason given'}",
            review_reason="kill_switch",
            route="review" if state.mode == "review" else None,
        )

    def _fallback(
        self, event_type: str, *, model_version: str | None, reason: str, review_reason: str, route: str | None = None
    ) -> Decision:
        """The type's fallback decision; ``route`` overrides the policy's route."""
        fb = self._policies[event_type].fallback
        route = route or fb.route
        return Decision(
            decision=fb.decision,
            category=fb.category,
            score=None,
            confidence=None,
            decision_source="fallback",
            model_version=model_version,
            route=route,
            reason=reason,
            review_reason=review_reason if route == "review" else None,
        )

    def decide_batch(
        self, event_type: str, scores: npt.NDArray[np.float64], model_version: str | None
    ) -> list[Decision]:
        """``decide`` of every score of one model call: the band of each (the first, highest first,
        whose min_score it reaches) and the review band are found on arrays."""
        policy = self._policies[event_type]
        bands = self._bands[event_type]
        review = policy.review_band
        mins = np.array([b.min_score for b in bands], dtype=np.float64)
        # the first band (highest min_score first) each score reaches; len(bands) when none is
        reached = scores[:, None] >= mins[None, :]
        index = np.where(reached.any(axis=1), reached.argmax(axis=1), len(bands)).tolist()
        if review is not None:
            in_band = ((review.low <= scores) & (scores < review.high)).tolist()
        else:
            in_band = [False] * len(index)
        out = []
        for score, i, review_it in zip(scores.tolist(), index, in_band, strict=True):
            if i == len(bands):  # below every band: what the single-event path does with it
                out.append(self.decide(event_type, score, model_version, None))
                continue
            band = bands[i]
            out.append(
                Decision(
                    decision=band.decision,
                    category=band.category,
                    score=score,
                    confidence=max(score, 1.0 - score),
                    decision_source="model",
                    model_version=model_version,
                    route="review" if review_it else "scored",
                    reason=(
                        f"score {score:.3f} in review band [{review.low}, {review.high})"
                        if review_it and review is not None
                        else f"score {score:.3f} >= {band.min_score}"
                    ),
                    review_reason="confidence_band" if review_it else None,
                )
            )
        return out

    def decide(self, event_type: str, score: float | None, model_version: str | None, failure: str | None) -> Decision:
        policy = self._policies[event_type]
        if score is None:
            why = failure or "no_model"
            return self._fallback(
                event_type, model_version=model_version, reason=f"fallback: {why}", review_reason=f"fallback:{why}"
            )
        band = next(b for b in self._bands[event_type] if score >= b.min_score)
        review = policy.review_band
        in_band = review is not None and review.low <= score < review.high
        return Decision(
            decision=band.decision,
            category=band.category,
            score=score,
            confidence=max(score, 1.0 - score),
            decision_source="model",
            model_version=model_version,
            route="review" if in_band else "scored",
            reason=(
                f"score {score:.3f} in review band [{review.low}, {review.high})"
                if in_band and review is not None
                else f"score {score:.3f} >= {band.min_score}"
            ),
            review_reason="confidence_band" if in_band else None,
        )
