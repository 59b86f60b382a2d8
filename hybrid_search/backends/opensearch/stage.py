"""The commercial stage inside OpenSearch: a ``script_score`` over the fused candidate window.

The fused relevance is carried into ``_score`` by one ``constant_score`` clause per candidate
(``boost`` = fused score, summed by a ``bool.should`` in which each candidate matches once); the
painless source comes from ``index_templates/commercial.painless`` and receives scalar
params only, so its numbers equal ``ranking/commercial.py``'s numpy formula (``_score`` and the
script result are float32 in OpenSearch: equal to about 1e-7 relative).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from hybrid_search.errors import TemplateError
from hybrid_search.ranking.commercial import CommercialParams
from hybrid_search.templates import COMMERCIAL_ROLES, IndexTemplate

__all__ = [
    "commercial_params",
    "commercial_script_source",
    "commercial_stage_body",
    "commercial_stats_body",
    "script_path",
]

_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


def script_path(template: IndexTemplate) -> Path:
    """``<template>.commercial.painless`` beside the template file if there is one (a
    per-template override), else the shared ``commercial.painless`` there."""
    own = template.path.with_name(f"{template.name}.commercial.painless")
    return own if own.is_file() else template.path.with_name("commercial.painless")


def commercial_script_source(template: IndexTemplate) -> str:
    """The painless source with the template's commercial field names filled in.

    Comment lines are dropped (they only document the file); the ``{{role}}`` placeholders become
    the fields the template maps to ``margin``, ``received_at`` and ``popularity``.

    Raises:
        TemplateError: the script file is missing, or a role it uses is not in the template.
    """
    path = script_path(template)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        msg = f"cannot read the painless commercial script {path}: {exc}"
        raise TemplateError(msg) from exc
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("//")]
    source = "\n".join(line for line in lines if line.strip())

    def field(match: re.Match[str]) -> str:
        role = match.group(1)
        name = template.commercial_fields.get(role)
        if name is None:
            msg = (
                f"{template.path}#/_meta/hybrid_search/commercial_fields/{role}: {path} needs a "
                f"field for role {role!r}; roles: {list(COMMERCIAL_ROLES)}"
            )
            raise TemplateError(msg)
        return name

    return _PLACEHOLDER.sub(field, source)


def commercial_stats_body(ids: Sequence[str], template: IndexTemplate) -> dict[str, Any]:
    """Window maxima of margin and popularity (the formula's scalar normalisers)."""
    aggs = {
        f"max_{role}": {"max": {"field": template.commercial_fields[role]}}
        for role in ("margin", "popularity")
        if role in template.commercial_fields
    }
    return {
        "size": 0,
        "track_total_hits": False,
        "query": {"ids": {"values": list(ids)}},
        "aggs": aggs,
    }


def commercial_params(
    params: CommercialParams, *, now: datetime, max_margin: float, max_popularity: float
) -> dict[str, float]:
    """Scalar script params for one window (see the painless file for their meaning)."""
    g = params.popularity_damping
    if max_popularity > 0 and g > 0:
        denominator = math.log1p(g * max_popularity)
    elif max_popularity > 0:
        denominator = max_popularity
    else:
        denominator = 0.0
    return {
        "a": float(params.relevance_weight),
        "b": float(params.margin_weight),
        "c": float(params.freshness_weight),
        "d": float(params.popularity_weight),
        "damping": float(g),
        "max_margin": float(max_margin),
        "pop_denominator": float(denominator),
        "tau_days": float(params.freshness_tau_days),
        "now_s": float(now.timestamp()),
        "shift": float(max(0.0, -params.popularity_weight)),
    }


def commercial_stage_body(
    ids: Sequence[str],
    fused: Sequence[float],
    template: IndexTemplate,
    script_params: dict[str, float],
    *,
    source: str | None = None,
    script_id: str | None = None,
) -> dict[str, Any]:
    """``script_score`` over the candidates, ``_score`` = fused score, commercial fields returned.

    Raises:
        ValueError: not exactly one of ``source`` and ``script_id``, or ids and scores differ.
    """
    if (source is None) == (script_id is None):
        msg = "the commercial stage needs exactly one of an inline source and a stored script id"
        raise ValueError(msg)
    if len(ids) != len(fused):
        msg = f"{len(ids)} candidate ids but {len(fused)} fused scores"
        raise ValueError(msg)
    should = [
        {"constant_score": {"filter": {"ids": {"values": [doc_id]}}, "boost": float(score)}}
        for doc_id, score in zip(ids, fused, strict=True)
    ]
    script: dict[str, Any] = {"params": dict(script_params)}
    if source is not None:
        script.update(lang="painless", source=source)
    else:
        script["id"] = script_id
    return {
        "size": len(ids),
        "track_total_hits": False,
        "_source": {"includes": sorted(template.commercial_fields.values())},
        "query": {
            "script_score": {
                "query": {"bool": {"should": should, "minimum_should_match": 1}},
                "script": script,
            }
        },
    }
