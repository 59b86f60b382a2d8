"""Documents and filters checked against the template's field roles.

A document is a JSON object whose keys are the template's top-level fields (``dynamic: strict``):
unknown fields, wrong types and missing required fields are refused with a message that names
the field, the value and what is allowed. The embedding vector is computed by the sidecar, never
taken from the input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from hybrid_search.errors import InvalidRequestError
from hybrid_search.templates import FieldSpec, IndexTemplate

__all__ = [
    "MAX_ID_CHARS",
    "FilterClause",
    "embedding_text",
    "parse_date",
    "parse_filters",
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


def validate_document(raw: Any, template: IndexTemplate) -> dict[str, Any]:
    """Check one document against the template and return it with numbers as floats.

    Raises:
        InvalidRequestError: not an object, an unknown field, a wrong type, or a missing field.
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
        if spec is None:
            msg = f"field '{key}' is not in the template; allowed: {sorted(allowed)}"
            raise InvalidRequestError(msg)
        if value is None:
            continue
        doc[key] = _check_value(spec, value)
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

    @property
    def is_range(self) -> bool:
        """Whether this clause is a range rather than a set of values."""
        return not self.values


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
    a boolean, ``{"price": {"gte": 100, "lte": 500}}`` a range (numbers and dates).

    Raises:
        InvalidRequestError: unknown field, wrong value type, too many filters.
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
        clauses.append(FilterClause(name, spec.kind, values=values))
    return clauses
