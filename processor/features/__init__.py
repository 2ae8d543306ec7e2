"""Feature modules, one per event type, shared by training and serving.

The contract lives in :mod:`processor.features.base`; it is re-exported here so callers
(training, the scoring worker, the Redis history) import one place.
"""

from processor.features.base import FeatureModule, HistoryCounter, history_key_value, load_feature_module

__all__ = ["FeatureModule", "HistoryCounter", "history_key_value", "load_feature_module"]
