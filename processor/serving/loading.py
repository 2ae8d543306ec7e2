"""Loading one artifact for serving: the one definition of "this version may serve".

The worker loads with it, and ``processor.serving.registry.check_loadable`` runs it before a promote,
so a version the registry accepts is one every processor will load. Its own module so that the
registry and the worker, which uses the registry, do not import each other (docs/design.md §10).
"""

from __future__ import annotations

from dataclasses import dataclass

from processor.features.base import FeatureModule
from processor.serving.artifact import ArtifactError, ArtifactRef, verify_artifact
from processor.serving.linear import KIND as LINEAR_KIND
from processor.serving.linear import LinearModel, LinearModelError
from processor.serving.native import NativeBooster, NativeModelError


@dataclass(frozen=True, slots=True)
class LoadedModel:
    ref: ArtifactRef
    booster: NativeBooster | LinearModel  # both score with .predict(features, num_threads=1)
    feature_names: tuple[str, ...]
    #: per feature, the (min, max) seen in training; absent for artifacts that predate it
    ranges: dict[str, tuple[float, float]]


def load_model(ref: ArtifactRef, module: FeatureModule) -> LoadedModel:
    """Verify and load one artifact; ``ArtifactError`` (with a reason code) when it must not serve."""
    metadata = verify_artifact(ref)
    names = tuple(metadata["feature_names"])
    if names != tuple(module.FEATURE_NAMES):
        raise ArtifactError(
            "feature_mismatch",
            f"artifact features {list(names)} differ from the serving feature module {list(module.FEATURE_NAMES)}",
        )
    booster: NativeBooster | LinearModel
    if metadata.get("model_kind", "lightgbm") == LINEAR_KIND:
        # a logistic regression (the pipeline's model: logistic_regression): numbers applied with numpy
        try:
            booster = LinearModel.from_text(ref.model_path.read_text(encoding="utf-8"))
        except (OSError, LinearModelError) as exc:
            raise ArtifactError("load_error", f"cannot load the linear model {ref.model_path}: {exc}") from exc
        if booster.feature_names != names:
            raise ArtifactError("feature_mismatch", "the linear model's features differ from the metadata's")
    else:
        try:
            booster = NativeBooster(ref.model_path)
        except NativeModelError as exc:
            raise ArtifactError("load_error", f"LightGBM cannot load {ref.model_path}: {exc}") from exc
    if booster.num_feature() != len(names):
        raise ArtifactError(
            "feature_mismatch", f"model expects {booster.num_feature()} features, metadata lists {len(names)}"
        )
    reference = metadata.get("reference", {}).get("features", {})
    ranges = {
        name: (float(ref_["min"]), float(ref_["max"]))
        for name, ref_ in reference.items()
        if isinstance(ref_, dict) and ref_.get("min") is not None and ref_.get("max") is not None
    }
    return LoadedModel(ref=ref, booster=booster, feature_names=names, ranges=ranges)
