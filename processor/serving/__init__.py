"""Serving models: what ``processor run`` needs to score (docs/design.md §9).

Artifacts and their verification, the registry's rollout state (stable, canary, shadow), loading
a model (LightGBM through its C library, or the linear fallback), the scoring worker, shadow
comparison and rollout metrics, and ``processor models`` (list, promote, roll back). Never imports
:mod:`processor.training` at module level (tools/check_layers.py).
"""
