"""Learning-to-rank features of one query's fused window: pure functions, no I/O.

For every candidate of the window (the union of both legs' candidates, fused), one row of
relevance features, the same on both backends because they are computed here from what the
backends return (``CandidateScores``: each lexical field's BM25, the cosine, the field texts)
and from the fusion result:

- per lexical field ``f``: ``bm25[f]`` (that field's own BM25, not only the best field's),
  ``coverage[f]`` (share of the query's tokens the field holds), ``length[f]`` (its tokens);
- ``bm25_sum``, ``bm25_max``, ``bm25_gap`` (the window's best ``bm25_sum`` minus this one),
  ``coverage_all`` (share of query tokens found in any field);
- ``fused`` and ``fused_rank``; for each leg its normalised score and 1-based rank within the
  leg (NaN where the leg did not return the candidate): ``lexical_normalized``,
  ``lexical_rank``, ``vector_normalized``, ``vector_rank`` (not the raw lexical score: its scale
  differs between the backends, tantivy's BM25 carrying Lucene's old ``k1 + 1`` factor);
- ``cosine`` (exact, for every candidate, not only the vector leg's) and ``cosine_gap``;
- ``title_exact`` (the title's tokens are the query's), ``title_phrase`` (the query's tokens
  appear in order and adjacent in the title);
- ``query_tokens``, ``query_chars``, ``query_is_code`` (a SKU / model-number token);
- ``typo_terms`` (query tokens no candidate holds but whose close spellings some do, when the
  typo-tolerant leg ran) and ``typo_matches`` (how many of those this candidate matched only
  through such a spelling);
- relative to the window (a LambdaMART tree compares rows of one query only through features
  that say where a row stands among them): ``coverage_gap`` (the window's best
  ``coverage_all`` minus this one), ``bm25_rank`` and ``cosine_rank`` (1-based ranks of
  ``bm25_sum`` and ``cosine`` among every candidate, not only one leg's), ``missing_terms``
  (query tokens in no field), ``rare_coverage`` (``coverage_all`` with each query token
  weighted by its rarity in the window, ``log((n + 1) / (df + 0.5))`` for a token ``df`` of
  the ``n`` candidates hold: a token every candidate holds tells them apart least);
- more of the title (``title_field``): ``title_bigrams`` (share of the query's adjacent token
  pairs adjacent in the title; NaN for a one-token query), ``title_head`` (the query's last
  token, usually the product noun, is in the title), ``title_lead`` (the title's first token,
  usually the brand, is in the query), ``prefix_coverage`` (share of query tokens a title token
  equals, or starts or is started by with 4 characters or more: "insul" / "insulation"),
  ``number_coverage`` (share of the query's tokens with a digit, sizes and model numbers,
  that the title holds; NaN when the query has none).

No commercial field (margin, freshness, popularity) is a feature: the commercial stage stays
separate and runs after the re-rank. LambdaMART itself is LightGBM's (Burges, "From RankNet to
LambdaRank to LambdaMART: An Overview", MSR-TR-2010-82).

Tokens: lower-cased alphanumeric runs, English stop words dropped, a trailing plural ``s``
stripped (``"doors"`` and ``"door"`` agree); the backends' own analyzers are not used, so both
backends produce the same text features.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from functools import lru_cache
from itertools import pairwise
from typing import Any, cast

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import OSA

from hybrid_search.hits import CandidateScores
from hybrid_search.ranking.adaptive import has_code_token
from hybrid_search.ranking.fusion import FusionResult

__all__ = [
    "FEATURE_SET_VERSION",
    "LEG_NAMES",
    "build_features",
    "feature_names",
    "source_text",
    "text_tokens",
    "title_field",
]

#: Bumped whenever a feature's definition changes; stored with every model.
FEATURE_SET_VERSION = 2
LEG_NAMES = ("lexical", "vector")

_TOKEN = re.compile(r"[a-z0-9]+")
_TEXT_CACHE = 1 << 15  # tokenised texts kept (a catalogue's popular products recur)
_STOP = frozenset(
    {"a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "in", "into", "is", "it"}
    | {"of", "on", "or", "the", "to", "with"}
)
_PER_FIELD = ("bm25", "coverage", "length")
_GLOBAL = (
    "bm25_sum",
    "bm25_max",
    "bm25_gap",
    "coverage_all",
    "fused",
    "fused_rank",
    "lexical_normalized",
    "lexical_rank",
    "vector_normalized",
    "vector_rank",
    "cosine",
    "cosine_gap",
    "title_exact",
    "title_phrase",
    "query_tokens",
    "query_chars",
    "query_is_code",
    "typo_terms",
    "typo_matches",
    "coverage_gap",
    "bm25_rank",
    "cosine_rank",
    "missing_terms",
    "rare_coverage",
    "title_bigrams",
    "title_head",
    "title_lead",
    "prefix_coverage",
    "number_coverage",
)
_PREFIX = 4  # shortest prefix that counts as a match in ``prefix_coverage``


def source_text(source: Mapping[str, Any], path: str) -> str:
    """A lexical field's text in a document source (``brand.text`` reads ``brand``; a list is
    joined with spaces; "" when absent)."""
    value = source.get(path.split(".")[0])
    if value is None:
        return ""
    if isinstance(value, list):
        return " ".join(str(v) for v in value if v is not None)
    return str(value)


def _normal(token: str) -> str:
    if len(token) > 3 and token.endswith("s") and not token.endswith("ss"):
        return token[:-1]
    return token


@lru_cache(maxsize=_TEXT_CACHE)
def _tokens(text: str) -> tuple[str, ...]:
    return tuple(_normal(t) for t in _TOKEN.findall(text.lower()) if t not in _STOP)


@lru_cache(maxsize=_TEXT_CACHE)
def _token_set(text: str) -> frozenset[str]:
    return frozenset(_tokens(text))


@lru_cache(maxsize=_TEXT_CACHE)
def _token_pairs(text: str) -> frozenset[tuple[str, str]]:
    return frozenset(pairwise(_tokens(text)))


def text_tokens(text: str) -> list[str]:
    """The feature tokens of a text, in order (see the module docstring)."""
    return list(_tokens(text))


def title_field(fields: Sequence[str]) -> str | None:
    """The field the title features read: ``title`` if the template has one, else the first."""
    if "title" in fields:
        return "title"
    return fields[0] if fields else None


def feature_names(fields: Sequence[str]) -> list[str]:
    """The feature columns for a template's lexical fields, in order."""
    per_field = [f"{kind}[{field}]" for field in fields for kind in _PER_FIELD]
    return [*per_field, *_GLOBAL]


def _fuzziness(term: str) -> int:
    """OpenSearch's ``fuzziness: AUTO`` (as the lexical leg uses it)."""
    return 0 if len(term) <= 2 else 1 if len(term) <= 5 else 2


def _expansions(missing: Sequence[str], vocabulary: Sequence[str]) -> dict[str, set[str]]:
    """Each missing query token's close spellings in the window (same first character)."""
    out: dict[str, set[str]] = {}
    for term in missing:
        limit = _fuzziness(term)
        if limit == 0:
            continue
        pool = [w for w in vocabulary if w[0] == term[0]]
        found = process.extract(term, pool, scorer=OSA.distance, score_cutoff=limit, limit=None)
        if found:
            out[term] = {word for word, _, _ in found}
    return out


def _leg_ranks(raw: np.ndarray) -> np.ndarray:
    """1-based rank by raw score within each leg's column (NaN where missing)."""
    ranks = np.full(raw.shape, np.nan)
    for j in range(raw.shape[1]):
        present = np.flatnonzero(~np.isnan(raw[:, j]))
        if present.size:
            order = present[np.argsort(-raw[present, j], kind="stable")]
            ranks[order, j] = np.arange(1, order.size + 1)
    return ranks


def _phrase(query: tuple[str, ...], title: tuple[str, ...]) -> bool:
    n = len(query)
    if not n or n > len(title):
        return False
    first = query[0]
    return any(title[i] == first and title[i : i + n] == query for i in range(len(title) - n + 1))


def _window_rank(values: np.ndarray) -> np.ndarray:
    """1-based rank of each value in the window, best (largest) first; NaN last."""
    filled = np.where(np.isnan(values), -np.inf, values)
    ranks = np.empty(values.size)
    ranks[np.argsort(-filled, kind="stable")] = np.arange(1, values.size + 1)
    return ranks


def _prefix_matches(term: str, vocabulary: Sequence[str], known: frozenset[str]) -> set[str]:
    """The words of the window's (sorted) vocabulary that match ``term`` for
    ``prefix_coverage``: itself, and with 4 characters or more on both sides, the words it
    starts (a contiguous run of the sorted list) and those that start it."""
    out = {term} if term in known else set()
    if len(term) < _PREFIX:
        return out
    i = bisect_left(vocabulary, term)
    while i < len(vocabulary) and vocabulary[i].startswith(term):
        out.add(vocabulary[i])
        i += 1
    out.update(term[:k] for k in range(_PREFIX, len(term)) if term[:k] in known)
    return out


def _title_features(
    query: tuple[str, ...], q_tokens: Sequence[str], titles: Sequence[str], present: np.ndarray
) -> np.ndarray:
    """``title_bigrams``, ``title_head``, ``title_lead``, ``prefix_coverage``,
    ``number_coverage`` of each title text (columns in that order); ``q_tokens`` are the
    query's distinct tokens, ``present[i, t]`` whether title ``i`` holds token ``t``."""
    out = np.zeros((len(titles), 5))
    pairs = frozenset(pairwise(query))
    q_set = frozenset(q_tokens)
    sets = [_token_set(t) for t in titles]
    if pairs:  # columns built as lists: a numpy element write per row costs more than the test
        title_pairs = [_token_pairs(text) for text in titles]
        for pair in pairs:
            out[:, 0] += [pair in held for held in title_pairs]
        out[:, 0] /= len(pairs)
    else:
        out[:, 0] = np.nan
    if query:
        out[:, 1] = present[:, list(q_tokens).index(query[-1])]
    out[:, 2] = [bool(title) and title[0] in q_set for title in map(_tokens, titles)]
    if q_tokens:
        known = frozenset().union(*sets)
        vocabulary = sorted(known)
        for j, term in enumerate(q_tokens):
            m = _prefix_matches(term, vocabulary, known)
            if m == {term}:  # no other spelling in the window: the token's own column
                out[:, 3] += present[:, j]
            elif m:
                out[:, 3] += [not m.isdisjoint(words) for words in sets]
        out[:, 3] /= len(q_tokens)
    numbers = [j for j, t in enumerate(q_tokens) if any(c.isdigit() for c in t)]
    if numbers:
        out[:, 4] = present[:, numbers].sum(axis=1) / len(numbers)
    else:
        out[:, 4] = np.nan
    return out


def build_features(
    query: str,
    fused: FusionResult,
    leg_names: Sequence[str],
    scores: CandidateScores,
    *,
    fuzzy: bool,
) -> np.ndarray:
    """One feature row per candidate of ``fused`` (rows in fused order), columns as
    ``feature_names(scores.fields)``; NaN where a value does not exist.

    ``scores`` must hold the same candidates in the same order as ``fused``; ``leg_names``
    names the columns of ``fused.raw`` (``["lexical", "vector"]``, or the one leg used).

    Raises:
        ValueError: ``scores`` and ``fused`` differ in length.
    """
    n, fields = len(fused), scores.fields
    if len(scores) != n:
        msg = f"{len(scores)} candidate scores for a window of {n} candidates"
        raise ValueError(msg)
    names = feature_names(fields)
    out = np.full((n, len(names)), np.nan)
    if n == 0:
        return out
    q_tokens = list(dict.fromkeys(text_tokens(query)))
    q_set = set(q_tokens)
    q_count = len(q_tokens)
    doc_tokens = [[_tokens(texts.get(f, "")) for f in fields] for texts in scores.texts]
    doc_sets = [[_token_set(texts.get(f, "")) for f in fields] for texts in scores.texts]
    # present[i, j, t]: candidate i's field j holds query token t (each test once, a column
    # per token and field: a list per candidate costs more than the tests)
    present = np.zeros((n, len(fields), q_count), dtype=bool)
    for j in range(len(fields)):
        field_sets = [row[j] for row in doc_sets]
        for k, token in enumerate(q_tokens):
            present[:, j, k] = [token in words for words in field_sets]
    width = len(_PER_FIELD)
    bm25 = np.asarray(scores.field_scores, dtype=np.float64).reshape(n, len(fields))
    for j in range(len(fields)):
        out[:, width * j] = bm25[:, j]
        out[:, width * j + 1] = present[:, j].sum(axis=1) / q_count if q_count else 0.0
        out[:, width * j + 2] = [len(row[j]) for row in doc_tokens]
    col = {name: i for i, name in enumerate(names)}
    found = present.any(axis=1)  # (n, q_count): the token is in some field

    bm25_sum = bm25.sum(axis=1) if fields else np.zeros(n)
    out[:, col["bm25_sum"]] = bm25_sum
    out[:, col["bm25_max"]] = bm25.max(axis=1) if fields else 0.0
    out[:, col["bm25_gap"]] = float(bm25_sum.max()) - bm25_sum
    out[:, col["coverage_all"]] = found.sum(axis=1) / q_count if q_count else 0.0

    out[:, col["fused"]] = fused.scores
    out[:, col["fused_rank"]] = np.arange(1, n + 1)
    ranks = _leg_ranks(fused.raw)
    for j, leg in enumerate(leg_names):
        if leg == "lexical":
            out[:, col["lexical_normalized"]] = fused.normalized[:, j]
            out[:, col["lexical_rank"]] = ranks[:, j]
        elif leg == "vector":
            out[:, col["vector_normalized"]] = fused.normalized[:, j]
            out[:, col["vector_rank"]] = ranks[:, j]
    cosines = np.asarray(scores.cosines, dtype=np.float64)
    out[:, col["cosine"]] = cosines
    if not np.all(np.isnan(cosines)):
        out[:, col["cosine_gap"]] = float(np.nanmax(cosines)) - cosines

    title = title_field(fields)
    if title is not None:
        t = list(fields).index(title)
        q_list = _tokens(query)
        # only a title holding every query token can match it exactly or as a phrase
        whole = cast("list[bool]", (present[:, t].all(axis=1) & bool(q_set)).tolist())
        out[:, col["title_exact"]] = [
            float(w and doc_tokens[i][t] == q_list) for i, w in enumerate(whole)
        ]
        out[:, col["title_phrase"]] = [
            float(w and _phrase(q_list, doc_tokens[i][t])) for i, w in enumerate(whole)
        ]
    out[:, col["query_tokens"]] = q_count
    out[:, col["query_chars"]] = len(query)
    out[:, col["query_is_code"]] = float(has_code_token(query))

    typo_terms = 0.0
    typo_matches = np.zeros(n)
    seen = cast("list[bool]", found.any(axis=0).tolist())
    missing = [t for t, held in zip(q_tokens, seen, strict=True) if not held]
    if fuzzy and missing:  # the window's vocabulary only when a query token is in no candidate
        union = [row[0] if len(row) == 1 else frozenset().union(*row) for row in doc_sets]
        expanded = _expansions(missing, sorted(frozenset().union(*union)))
        typo_terms = float(len(expanded))
        for i, u in enumerate(union):
            typo_matches[i] = sum(bool(spellings & u) for spellings in expanded.values())
    out[:, col["typo_terms"]] = typo_terms
    out[:, col["typo_matches"]] = typo_matches

    coverage = out[:, col["coverage_all"]]
    out[:, col["coverage_gap"]] = float(coverage.max()) - coverage
    out[:, col["bm25_rank"]] = _window_rank(bm25_sum)
    out[:, col["cosine_rank"]] = _window_rank(cosines)
    out[:, col["missing_terms"]] = q_count - found.sum(axis=1)
    if q_count:
        weight = np.log((n + 1) / (found.sum(axis=0) + 0.5))
        out[:, col["rare_coverage"]] = (found @ weight) / weight.sum()
    else:
        out[:, col["rare_coverage"]] = 0.0
    if title is not None:
        t = list(fields).index(title)
        block = _title_features(
            _tokens(query),
            q_tokens,
            [texts.get(title, "") for texts in scores.texts],
            present[:, t],
        )
        out[:, col["title_bigrams"] : col["number_coverage"] + 1] = block
    return out
