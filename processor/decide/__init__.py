"""decide: thresholds, review band and fallback turn a score into an actionable decision."""
