"""The contract of a feature module: the same code computes features in training and in serving.

A feature module is any importable Python module that defines:

- ``HISTORY``: a tuple of ``HistoryCounter``: per-entity (or per-key) history features. The
  serving path keeps them in Redis sorted sets, training in memory; both count the events with
  the same key whose event time lies in ``[t - window, t)``: strictly earlier than the event
  itself, so no feature looks past the event it describes and a replay adds nothing.
- ``FEATURE_NAMES``: the names of the feature vector, in order (history counter names included).
- ``compute(record, history) -> list[float]``: the vector for one validated record, given the
  history counts by counter name. Missing values are ``math.nan`` (LightGBM's missing value).

Optionally, for speed, ``compute_batch(records, history) -> numpy array``: the vectors of many
records at once, shape ``(len(records), len(FEATURE_NAMES))``, given each counter's counts as an
integer array (``history[name][i]`` belongs to ``records[i]``). It must give exactly what
``compute`` gives row by row. Serving calls it once per batch and event type; when it raises (or
returns the wrong shape) the batch's events of that type go through ``compute`` one by one, so
only an event whose own ``compute`` raises is quarantined. Training uses ``compute``.

Where ``features:`` in the pipeline file (default: the event type) finds it, first match wins:

1. a dotted path (``payments.features``): that module, from anywhere on ``sys.path``;
2. a bare name: ``<name>.py`` in the project's ``features/`` folder (the folder is a package:
   modules in it may import each other relatively);
3. an entry point named ``<name>`` in the group ``processor.features`` of an installed distribution;
4. ``processor.features.<name>``: the modules of the repository's example project.

The module is checked against the contract when it loads, before anything is consumed: a
broken one stops the processor with the path tried and the rule broken.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import inspect
import math
import sys
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol, cast

from processor.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

#: Entry-point group an installed distribution names its feature modules in.
ENTRY_POINT_GROUP = "processor.features"
_BUILTIN_PACKAGE = "processor.features"


@dataclass(frozen=True, slots=True)
class HistoryCounter:
    name: str  # feature name, e.g. "signups_same_ip_1h"
    key_field: str  # record field whose value keys the history, e.g. "ip_address"
    window_ms: int


class FeatureModule(Protocol):
    HISTORY: tuple[HistoryCounter, ...]
    FEATURE_NAMES: tuple[str, ...]

    def compute(self, record: Mapping[str, Any], history: Mapping[str, int]) -> list[float]: ...


#: ``compute_batch(records, history)``, when a module defines it (see the module docstring).
BatchCompute = Callable[[Sequence[Mapping[str, Any]], Mapping[str, "npt.NDArray[np.int64]"]], Any]


def batch_compute(module: FeatureModule) -> BatchCompute | None:
    """The module's optional ``compute_batch``, None when it has none."""
    found = getattr(module, "compute_batch", None)
    return cast(BatchCompute, found) if callable(found) else None


def load_feature_module(
    name: str, *, features_dir: Path | None = None, schema_fields: Collection[str] | None = None
) -> FeatureModule:
    """Find, import and check the feature module ``name`` (see the module docstring for where).

    With ``schema_fields`` (the fields of the event type's latest schema) every history key field
    must be one of them.
    """
    module, where = _import(name, features_dir)
    check_feature_module(module, where, schema_fields)
    return cast(FeatureModule, module)


def _import(name: str, features_dir: Path | None) -> tuple[ModuleType, str]:
    tried: list[str] = []
    if "." in name:
        return _import_dotted(name, f"module {name}", tried) or _not_found(name, [f"module {name}"])
    if features_dir is not None:
        path = features_dir / f"{name}.py"
        tried.append(str(path))
        if path.is_file():
            package = _project_package(features_dir)
            found = _import_dotted(f"{package}.{name}", str(path), [])
            if found is not None:
                return found
    tried.append(f"entry point {name!r} in group {ENTRY_POINT_GROUP}")
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP, name=name):
        where = f"entry point {name} = {entry.value}"
        try:
            loaded = entry.load()
        except Exception as exc:
            raise ConfigError("invalid_feature_module", f"{where}: import failed: {type(exc).__name__}: {exc}") from exc
        if not isinstance(loaded, ModuleType):
            raise ConfigError("invalid_feature_module", f"{where}: must name a module, not {type(loaded).__name__}")
        return loaded, where
    builtin = f"{_BUILTIN_PACKAGE}.{name}"
    tried.append(f"module {builtin}")
    return _import_dotted(builtin, f"module {builtin}", tried) or _not_found(name, tried)


def _import_dotted(dotted: str, where: str, tried: list[str]) -> tuple[ModuleType, str] | None:
    """The module, None when it (not something it imports) does not exist; other failures stop."""
    try:
        return importlib.import_module(dotted), where
    except ModuleNotFoundError as exc:
        if exc.name is not None and (dotted == exc.name or dotted.startswith(f"{exc.name}.")):
            return None
        raise ConfigError("invalid_feature_module", f"{where}: import failed: {exc}") from exc
    except Exception as exc:  # the module's own code raised while importing
        raise ConfigError("invalid_feature_module", f"{where}: import failed: {type(exc).__name__}: {exc}") from exc


def _not_found(name: str, tried: list[str]) -> tuple[ModuleType, str]:
    raise ConfigError("unknown_feature_module", f"no feature module {name!r}; tried: {'; '.join(tried)}")


def _project_package(features_dir: Path) -> str:
    """A package (one per folder) whose ``__path__`` is the project's features folder."""
    folder = features_dir.resolve()
    package = f"_processor_features_{hashlib.sha1(str(folder).encode()).hexdigest()[:12]}"
    if package not in sys.modules:
        module = ModuleType(package, f"feature modules of {folder}")
        module.__path__ = [str(folder)]
        sys.modules[package] = module
    return package


def check_feature_module(module: ModuleType, where: str, schema_fields: Collection[str] | None = None) -> None:
    """Raise ConfigError naming ``where`` and the rule when ``module`` breaks the contract."""

    def broken(rule: str) -> ConfigError:
        return ConfigError("invalid_feature_module", f"feature module {where}: {rule}")

    for attr in ("HISTORY", "FEATURE_NAMES", "compute"):
        if not hasattr(module, attr):
            raise broken(f"lacks {attr} (a feature module defines HISTORY, FEATURE_NAMES and compute)")
    names = module.FEATURE_NAMES
    if not isinstance(names, tuple | list) or not names or not all(isinstance(n, str) and n for n in names):
        raise broken("FEATURE_NAMES must be a non-empty tuple of feature names (strings)")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise broken(f"FEATURE_NAMES repeats {repeated}: each feature has one name")
    history = module.HISTORY
    if not isinstance(history, tuple | list) or not all(isinstance(c, HistoryCounter) for c in history):
        raise broken("HISTORY must be a tuple of HistoryCounter (processor.features.HistoryCounter)")
    for counter in history:
        if counter.name not in names:
            raise broken(f"history counter {counter.name!r} is not in FEATURE_NAMES")
        if not isinstance(counter.window_ms, int) or counter.window_ms <= 0:
            raise broken(f"history counter {counter.name!r}: window_ms must be a positive int")
        if schema_fields is not None and counter.key_field not in schema_fields:
            raise broken(
                f"history counter {counter.name!r} is keyed by field {counter.key_field!r}, "
                f"which the event's schema lacks (fields: {', '.join(sorted(schema_fields))})"
            )
    compute = module.compute
    if not callable(compute):
        raise broken("compute must be a function compute(record, history) -> list[float]")
    try:
        inspect.signature(compute).bind({}, {})
    except TypeError:
        raise broken(f"compute{inspect.signature(compute)} must take (record, history)") from None
    except ValueError:  # a builtin without a signature: trust it
        pass
    if hasattr(module, "compute_batch"):
        batch = module.compute_batch
        if not callable(batch):
            raise broken("compute_batch must be a function compute_batch(records, history) -> array")
        try:
            inspect.signature(batch).bind([], {})
        except TypeError:
            raise broken(f"compute_batch{inspect.signature(batch)} must take (records, history)") from None
        except ValueError:
            pass


def history_key_value(record: Mapping[str, Any], counter: HistoryCounter) -> str | None:
    """The history key of a record for one counter; None (no history) when the field is empty."""
    value = record.get(counter.key_field)
    if value is None or value == "":
        return None
    return str(value)


NAN = math.nan
