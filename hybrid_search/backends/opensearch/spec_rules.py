"""The rules layered over the OpenSearch API specification (see ``spec.py``).

* strict overlays: what OpenSearch's parsers refuse although the spec's schemas allow it
  (unknown knn or hybrid keys, ``k`` out of range, more than 5 hybrid sub-queries, pipeline
  weights outside [0, 1]), each with the server-side evidence;
* ``SPEC_GAPS``: what the server accepts although the spec rejects it, matched narrowly by body
  kind, JSON path, failing keyword and value. Nothing else is tolerated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jsonschema.exceptions import ValidationError

__all__ = ["LOCAL", "MESSAGE", "SPEC_GAPS", "STRICT_OVERLAYS", "SpecGap", "unescape"]

MESSAGE = "x-hybrid-search-message"  # an overlay rule's own message; jsonschema ignores x-*
LOCAL = "#/components/schemas/"  # a reference inside the same spec file

_KNN_STRICT: dict[str, Any] = {
    "closed": True,
    "properties": {
        "k": {"minimum": 1, "maximum": 10000},  # KNNQueryBuilder K_MAX
        "min_score": {"exclusiveMinimum": 0},
        "ignore_unmapped": {"type": "boolean"},  # parsed by KNNQueryBuilderParser, not in spec
        "method_parameters": {  # else "[knn] unknown method parameter found"
            "type": "object",
            "properties": {p: {"type": "integer", "minimum": 1} for p in ("ef_search", "nprobes")},
            "additionalProperties": False,
        },
    },
    "allOf": [
        {
            "oneOf": [{"required": [key]} for key in ("k", "min_score", "max_distance")],
            MESSAGE: "knn requires exactly one of k, min_score, max_distance",
        },
        {
            "not": {
                "required": ["rescore"],
                "anyOf": [{"required": ["min_score"]}, {"required": ["max_distance"]}],
            },
            MESSAGE: "knn rescore cannot be combined with min_score or max_distance",
        },
    ],
}
_HYBRID_STRICT: dict[str, Any] = {
    "closed": True,
    "required": ["queries"],
    "properties": {
        "queries": {"minItems": 1, "maxItems": 5},  # MAX_NUMBER_OF_SUB_QUERIES
        "boost": {"const": 1.0, MESSAGE: "hybrid boost must be 1.0"},
    },
}
STRICT_OVERLAYS: dict[str, dict[str, dict[str, Any]]] = {
    "_common.query_dsl.yaml": {"KnnQuery": _KNN_STRICT, "HybridQuery": _HYBRID_STRICT},
    "search_pipeline._common.yaml": {
        "ScoreCombinationParameters": {
            "properties": {"weights": {"items": {"type": "number", "minimum": 0, "maximum": 1}}},
        },
        "ScoreRankerCombination": {  # RRF weights (3.1) are not modelled by the spec
            "properties": {
                "parameters": {"$ref": f"{LOCAL}ScoreCombinationParameters"},
                "rank_constant": {"maximum": 10000},
            },
        },
    },
}


@dataclass(frozen=True)
class SpecGap:
    """A body the OpenSearch server accepts but the API specification rejects.

    Attributes:
        name: Short identifier, used in debug logs.
        kinds: Body kinds the gap applies to.
        path: JSON pointer of the rejected value inside the body; ``*`` matches any array index.
        keyword: The JSON Schema keyword that fails (``type``, ``enum``, ``oneOf``).
        accepts: Predicate on the rejected value; only values it accepts are tolerated.
        reason: Why the server accepts it, with the evidence.
        revalidate_as: When set, the value is validated again as this kind instead of dropped.
    """

    name: str
    kinds: frozenset[str]
    path: str
    keyword: str
    accepts: Callable[[Any], bool]
    reason: str
    revalidate_as: str | None = None

    def matches(self, kind: str, error: ValidationError) -> bool:
        """Return whether ``error``, raised while validating a ``kind`` body, is this gap."""
        path = list(error.absolute_path)
        want = [unescape(token) for token in self.path.split("/")[1:]]
        if kind not in self.kinds or error.validator != self.keyword or len(path) != len(want):
            return False
        for pattern, got in zip(want, path, strict=True):
            if not (isinstance(got, int) if pattern == "*" else pattern == got):
                return False
        return self.accepts(error.instance)


def _is_explanation_processor(value: Any) -> bool:
    if not isinstance(value, dict) or list(value) != ["hybrid_score_explanation"]:
        return False
    config = value["hybrid_score_explanation"]
    return isinstance(config, dict) and set(config) <= {"tag", "description", "ignore_failure"}


SPEC_GAPS: tuple[SpecGap, ...] = (
    SpecGap(
        name="inline_search_pipeline",
        kinds=frozenset({"search"}),
        path="/search_pipeline",
        keyword="type",
        accepts=lambda value: isinstance(value, dict),
        reason="An ad-hoc pipeline object in the search body (2.8+, SearchSourceBuilder reads it "
        "with parser.mapOrdered()); the spec types search_pipeline as a string only. The object is "
        "validated as a search_pipeline body instead.",
        revalidate_as="search_pipeline",
    ),
    SpecGap(
        name="hybrid_score_explanation",
        kinds=frozenset({"search_pipeline"}),
        path="/response_processors/*",
        keyword="oneOf",
        accepts=_is_explanation_processor,
        reason="neural-search 2.19 ExplanationResponseProcessor.TYPE is missing from the spec's "
        "ResponseProcessor oneOf. Only an empty config or tag/description/ignore_failure.",
    ),
    SpecGap(
        name="z_score_normalization",
        kinds=frozenset({"search_pipeline"}),
        path="/phase_results_processors/*/normalization-processor/normalization/technique",
        keyword="enum",
        accepts=lambda value: value == "z_score",
        reason="neural-search 3.0 ZScoreNormalizationTechnique; the spec's enum is l2|min_max.",
    ),
)


def unescape(token: str) -> str:
    """A JSON pointer token's text (``~1`` is ``/``, ``~0`` is ``~``)."""
    return token.replace("~1", "/").replace("~0", "~")
