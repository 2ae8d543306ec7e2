"""The feature contract at the import path teams' feature modules were first written against.

Until the feature modules moved to :mod:`processor.features`, docs/your-events.md and the
``processor init`` template had a team's module do ``from processor.model.features import
HistoryCounter``. Such a module, installed beside a newer processor, must keep loading: this
re-exports the same objects (``isinstance`` checks hold across both paths). New modules import
:mod:`processor.features`; nothing in the processor imports this one.
"""

from processor.features import FeatureModule, HistoryCounter, history_key_value, load_feature_module

__all__ = ["FeatureModule", "HistoryCounter", "history_key_value", "load_feature_module"]
