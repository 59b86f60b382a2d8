"""The learned re-rank step of the request path (``search.rerank: ltr``).

After fusion and before the commercial stage, the top ``search.ltr_window`` candidates of the
fused window are scored by a LambdaMART model (``model.py``) on the features of
``ranking/ltr_features.py`` and re-ordered by that score. What the step needs from a backend is
one question, ``candidate_scores`` (each lexical field's BM25, the cosine and the field texts of
the window's documents), which both backends answer with the same clauses their lexical leg
runs; the features themselves are computed here, once, for both.

The re-ordered window carries the model's scores min-max normalised to (0, 1] as its fused
scores, so the commercial stage's ``relevance_weight`` keeps its meaning; the breakdown keeps the
fusion's own score (``fused``), the model's raw score (``ltr``) and, with ``explain``, the
features that moved it most (TreeSHAP contributions).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from hybrid_search.backends.base import CandidateScoring, SearchBackend
from hybrid_search.errors import ConfigError
from hybrid_search.hits import CandidateScores
from hybrid_search.ltr.model import LtrModel, load_model
from hybrid_search.ranking.fusion import FusionResult, normalize
from hybrid_search.ranking.ltr_features import build_features, feature_names
from hybrid_search.templates import IndexTemplate

__all__ = ["FeatureRecorder", "LtrResult", "LtrStage", "RerankStep", "candidate_features"]

logger = logging.getLogger(__name__)

TOP_CONTRIBUTIONS = 5


def _scorer(backend: SearchBackend) -> CandidateScoring:
    scorer = backend.capabilities.candidate_scoring
    if scorer is None:
        msg = (
            f"HYBRID_SEARCH_SEARCH__RERANK=ltr: backend {backend.name!r} cannot score "
            "candidates per field (no candidate_scoring capability)"
        )
        raise ConfigError(msg)
    return scorer


def candidate_features(
    backend: Any,
    query: str,
    fused: FusionResult,
    leg_names: Sequence[str],
    embedding: np.ndarray | None,
    *,
    fuzzy: bool,
) -> tuple[CandidateScores, np.ndarray]:
    """The backend's scores of the window's candidates and their feature rows (fused order).

    Raises:
        ConfigError: the backend cannot score candidates.
    """
    scores = _scorer(backend).candidate_scores(query, embedding, list(fused.keys), fuzzy=fuzzy)
    return scores, build_features(query, fused, leg_names, scores, fuzzy=fuzzy)


@dataclass(frozen=True)
class LtrResult:
    """The re-ranked window and what the breakdown reports about it (rows in the new order)."""

    fused: FusionResult
    model_scores: np.ndarray
    fused_scores: np.ndarray
    fused_positions: np.ndarray
    features: np.ndarray
    model: LtrModel

    def contributions(
        self, rows: Sequence[int], *, top: int = TOP_CONTRIBUTIONS
    ) -> list[dict[str, Any]]:
        """For each row, the model's expected value and the ``top`` features by absolute
        contribution (``{"feature", "value", "contribution"}``, largest first)."""
        if not len(rows):
            return []
        picked = self.features[np.asarray(rows, dtype=np.int64)]
        contrib = self.model.contributions(picked)
        names = self.model.features
        out = []
        for values, row in zip(picked.tolist(), contrib.tolist(), strict=True):
            order = np.argsort(-np.abs(np.asarray(row[:-1])), kind="stable")[:top]
            out.append(
                {
                    "base_value": row[-1],
                    "top_features": [
                        {
                            "feature": names[j],
                            "value": None if np.isnan(values[j]) else values[j],
                            "contribution": row[j],
                        }
                        for j in order.tolist()
                    ],
                }
            )
        return out


class RerankStep(Protocol):
    """What the Searcher calls for ``rerank: ltr``: the model, or the training recorder."""

    def rerank(
        self,
        backend: Any,
        query: str,
        fused: FusionResult,
        leg_names: Sequence[str],
        embedding: np.ndarray | None,
        *,
        fuzzy: bool,
    ) -> LtrResult | None:
        """The re-ranked window, or None to keep the fused order."""
        ...

    def check_embedding(self, model_id: str) -> None:
        """Refuse an embedding model the step was not built for."""
        ...


class LtrStage:
    """A loaded model checked against the template's features.

    Raises:
        ConfigError: the model cannot be loaded.
        ModelMismatchError: it was trained on other features.
    """

    def __init__(self, model: LtrModel | Path, template: IndexTemplate) -> None:
        self.model = load_model(model) if isinstance(model, Path) else model
        self.features = feature_names(list(template.lexical_fields))
        self.model.check(features=self.features, embedding_model=None)
        self._embedding_checked: str | None = None

    def check_embedding(self, model_id: str) -> None:
        """Refuse a query embedder other than the one the model was trained with.

        Raises:
            ModelMismatchError: the embedding model ids differ (both named).
        """
        if self._embedding_checked != model_id:
            self.model.check(features=self.features, embedding_model=model_id)
            self._embedding_checked = model_id

    def rerank(
        self,
        backend: Any,
        query: str,
        fused: FusionResult,
        leg_names: Sequence[str],
        embedding: np.ndarray | None,
        *,
        fuzzy: bool,
    ) -> LtrResult | None:
        """Score the window's candidates and re-order them, best model score first."""
        if not len(fused):
            return None
        _, features = candidate_features(backend, query, fused, leg_names, embedding, fuzzy=fuzzy)
        return rerank_with(self.model, fused, features)


def rerank_with(model: LtrModel, fused: FusionResult, features: np.ndarray) -> LtrResult:
    """Re-order a window by the model's scores of its feature rows (ties: fused order)."""
    raw = model.predict(features)
    order = np.argsort(-raw, kind="stable")
    reordered = FusionResult(
        [fused.keys[i] for i in order.tolist()],
        normalize(raw[order], "min_max"),
        fused.raw[order],
        fused.normalized[order],
    )
    return LtrResult(
        fused=reordered,
        model_scores=raw[order],
        fused_scores=fused.scores[order],
        fused_positions=order + 1,
        features=features[order],
        model=model,
    )


class FeatureRecorder:
    """Records each search's window features and document ids, keeping the fused order:
    how ``ltr train`` collects its training rows through the same request path."""

    def __init__(self, template: IndexTemplate) -> None:
        self.features = feature_names(list(template.lexical_fields))
        self.last: tuple[list[str], np.ndarray] | None = None

    def check_embedding(self, model_id: str) -> None:
        """Nothing to check: no model yet."""

    def rerank(
        self,
        backend: Any,
        query: str,
        fused: FusionResult,
        leg_names: Sequence[str],
        embedding: np.ndarray | None,
        *,
        fuzzy: bool,
    ) -> LtrResult | None:
        """Record ``(ids, features)`` of the window in ``last``; the order is left alone."""
        scores, features = candidate_features(
            backend, query, fused, leg_names, embedding, fuzzy=fuzzy
        )
        self.last = (scores.ids, features)
        return None
