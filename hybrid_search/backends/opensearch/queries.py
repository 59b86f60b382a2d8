"""Pure builders of the OpenSearch request bodies: functions from arguments to JSON-ready dicts.

Nothing here talks to a cluster, so every body can be golden-tested and validated against the
OpenSearch API specification (``spec.py``) without one. Facts and formulas follow
``reference/opensearch.md``: the lexical leg is ``multi_match`` best_fields (a dis_max over the
template's lexical fields with their boosts, like the embedded engine), the vector leg a ``knn``
query with efficient filtering and ``method_parameters.ef_search``, the native mode one ``hybrid``
query whose knn sub-query is gated by a radial ``min_score``.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from datetime import datetime, timezone
from typing import Any

import numpy as np

from hybrid_search.documents import FilterClause
from hybrid_search.ranking.confidence import score_from_similarity
from hybrid_search.templates import IndexTemplate

__all__ = [
    "KNN_MAX_K",
    "candidate_bodies",
    "filter_query",
    "hybrid_body",
    "ids_of",
    "knn_body",
    "knn_query",
    "lexical_body",
    "lexical_query",
    "min_score_for_cosine",
    "msearch_body",
]

KNN_MAX_K = 10_000  # KNNQueryBuilder.K_MAX
_MIN_RADIAL_SCORE = 1e-6  # knn min_score must be > 0


def _iso_ms(epoch_s: float) -> str:
    moment = datetime.fromtimestamp(epoch_s, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _bound(clause: FilterClause, value: float) -> Any:
    if clause.kind == "date":
        return _iso_ms(value)  # parse_filters turned dates into epoch seconds, end of day included
    return value


def filter_query(filters: Sequence[FilterClause]) -> dict[str, Any] | None:
    """AND of the filter clauses as one ``bool.filter`` query, or None when there are none."""
    parts: list[dict[str, Any]] = []
    for clause in filters:
        if clause.values:
            if len(clause.values) == 1:
                parts.append({"term": {clause.field: clause.values[0]}})
            else:
                parts.append({"terms": {clause.field: list(clause.values)}})
            continue
        bounds = {
            op: _bound(clause, value)
            for op, value in (
                ("gt", clause.gt),
                ("gte", clause.gte),
                ("lt", clause.lt),
                ("lte", clause.lte),
            )
            if value is not None
        }
        parts.append({"range": {clause.field: bounds}})
    if not parts:
        return None
    return {"bool": {"filter": parts}}


def lexical_query(text: str, template: IndexTemplate, *, fuzzy: bool = False) -> dict[str, Any]:
    """``multi_match`` best_fields over the template's lexical fields with their boosts.

    ``fuzzy`` adds ``fuzziness: AUTO`` (0 edits up to 2 characters, 1 up to 5, 2 beyond), per term,
    with the embedded engine's expansion rules: the first character must match
    (``prefix_length: 1``) and at most 3 terms per typo (``max_expansions: 3``). Unlike the
    embedded engine, Lucene also expands terms the index knows.
    """
    fields = [
        name if boost == 1.0 else f"{name}^{_number(boost)}"
        for name, boost in template.lexical_fields.items()
    ]
    match: dict[str, Any] = {"query": text, "fields": fields, "type": "best_fields"}
    if fuzzy:
        match.update(fuzziness="AUTO", prefix_length=1, max_expansions=3)
    return {"multi_match": match}


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _scored(query: dict[str, Any], filters: Sequence[FilterClause]) -> dict[str, Any]:
    flt = filter_query(filters)
    if flt is None:
        return query
    return {"bool": {"must": [query], "filter": flt["bool"]["filter"]}}


def lexical_body(
    text: str,
    template: IndexTemplate,
    *,
    k: int,
    filters: Sequence[FilterClause] = (),
    fuzzy: bool = False,
) -> dict[str, Any]:
    """The BM25 leg: ids and raw scores of the best ``k`` matches (no ``_source``)."""
    return {
        "size": k,
        "_source": False,
        "track_total_hits": False,
        "query": _scored(lexical_query(text, template, fuzzy=fuzzy), filters),
    }


def _vector_list(embedding: np.ndarray) -> list[float]:
    return [float(x) for x in np.asarray(embedding, dtype=np.float32).ravel()]


def knn_query(
    embedding: np.ndarray,
    template: IndexTemplate,
    *,
    k: int | None = None,
    min_score: float | None = None,
    filters: Sequence[FilterClause] = (),
    ids: Sequence[str] | None = None,
    ef_search: int | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """A ``knn`` clause: top ``k`` or radial ``min_score`` (exactly one), efficient filter.

    ``ids`` narrows the efficient filter to these documents (an empty list matches none).

    Raises:
        ValueError: neither or both of ``k`` and ``min_score``, or ``k`` out of (0, 10000].
    """
    if (k is None) == (min_score is None):
        msg = f"knn needs exactly one of k and min_score (got k={k}, min_score={min_score})"
        raise ValueError(msg)
    clause: dict[str, Any] = {"vector": _vector_list(embedding)}
    if k is not None:
        if not 0 < k <= KNN_MAX_K:
            msg = f"knn k={k} is out of range; allowed 1..{KNN_MAX_K}"
            raise ValueError(msg)
        clause["k"] = k
    else:
        clause["min_score"] = min_score
    flt = filter_query(filters)
    if ids is not None:
        only = {"ids": {"values": [str(doc_id) for doc_id in ids]}}
        flt = {"bool": {"filter": [only, *flt["bool"]["filter"]]}} if flt else only
    if flt is not None:
        clause["filter"] = flt
    # Lucene accepts no method parameters on radial queries (LuceneHNSWSearchContext).
    radial_lucene = min_score is not None and template.vector.engine == "lucene"
    if ef_search is not None and not radial_lucene:
        clause["method_parameters"] = {"ef_search": int(ef_search)}
    if name is not None:
        clause["_name"] = name
    return {"knn": {template.vector.name: clause}}


def knn_body(
    embedding: np.ndarray,
    template: IndexTemplate,
    *,
    k: int,
    filters: Sequence[FilterClause] = (),
    ef_search: int | None = None,
) -> dict[str, Any]:
    """The vector leg: ids and raw ``knn`` scores of the ``k`` nearest (``size`` pinned to k)."""
    return {
        "size": k,
        "_source": False,
        "track_total_hits": False,
        "query": knn_query(embedding, template, k=k, filters=filters, ef_search=ef_search),
    }


def msearch_body(index: str, bodies: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """``_msearch`` NDJSON lines: a header naming the index before each body."""
    lines: list[dict[str, Any]] = []
    for body in bodies:
        lines += [{"index": index}, body]
    return lines


def min_score_for_cosine(tau: float, space_type: str) -> float:
    """The radial knn ``min_score`` that keeps hits with cosine >= ``tau`` (reference §1.3).

    ``cosinesimil``: ``(1 + tau) / 2``; ``innerproduct``: the score of dot = tau (equal to the
    cosine for unit vectors); ``l2``: ``1 / (1 + d²)`` with ``d² = 2 (1 - tau)`` for unit vectors.
    Clamped to a tiny positive value because knn refuses ``min_score <= 0``.

    Raises:
        ValueError: unknown space type.
    """
    if space_type == "l2":
        score = score_from_similarity(max(2.0 * (1.0 - tau), 0.0), "l2")
    else:
        score = score_from_similarity(tau, space_type)
    if space_type != "innerproduct":
        score = min(score, 1.0)
    return max(score, _MIN_RADIAL_SCORE)


def hybrid_body(
    text: str,
    embedding: np.ndarray,
    template: IndexTemplate,
    *,
    size: int,
    from_: int = 0,
    window: int,
    filters: Sequence[FilterClause] = (),
    fuzzy: bool = False,
    ef_search: int | None = None,
    min_vector_cosine: float | None = None,
    gated_ids: Sequence[str] | None = None,
    pipeline: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One native ``hybrid`` query: [lexical, knn] sub-queries, normalised by a search pipeline.

    The knn sub-query is radial (``min_score`` for cosine >= ``min_vector_cosine``) when a gate
    is given, else top-``window``; filters go into each sub-query (works on 2.x and 3.x).
    ``gated_ids`` is the gate applied in the sidecar instead (where the cluster's radial search
    is wrong, ``versions.radial_gate_flaw``): the knn sub-query scores only these documents (an
    ``ids`` efficient filter, top-k over them; none: it matches nothing).
    ``pagination_depth`` is always set (required when ``from > 0``, and it keeps page scores
    stable across pages). ``pipeline`` embeds an ad-hoc pipeline (else send ``search_pipeline``
    as a URL parameter).
    """
    space = template.vector.space_type
    if gated_ids is not None:
        ids = list(gated_ids)[:KNN_MAX_K]
        vector = knn_query(
            embedding,
            template,
            k=max(len(ids), 1),
            filters=filters,
            ids=ids,
            ef_search=ef_search,
        )
    elif min_vector_cosine is None:
        vector = knn_query(
            embedding, template, k=min(window, KNN_MAX_K), filters=filters, ef_search=ef_search
        )
    else:
        vector = knn_query(
            embedding,
            template,
            # vector_blocks: the raw similarity is text_weight * cos (templates.py).
            min_score=min_score_for_cosine(
                min_vector_cosine * template.text_similarity_scale, space
            ),
            filters=filters,
            ef_search=ef_search,
        )
    body: dict[str, Any] = {
        "size": size,
        "from": from_,
        "_source": False,
        "query": {
            "hybrid": {
                "queries": [
                    _scored(lexical_query(text, template, fuzzy=fuzzy), filters),
                    vector,
                ],
                "pagination_depth": window,
            }
        },
    }
    if pipeline is not None:
        body["search_pipeline"] = pipeline
    return body


def candidate_bodies(
    text: str,
    embedding: np.ndarray | None,
    template: IndexTemplate,
    ids: Sequence[str],
    *,
    fuzzy: bool = False,
) -> list[dict[str, Any]]:
    """What the learned re-rank asks about given documents, as ``_msearch`` bodies:

    one per lexical field (that field's ``match`` clause of the lexical leg's ``multi_match``,
    without the boost, typo options included, scoring only ``ids``: its BM25 per document),
    then the documents' lexical fields (``_source``), then, with an embedding, a ``knn`` over
    just ``ids`` (exact scores: an efficient filter of a few hundred documents is searched
    exactly) whose ``_score`` gives each cosine.
    """
    only = {"ids": {"values": list(ids)}}
    size = max(len(ids), 1)
    bodies: list[dict[str, Any]] = []
    for field in template.lexical_fields:
        match: dict[str, Any] = {"query": text}
        if fuzzy:
            match.update(fuzziness="AUTO", prefix_length=1, max_expansions=3)
        bodies.append(
            {
                "size": size,
                "_source": False,
                "track_total_hits": False,
                "query": {"bool": {"must": [{"match": {field: match}}], "filter": [only]}},
            }
        )
    sources = list(
        dict.fromkeys([template.id_field, *(f.split(".")[0] for f in template.lexical_fields)])
    )
    bodies.append({"size": size, "_source": sources, "track_total_hits": False, "query": only})
    if embedding is not None:
        k = min(size, KNN_MAX_K)
        bodies.append(
            {
                "size": k,
                "_source": False,
                "track_total_hits": False,
                "query": knn_query(embedding, template, k=k, ids=list(ids)),
            }
        )
    return bodies


def ids_of(keys: Sequence[Hashable]) -> list[str]:
    """Document ids as strings (the OpenSearch backend's hit keys are ``_id`` strings)."""
    return [str(key) for key in keys]
