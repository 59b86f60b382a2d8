"""A learned ranker on disk: a LightGBM LambdaMART booster with the features it expects.

``MODEL_DIR`` holds ``model.txt`` (LightGBM's own text format) and ``model.json``::

    {"format": "hybrid-search-ltr", "format_version": 1, "feature_set_version": 1,
     "features": ["bm25[title]", ...], "embedding_model": "sentence-transformers/...",
     "text_fields": ["title"], "window": 200, "lightgbm": "4.7.0", "trained": {...}}

A model is only used with the features and the embedding model it was trained with: the
Searcher refuses another template's fields, another feature set or another embedding model with
a ``ModelMismatchError`` naming both sides. LambdaMART: Burges, "From RankNet to LambdaRank to
LambdaMART: An Overview", MSR-TR-2010-82; LightGBM: Ke et al., NeurIPS 2017.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hybrid_search.errors import ConfigError, MissingDependencyError, ModelMismatchError
from hybrid_search.ranking.ltr_features import FEATURE_SET_VERSION

__all__ = ["FORMAT", "FORMAT_VERSION", "LtrModel", "load_model", "save_model"]

logger = logging.getLogger(__name__)

FORMAT = "hybrid-search-ltr"
FORMAT_VERSION = 1
_BOOSTER = "model.txt"
_META = "model.json"


def _lightgbm() -> Any:
    try:
        import lightgbm
    except ImportError as exc:  # a core dependency, but keep the message helpful
        msg = 'the learned re-rank needs LightGBM: pip install "lightgbm>=4.0"'
        raise MissingDependencyError(msg) from exc
    return lightgbm


@dataclass
class LtrModel:
    """A loaded booster and what it was trained on."""

    booster: Any
    features: list[str]
    embedding_model: str
    path: Path
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """How the model is named in breakdowns and logs: its directory name."""
        return self.path.name

    def check(self, *, features: Sequence[str], embedding_model: str | None) -> None:
        """Refuse a model trained on other features or with another embedding model.

        Raises:
            ModelMismatchError: the feature list or the embedding model differs (both named).
        """
        if list(features) != self.features:
            missing = [f for f in self.features if f not in features]
            extra = [f for f in features if f not in self.features]
            msg = (
                f"LTR model {self.path} was trained on features {self.features} but this "
                f"index's template gives {list(features)} (missing here: {missing}, new here: "
                f"{extra}); retrain it with `hybrid-search ltr train` on this template"
            )
            raise ModelMismatchError(msg)
        if embedding_model is not None and embedding_model != self.embedding_model:
            msg = (
                f"LTR model {self.path} was trained with embedding model "
                f"{self.embedding_model!r} but the configured model is {embedding_model!r}; "
                "its cosine features would mean something else: retrain it or set "
                "HYBRID_SEARCH_EMBEDDING__MODEL"
            )
            raise ModelMismatchError(msg)

    def predict(self, features: np.ndarray) -> np.ndarray:
        """One score per row (higher ranks first); one thread, for steady latency."""
        scores: np.ndarray = self.booster.predict(features, num_threads=1)
        return np.asarray(scores, dtype=np.float64)

    def contributions(self, features: np.ndarray) -> np.ndarray:
        """Per-row feature contributions (TreeSHAP, LightGBM ``pred_contrib``): ``(n, F + 1)``,
        the last column the expected value; each row sums to its score."""
        out: np.ndarray = self.booster.predict(features, pred_contrib=True, num_threads=1)
        return np.asarray(out, dtype=np.float64)


def save_model(
    booster: Any,
    out_dir: Path,
    *,
    features: Sequence[str],
    embedding_model: str,
    text_fields: Sequence[str],
    window: int,
    trained: dict[str, Any],
) -> Path:
    """Write ``model.txt`` and ``model.json`` into ``out_dir`` (created); returns the dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(out_dir / _BOOSTER))
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "feature_set_version": FEATURE_SET_VERSION,
        "features": list(features),
        "embedding_model": embedding_model,
        "text_fields": list(text_fields),
        "window": int(window),
        "lightgbm": str(_lightgbm().__version__),
        "trained": trained,
    }
    (out_dir / _META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return out_dir


def load_model(path: Path) -> LtrModel:
    """Load ``MODEL_DIR`` (``model.json`` + ``model.txt``).

    Raises:
        ConfigError: the directory or a file is missing, unreadable or of another format or
            feature-set version (the message names HYBRID_SEARCH_SEARCH__LTR_MODEL).
        MissingDependencyError: LightGBM is not installed.
    """
    where = f"HYBRID_SEARCH_SEARCH__LTR_MODEL={str(path)!r}"
    meta_path, booster_path = path / _META, path / _BOOSTER
    if not meta_path.is_file() or not booster_path.is_file():
        msg = f"{where}: expected {_META} and {_BOOSTER} there (`hybrid-search ltr train`)"
        raise ConfigError(msg)
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        msg = f"{where}: {meta_path} is unreadable: {exc}"
        raise ConfigError(msg) from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        msg = f"{where}: {meta_path} is not a {FORMAT} model file"
        raise ConfigError(msg)
    if meta.get("format_version") != FORMAT_VERSION:
        msg = (
            f"{where}: model format version {meta.get('format_version')!r}, this version "
            f"reads {FORMAT_VERSION}"
        )
        raise ConfigError(msg)
    if meta.get("feature_set_version") != FEATURE_SET_VERSION:
        msg = (
            f"{where}: trained on feature set version {meta.get('feature_set_version')!r}, "
            f"this version computes version {FEATURE_SET_VERSION}: retrain it"
        )
        raise ConfigError(msg)
    try:
        booster = _lightgbm().Booster(model_file=str(booster_path))
    except Exception as exc:  # LightGBM raises its own LightGBMError
        msg = f"{where}: {booster_path} could not be loaded by LightGBM: {exc}"
        raise ConfigError(msg) from exc
    features = [str(f) for f in meta.get("features", [])]
    if booster.num_feature() != len(features):
        msg = (
            f"{where}: the booster expects {booster.num_feature()} features, "
            f"{_META} lists {len(features)}"
        )
        raise ConfigError(msg)
    logger.info("LTR model %s: %d trees, %d features", path, booster.num_trees(), len(features))
    return LtrModel(booster, features, str(meta.get("embedding_model")), path, meta)
