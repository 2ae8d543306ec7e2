"""State in Redis: dedupe marks, the per-partition reorder buffer, entity history, and the keys.

Every write here is idempotent under a replay of the same input offsets (docs/design.md §4).
"""
