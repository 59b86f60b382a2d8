"""What depends on the cluster's version: read from ``GET /``, decided by pure functions here.

Each rule names the version where OpenSearch's behaviour changed and where that was read
(plugin sources at the release tags; ``reference/opensearch.md`` for the rest). The plugins ship
with the core version (k-NN 3.6.0.0 and neural-search 3.6.0.0 in OpenSearch 3.6.0), so the core
``version.number`` of ``GET /`` stands for both.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "RRF_COMBINATION_PARAMETERS",
    "Version",
    "bm25_scale",
    "parse_version",
    "radial_gate_flaw",
    "version_text",
]

Version = tuple[int, int, int]

# neural-search 3.1 moved the score-ranker's rank_constant from ``combination.parameters`` to
# ``combination`` and gave it weights (RRFProcessorFactory at tags 2.19.0.0 and 3.0.0.0 passes
# ``combination.parameters`` to RRFNormalizationTechnique, whose only parameter is rank_constant;
# at 3.1.0.0 ``parameters`` goes to RRFScoreCombinationTechnique, whose only one is weights).
RRF_COMBINATION_PARAMETERS: Version = (3, 1, 0)

# k-NN #2992 (release notes 3.4.0.0): Faiss.SCORE_TO_DISTANCE_TRANSFORMATIONS turned an
# innerproduct min_score s into the distance 1 - s (for s > 1), the negated dot threshold: the
# graph's range search then keeps almost everything, so the gate is off.
_FAISS_INNERPRODUCT_RADIAL_FIXED: Version = (3, 4, 0)
# k-NN #3110 (release notes 3.6.0.0): the exact search (ExactSearcher, taken when an efficient
# filter leaves few documents, k-NN #928) turned the radius back into a score with
# SpaceType.scoreTranslation instead of the engine's translation. The two differ for Faiss where
# Faiss.SCORE_TRANSLATIONS has an entry: cosinesimil (min_score 0.8 acts as 0.7) and
# innerproduct (from 3.4, whose radius is the dot: min_score 1.6 acts as 1/1.6).
_FAISS_EXACT_RADIAL_FIXED: Version = (3, 6, 0)

# OpenSearch 3.0 made Lucene's BM25Similarity the default (OpenSearch #17315, PR #17306). Before,
# the default was LegacyBM25Similarity, which multiplies every term score by (k1 + 1): 2.2 with the
# default k1 = 1.2 that the shipped templates keep. Ranks are the same; raw scores are not.
_LUCENE_BM25_DEFAULT: Version = (3, 0, 0)
_DEFAULT_K1 = 1.2

_NUMBER = re.compile(r"(\d+)\.(\d+)\.(\d+)")


def parse_version(info: Any) -> Version | None:
    """``(major, minor, patch)`` from a ``GET /`` answer, or None when it has no version."""
    version = info.get("version") if isinstance(info, dict) else None
    number = version.get("number") if isinstance(version, dict) else None
    match = _NUMBER.match(number) if isinstance(number, str) else None
    if match is None:
        return None
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def version_text(version: Version | None) -> str:
    """``"2.19.1"``, or ``"unknown"``."""
    return "unknown" if version is None else ".".join(str(part) for part in version)


def radial_gate_flaw(
    engine: str, space_type: str, *, filtered: bool, version: Version | None
) -> str | None:
    """Why the cluster's radial ``min_score`` would gate wrongly for this field, else None.

    Only the Faiss engine is affected (Lucene passes the score through as its similarity
    threshold, ``Lucene.scoreToRadialThreshold``; l2 converts both ways consistently). An
    unknown version counts as affected: gating in the sidecar is right on every version.
    """
    if engine != "faiss" or space_type not in ("innerproduct", "cosinesimil"):
        return None
    if version is None:
        return "the cluster version is unknown"
    if space_type == "innerproduct" and version < _FAISS_INNERPRODUCT_RADIAL_FIXED:
        return (
            f"k-NN {version_text(version)} converts a faiss innerproduct min_score wrongly "
            "(fixed in 3.4, k-NN #2992)"
        )
    if filtered and version < _FAISS_EXACT_RADIAL_FIXED:
        return (
            f"k-NN {version_text(version)} converts a faiss {space_type} min_score wrongly "
            "when an efficient filter takes the exact search (fixed in 3.6, k-NN #3110)"
        )
    return None


def bm25_scale(version: Version | None) -> float:
    """The factor that turns this cluster's raw BM25 into Lucene's ``BM25Similarity`` score,
    which the embedded engine and OpenSearch 3.x give: ``1 / (k1 + 1)`` before 3.0, else 1.

    Raw per-field BM25 is a learned re-ranker's feature, so a model trained on one backend
    sees the same numbers on the other. An unknown version counts as the newest.
    """
    if version is not None and version < _LUCENE_BM25_DEFAULT:
        return 1.0 / (_DEFAULT_K1 + 1.0)
    return 1.0
