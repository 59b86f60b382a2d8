"""Documents and filters checked against the template's field roles.

A document is a JSON object whose keys are the template's top-level fields (``dynamic: strict``):
unknown fields, wrong types and missing required fields are refused with a message that names
the field, the value and what is allowed. The embedding vector is computed by the sidecar, never
taken from the input.

With ``vector_blocks`` in the template, a document may also carry the vectors of its non-text
blocks: ``"vectors": {"behaviour": [32 numbers]}``. A block it leaves out is zeros (a new
product nobody has bought yet: its text decides). They are fused with the text embedding into
the knn vector (``knn_vectors``) and not stored in the source; a re-embed reads them back from
the stored knn vector (``restore_block_vectors``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

import numpy as np

from hybrid_search.errors import InvalidRequestError
from hybrid_search.templates import BLOCK_VECTORS_FIELD, FieldBounds, FieldSpec, IndexTemplate

__all__ = [
    "MAX_ID_CHARS",
    "FilterClause",
    "embedding_text",
    "knn_vectors",
    "parse_date",
    "parse_filters",
    "restore_block_vectors",
    "validate_document",
]

MAX_ID_CHARS = 512
_RANGE_OPS = ("gt", "gte", "lt", "lte")


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_date(value: Any, field: str) -> datetime:
    """Parse an ISO date or datetime (``2026-03-01`` or ``2026-03-01T10:00:00Z``) as UTC.

    Raises:
        InvalidRequestError: the value is not an ISO date.
    """
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            msg = f"field '{field}': {_short(value)} is not an ISO date (allowed: 'YYYY-MM-DD')"
            raise InvalidRequestError(msg) from exc
    else:
        msg = f"field '{field}': {_short(value)} is not an ISO date string (allowed: 'YYYY-MM-DD')"
        raise InvalidRequestError(msg)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def _is_number(value: Any) -> bool:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond the float range
        return False


def _check_value(spec: FieldSpec, value: Any) -> Any:
    name = spec.path
    if spec.kind == "text":
        if not isinstance(value, str):
            msg = f"field '{name}': {_short(value)} is not a string (text field)"
            raise InvalidRequestError(msg)
        return value
    if spec.kind == "keyword":
        values = value if isinstance(value, list) else [value]
        if not values or not all(isinstance(v, str) and v for v in values):
            msg = f"field '{name}': {_short(value)} is not a non-empty string or list of strings"
            raise InvalidRequestError(msg)
        return value
    if spec.kind == "boolean":
        if not isinstance(value, bool):
            msg = f"field '{name}': {_short(value)} is not a boolean (allowed: true, false)"
            raise InvalidRequestError(msg)
        return value
    if spec.kind == "number":
        if not _is_number(value):
            msg = f"field '{name}': {_short(value)} is not a finite number"
            raise InvalidRequestError(msg)
        return float(value)
    parse_date(value, name)
    return value


def _check_bounds(name: str, value: Any, bounds: FieldBounds, now: datetime) -> None:
    """A number or date field inside the template's declared bounds (``_meta.hybrid_search.
    bounds``): a margin of 7 would shrink every other hit's margin term (max-normalised).

    Raises:
        InvalidRequestError: names the field, the value and the allowed range.
    """
    number = parse_date(value, name).timestamp() if isinstance(value, str) else float(value)
    lte = now.timestamp() if bounds.lte_now else bounds.lte
    below = bounds.gte is not None and number < bounds.gte
    above = lte is not None and number > lte
    if not (below or above):
        return
    detail = f" (now is {now.isoformat(timespec='seconds')})" if above and bounds.lte_now else ""
    msg = (
        f"field '{name}': {_short(value)} is out of range{detail}; allowed: {name} "
        f"{bounds.text} (the template's bounds)"
    )
    raise InvalidRequestError(msg)


def validate_document(
    raw: Any, template: IndexTemplate, *, now: datetime | None = None
) -> dict[str, Any]:
    """Check one document against the template and return it with numbers as floats.

    Number and date fields must lie inside the template's ``bounds`` (a date bounded by
    ``"now"`` is compared with ``now``, the current time unless given).

    Raises:
        InvalidRequestError: not an object, an unknown field, a wrong type, a value outside
            the template's bounds, or a missing field.
    """
    if not isinstance(raw, dict):
        msg = f"document: {_short(raw)} is not a JSON object"
        raise InvalidRequestError(msg)
    allowed = template.source_fields
    doc: dict[str, Any] = {}
    for key, value in raw.items():
        if key == template.vector.name:
            msg = f"field '{key}': the embedding is computed by the sidecar; remove it"
            raise InvalidRequestError(msg)
        spec = allowed.get(key)
        if spec is None and key == BLOCK_VECTORS_FIELD:
            if value is not None:
                doc[key] = _check_block_vectors(value, template)
            continue
        if spec is None:
            msg = f"field '{key}' is not in the template; allowed: {sorted(allowed)}"
            raise InvalidRequestError(msg)
        if value is None:
            continue
        doc[key] = _check_value(spec, value)
        bounds = template.bounds.get(key)
        if bounds is not None:
            _check_bounds(key, value, bounds, now or datetime.now(timezone.utc))
    for key in template.required_fields:
        if key not in doc or doc[key] in ("", []):
            msg = f"field '{key}' is required (template '{template.name}')"
            raise InvalidRequestError(msg)
    doc_id = doc[template.id_field]
    if not isinstance(doc_id, str) or len(doc_id) > MAX_ID_CHARS:
        msg = (
            f"field '{template.id_field}': {_short(doc_id)} must be one string of at most "
            f"{MAX_ID_CHARS} characters"
        )
        raise InvalidRequestError(msg)
    return doc


def _check_block_vectors(value: Any, template: IndexTemplate) -> dict[str, list[float]]:
    """The ``vectors`` object: block name -> a list of that block's dimension of finite numbers."""
    field = BLOCK_VECTORS_FIELD
    if template.blocks is None:
        msg = (
            f"field '{field}': template '{template.name}' declares no vector_blocks, so documents "
            "carry no block vectors; remove it, or use a template with "
            "_meta.hybrid_search.vector_blocks (index_templates/products-behaviour.json)"
        )
        raise InvalidRequestError(msg)
    dims = {b.name: b.dimension for b in template.blocks.blocks if b.name != "text"}
    allowed = f"allowed blocks: {sorted(dims)}"
    if not isinstance(value, dict):
        msg = (
            f"field '{field}': {_short(value)} is not an object of block name -> numbers; {allowed}"
        )
        raise InvalidRequestError(msg)
    out: dict[str, list[float]] = {}
    for name, vec in value.items():
        where = f"{field}.{name}"
        if name == "text":
            msg = (
                f"field '{where}': the text block is computed by the sidecar; remove it ({allowed})"
            )
            raise InvalidRequestError(msg)
        if name not in dims:
            msg = f"field '{where}' is not a block of template '{template.name}'; {allowed}"
            raise InvalidRequestError(msg)
        if vec is None:
            continue  # like a missing block: zeros
        if not isinstance(vec, list) or len(vec) != dims[name]:
            got = f"{len(vec)} numbers" if isinstance(vec, list) else _short(vec)
            msg = f"field '{where}': {got}; allowed: a list of {dims[name]} finite numbers"
            raise InvalidRequestError(msg)
        for i, x in enumerate(vec):
            if not _is_number(x):
                msg = f"field '{where}[{i}]': {_short(x)} is not a finite number"
                raise InvalidRequestError(msg)
        out[name] = [float(x) for x in vec]
    return out


def knn_vectors(
    docs: Sequence[dict[str, Any]], text_vectors: np.ndarray, template: IndexTemplate
) -> tuple[list[dict[str, Any]], np.ndarray]:
    """The sources to store and their knn vectors, for validated documents.

    Without ``vector_blocks``: the documents and the text vectors unchanged. With them: each
    knn vector is ``BlockLayout.documents`` of the text vector and the document's ``vectors``
    (a missing block is zeros), the guard reading the template's ``popularity`` commercial
    field (missing counts as 0); ``vectors`` is removed from the sources.

    Raises:
        ValueError: the text vectors do not have the text block's dimension.
    """
    layout = template.blocks
    if layout is None:
        return list(docs), text_vectors
    n = len(docs)
    blocks: dict[str, np.ndarray] = {"text": np.asarray(text_vectors, dtype=np.float32)}
    for block in layout.blocks:
        if block.name == "text":
            continue
        matrix = np.zeros((n, block.dimension), dtype=np.float32)
        for i, doc in enumerate(docs):
            vec = doc.get(BLOCK_VECTORS_FIELD, {}).get(block.name)
            if vec is not None:
                matrix[i] = vec
        blocks[block.name] = matrix
    pop_field = template.commercial_fields.get("popularity")
    popularity = None
    if pop_field is not None:
        popularity = np.array([float(d.get(pop_field) or 0.0) for d in docs], dtype=np.float64)
    fused = layout.documents(blocks, popularity=popularity)
    sources = [{k: v for k, v in d.items() if k != BLOCK_VECTORS_FIELD} for d in docs]
    return sources, fused


def restore_block_vectors(
    doc: dict[str, Any], stored: np.ndarray | None, template: IndexTemplate
) -> dict[str, Any]:
    """``doc`` with the non-text blocks of its stored knn vector put back under ``vectors``.

    A re-embed (new text model) keeps the behaviour and image blocks the document was indexed
    with: each stored block is its unit vector times its weight, so the fusion gives it back
    exactly, re-weighted by the document's popularity now. Empty blocks stay missing; a
    document that brings its own ``vectors``, a template without blocks, or a stored vector of
    another length (the index was built with another layout: its blocks cannot be mapped, so
    the documents need their ``vectors`` sent again) is left as is.
    """
    layout = template.blocks
    if layout is None or stored is None or BLOCK_VECTORS_FIELD in doc:
        return doc
    if np.asarray(stored).size != layout.dimension:
        return doc
    parts = layout.split(stored)
    vectors = {
        name: [float(x) for x in part]
        for name, part in parts.items()
        if name != "text" and np.any(part)
    }
    return {**doc, BLOCK_VECTORS_FIELD: vectors} if vectors else doc


def embedding_text(doc: dict[str, Any], template: IndexTemplate) -> str:
    """The text the embedding model reads: the template's source fields, in order."""
    parts: list[str] = []
    for name in template.embedding_source_fields:
        value = doc.get(name)
        if value is None or value == "":
            continue
        parts.append(", ".join(value) if isinstance(value, list) else str(value))
    return ". ".join(parts)


@dataclass(frozen=True)
class FilterClause:
    """One filter: ``values`` (any of, for keyword/boolean) or a range (numbers, dates)."""

    field: str
    kind: str
    values: tuple[Any, ...] = ()
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None


_DAY_S = 86400.0
_LAST_MS = _DAY_S - 0.001


def _is_date_only(value: Any) -> bool:
    return isinstance(value, str) and len(value.strip()) == 10


def _range_bound(spec: FieldSpec, op: str, value: Any) -> float:
    if spec.kind == "date":
        start = parse_date(value, f"{spec.path}.{op}").timestamp()
        # Like OpenSearch, a date without a time means the end of that day for gt and lte.
        if op in ("gt", "lte") and _is_date_only(value):
            return start + _LAST_MS
        return start
    if not _is_number(value):
        msg = f"filter '{spec.path}.{op}': {_short(value)} is not a finite number"
        raise InvalidRequestError(msg)
    return float(value)


def parse_filters(
    filters: dict[str, Any] | None, template: IndexTemplate, *, max_filters: int = 16
) -> list[FilterClause]:
    """Turn a filter object into clauses, all combined with AND.

    ``{"brand": "X"}`` is a term, ``{"color": ["red", "black"]}`` any of, ``{"in_stock": true}``
    a boolean, ``{"price": {"gte": 100, "lte": 500}}`` a range (numbers and dates). Keyword
    values are normalised as the field's template normalizer would (``lowercase``).

    Raises:
        InvalidRequestError: unknown field, wrong value type, too many filters, a range that
            no value falls in (``gte`` above ``lte``).
    """
    if not filters:
        return []
    if not isinstance(filters, dict):
        msg = f"filters: {_short(filters)} is not an object of field -> value"
        raise InvalidRequestError(msg)
    if len(filters) > max_filters:
        msg = f"filters: {len(filters)} fields given, at most {max_filters} allowed"
        raise InvalidRequestError(msg)
    clauses: list[FilterClause] = []
    for name, value in filters.items():
        if name not in template.filter_fields:
            allowed = sorted(template.filter_fields)
            msg = f"filter field '{name}' is not filterable; allowed: {allowed}"
            raise InvalidRequestError(msg)
        spec = template.fields[name]
        if isinstance(value, dict):
            if spec.kind not in ("number", "date"):
                msg = f"filter '{name}': ranges are only allowed on number and date fields"
                raise InvalidRequestError(msg)
            unknown = sorted(set(value) - set(_RANGE_OPS))
            if {"gt", "gte"} <= set(value) or {"lt", "lte"} <= set(value):
                msg = (
                    f"filter '{name}': {_short(value)} gives two bounds on one side; "
                    "use gt or gte, and lt or lte"
                )
                raise InvalidRequestError(msg)
            if unknown or not value:
                msg = (
                    f"filter '{name}': {_short(value)} has operators {unknown}; "
                    f"allowed: {list(_RANGE_OPS)}"
                )
                raise InvalidRequestError(msg)
            bounds = {op: _range_bound(spec, op, v) for op, v in value.items()}
            _check_range(name, spec.kind, value, bounds)
            clauses.append(
                FilterClause(
                    name,
                    spec.kind,
                    gt=bounds.get("gt"),
                    gte=bounds.get("gte"),
                    lt=bounds.get("lt"),
                    lte=bounds.get("lte"),
                )
            )
            continue
        values = tuple(value) if isinstance(value, list) else (value,)
        if not values:
            msg = f"filter '{name}': an empty list matches nothing; give at least one value"
            raise InvalidRequestError(msg)
        for v in values:
            ok = {
                "keyword": isinstance(v, str),
                "boolean": isinstance(v, bool),
                "number": _is_number(v),
                "date": isinstance(v, str),
            }[spec.kind]
            if not ok:
                msg = f"filter '{name}': {_short(v)} is not a valid {spec.kind} value"
                raise InvalidRequestError(msg)
        if spec.kind in ("number", "date"):
            v = values[0]
            if len(values) > 1:
                msg = f"filter '{name}': give one value or a range object, not a list"
                raise InvalidRequestError(msg)
            point = _range_bound(spec, "gte", v)
            # A date-only term matches the whole day, as in OpenSearch.
            end = _range_bound(spec, "lte", v) if spec.kind == "date" else point
            clauses.append(FilterClause(name, spec.kind, gte=point, lte=end))
            continue
        if spec.kind == "keyword":
            # As the field's normalizer indexes it (OpenSearch normalises a term query the
            # same way): ``Black`` finds ``black`` on both backends.
            values = tuple(dict.fromkeys(spec.normalize(v) for v in values))
        clauses.append(FilterClause(name, spec.kind, values=values))
    return clauses


def _check_range(name: str, kind: str, raw: dict[str, Any], bounds: dict[str, float]) -> None:
    """Refuse a range no value can fall in (``gte`` above ``lte``): it would answer zero hits
    that look like a relevance failure.

    Raises:
        InvalidRequestError: names both bounds and their values.
    """
    low = next((op for op in ("gt", "gte") if op in bounds), None)
    high = next((op for op in ("lt", "lte") if op in bounds), None)
    if low is None or high is None:
        return
    lo, hi = bounds[low], bounds[high]
    if kind == "date":  # milliseconds, as OpenSearch stores dates: gt x is gte x + 1 ms
        lo_ms = round(lo * 1000) + (low == "gt")
        hi_ms = round(hi * 1000) - (high == "lt")
        if lo_ms <= hi_ms:
            return
    elif lo < hi or (lo == hi and low == "gte" and high == "lte"):
        return
    msg = (
        f"filter '{name}': {name}.{low} = {_short(raw[low])} and {name}.{high} = "
        f"{_short(raw[high])} leave no value between them; the lower bound ({low}) must be "
        f"below the upper bound ({high})"
    )
    raise InvalidRequestError(msg)
