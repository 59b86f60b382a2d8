"""The request and response schemas of a search, and how their validation errors are told.

The Searcher (``searcher.py``) runs the stages; this module holds what goes in and out, so the
API, the evaluation and the tests share one definition. It imports no ranking code; a page of
hits is rendered by ``render.py``.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Sequence
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, Strict, StrictBool, StrictInt, ValidationError
from pydantic_core import ErrorDetails

from hybrid_search.errors import InvalidRequestError

__all__ = [
    "CommercialOverrides",
    "SearchRequest",
    "SearchResponse",
    "describe_problems",
    "summarise_problems",
    "validate_request",
]

#: A strict float: a JSON integer is still a number, but "0.5" and true are refused.
_Float = Annotated[float, Strict()]


class CommercialOverrides(BaseModel):
    """Per-request overrides of the commercial coefficients (bounded like the settings).

    Numbers and booleans are strict (``"1"`` or ``true`` for a number is refused, not coerced)
    and must be finite.
    """

    model_config = ConfigDict(extra="forbid")

    enabled: StrictBool | None = None
    relevance_weight: _Float | None = Field(None, ge=0.0, le=10.0, allow_inf_nan=False)
    margin_weight: _Float | None = Field(None, ge=0.0, le=10.0, allow_inf_nan=False)
    freshness_weight: _Float | None = Field(None, ge=0.0, le=10.0, allow_inf_nan=False)
    freshness_tau_days: _Float | None = Field(None, gt=0.0, le=3650.0, allow_inf_nan=False)
    popularity_weight: _Float | None = Field(None, ge=-10.0, le=10.0, allow_inf_nan=False)
    popularity_damping: _Float | None = Field(None, ge=0.0, le=1000.0, allow_inf_nan=False)
    exploration_rate: _Float | None = Field(None, ge=0.0, le=0.5, allow_inf_nan=False)
    exploration_seed: StrictInt | None = None
    max_margin: _Float | None = Field(None, gt=0.0, allow_inf_nan=False)


class SearchRequest(BaseModel):
    """A storefront query. Unset fields take the configured defaults.

    Numbers and booleans are strict (``"5"`` or ``true`` for ``k`` is refused, not coerced; an
    integer is accepted for a float) and must be finite.
    """

    model_config = ConfigDict(extra="forbid")

    query: str = Field(..., min_length=1)
    filters: dict[str, Any] | None = None
    k: StrictInt | None = Field(None, ge=1)
    page: StrictInt = Field(0, ge=0)
    mode: Literal["auto", "hybrid", "lexical", "vector"] | None = None
    normalization: Literal["min_max", "l2", "z_score"] | None = None
    combination: Literal["arithmetic_mean", "geometric_mean", "harmonic_mean", "rrf"] | None = None
    lexical_weight: _Float | None = Field(None, ge=0.0, le=1.0, allow_inf_nan=False)
    vector_weight: _Float | None = Field(None, ge=0.0, le=1.0, allow_inf_nan=False)
    rank_constant: StrictInt | None = Field(None, ge=1, le=10000)
    min_vector_cosine: _Float | None = Field(None, ge=-1.0, le=1.0, allow_inf_nan=False)
    candidates: StrictInt | None = Field(None, ge=10, le=10000)
    fuzzy: Literal["off", "on_empty", "always"] | None = None
    adaptive_fusion: StrictBool | None = None
    commercial: CommercialOverrides | None = None
    explain: StrictBool = False
    rerank: Literal["none", "ltr"] | None = None


class SearchResponse(BaseModel):
    """What a search returns: hits with their score breakdown, and how they were found."""

    hits: list[dict[str, Any]]
    mode_used: Literal["hybrid", "lexical", "vector"]
    fallback_reason: str | None = None
    degraded: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    page: int = 0
    k: int = 10
    candidates: dict[str, int] = Field(default_factory=dict)
    timings_ms: dict[str, float] = Field(default_factory=dict)
    top_vector_cosine: float | None = None
    embedder: str | None = None


def validate_request(raw: SearchRequest | dict[str, Any]) -> SearchRequest:
    """A request model from a dict, or InvalidRequestError naming the field and the value.

    Raises:
        InvalidRequestError: the dict is not a valid request (the API's words, see
            ``describe_problems``).
    """
    if isinstance(raw, SearchRequest):
        return raw
    try:
        return SearchRequest.model_validate(raw)
    except ValidationError as exc:
        msg = summarise_problems(describe_problems(exc.errors(), SearchRequest))
        raise InvalidRequestError(msg) from exc


_EXPECTED = {
    "int_type": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "string_type": "a string",
    "dict_type": "a JSON object",
    "model_type": "a JSON object",
    "model_attributes_type": "a JSON object",
    "list_type": "a JSON list",
}


def _short(value: Any, limit: int = 100) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _kind_of(value: Any) -> str:
    """What a JSON value is, in the words of its JSON type."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "a number"
    if isinstance(value, float):
        return "a decimal number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list | tuple) else "an object"


def _model_at(model: type[BaseModel] | None, path: Sequence[str]) -> type[BaseModel] | None:
    """The nested model that ``path`` (field names) leads to, if every step is a model field."""
    for name in path:
        field = model.model_fields.get(name) if model is not None else None
        if field is None:
            return None
        annotation = field.annotation
        options = (
            get_args(annotation)
            if get_origin(annotation) in (Union, types.UnionType)
            else (annotation,)
        )
        model = next((o for o in options if isinstance(o, type) and issubclass(o, BaseModel)), None)
    return model


def _unknown(name: str, where: str, allowed: list[str]) -> str:
    if not allowed:
        return f"unknown field '{where}'"
    starts = [a for a in allowed if a.startswith(name) or name.startswith(a)]
    close = starts or difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown field '{where}'{hint}; allowed: {', '.join(allowed)}"


def describe_problems(
    errors: Sequence[ErrorDetails], model: type[BaseModel] | None, *, strip: int = 0
) -> list[dict[str, str]]:
    """Pydantic's errors as ``{"field", "type", "message"}``, unknown fields first (a misspelt
    field is also reported missing: its own name is the clue). Each message names the field,
    the value and what is allowed; an unknown field lists the allowed ones.

    Args:
        errors: ``ValidationError.errors()``.
        model: the model validated (to list a level's allowed fields), or None.
        strip: leading ``loc`` parts that are not field names (FastAPI's ``"body"``).
    """
    problems = []
    for err in errors:
        parts = [str(p) for p in err.get("loc", ())[strip:]]
        where = ".".join(parts)
        kind = err.get("type", "")
        value = err.get("input")
        name = f"field '{where}'" if where else "request body"
        if kind == "extra_forbidden":
            level = _model_at(model, parts[:-1]) if parts else None
            allowed = list(level.model_fields) if level is not None else []
            message = _unknown(parts[-1] if parts else "", where, allowed)
        elif kind == "missing":
            message = f"{name} is required"
        elif kind == "finite_number":
            message = f"{name}: {_short(value)} is not allowed: it must be a finite number"
        elif kind in _EXPECTED:
            message = f"{name}: {_short(value)} is {_kind_of(value)}; send {_EXPECTED[kind]}"
        else:
            message = f"{name}: {_short(value)} is invalid: {err['msg']}"
        problems.append({"field": where, "type": kind, "message": message})
    problems.sort(key=lambda p: p["type"] != "extra_forbidden")
    return problems


def summarise_problems(problems: Sequence[dict[str, str]]) -> str:
    """One line: the first problem, then the second (or how many more there are)."""
    if not problems:
        return "invalid request"
    first, rest = problems[0]["message"], len(problems) - 1
    if rest == 0:
        return first
    if rest == 1:
        return f"{first} (and 1 more problem: {problems[1]['message']})"
    return f"{first} (and {rest} more problems, first: {problems[1]['message']})"
