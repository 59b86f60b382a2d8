"""The tantivy side of the embedded engine: schema from the template, analysis, queries.

User text never becomes a query string: it is analysed with the same analyzer the fields use and
turned into term queries, so no query syntax (``AND``, ``field:``, quotes) can be injected.
The lexical query mirrors OpenSearch's ``multi_match`` of type ``best_fields``: a dis_max over
the template's lexical fields, each an OR of the query terms, with the template's boosts
(searched field by field, see ``EmbeddedBackend.lexical``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import tantivy
from rapidfuzz import process
from rapidfuzz.distance import OSA

from hybrid_search.analysis import BUILTIN_ANALYZERS, AnalyzerChain
from hybrid_search.backends.embedded.lru import Lru
from hybrid_search.documents import FilterClause, parse_date
from hybrid_search.templates import IndexTemplate

__all__ = [
    "ID_FIELD",
    "KEY_FIELD",
    "SOURCE_FIELD",
    "FieldQuery",
    "LexicalSchema",
    "best_per_key",
]

ID_FIELD = "_id"
KEY_FIELD = "_key"
SOURCE_FIELD = "_source"
_ENGLISH = "hs_english"
_STANDARD = "hs_standard"
_MAX_EXPANSIONS = 3
_FACTS_CACHE = 8192  # vocabulary listings and term ceilings, per snapshot


def _tantivy_name(path: str) -> str:
    return path.replace(".", "__")


def _pre_analysed() -> Any:
    """Tantivy's side of a text field: the terms come analysed (``hybrid_search.analysis``, as
    OpenSearch analyses them), joined by spaces; tantivy only splits them again."""
    return tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build()


def fuzziness_auto(term: str) -> int:
    """OpenSearch's ``fuzziness: AUTO``: 0 edits up to 2 characters, 1 up to 5, 2 beyond."""
    return 0 if len(term) <= 2 else 1 if len(term) <= 5 else 2


def _edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance (a transposition is one edit), or ``limit + 1``."""
    return int(OSA.distance(a, b, score_cutoff=limit))


def _fuzzy_clause(
    vocabulary: tuple[list[str], list[int]], schema: Any, field: str, term: str
) -> Any | None:
    """An unknown (misspelt) term as the dis_max of its closest known terms, BM25-scored.

    Like Lucene's fuzzy rewrite: terms within ``fuzziness_auto`` edits that share the first
    character (``prefix_length`` 1), closest first then most frequent, at most
    ``_MAX_EXPANSIONS``, each boosted by ``1 - edits / len(term)``. Tantivy's own fuzzy query
    gives every match the same constant score, which ranks typo matches at random.
    """
    limit = fuzziness_auto(term)
    if limit == 0:
        return None
    terms, counts = vocabulary
    # rapidfuzz's C++ scan: a pure-Python edit distance took ~12 ms over 1,600 terms.
    matches = process.extract(term, terms, scorer=OSA.distance, score_cutoff=limit, limit=None)
    if not matches:
        return None
    found = sorted((int(edits), -counts[i], known) for known, edits, i in matches)
    return tantivy.Query.disjunction_max_query(
        [
            tantivy.Query.boost_query(
                tantivy.Query.term_query(schema, field, known), 1.0 - edits / len(term)
            )
            for edits, _, known in found[:_MAX_EXPANSIONS]
        ]
    )


def best_per_key(
    keys: np.ndarray, scores: np.ndarray, k: int, *, limit: int
) -> tuple[np.ndarray, np.ndarray]:
    """Merge per-field hit lists: each key once with its best score, the top ``k`` by score
    (ties by key). Keys outside ``0 <= key < limit`` (rows committed after the reader's
    snapshot, or none) are dropped.
    """
    keep = (keys >= 0) & (keys < limit)
    if not keep.all():
        keys, scores = keys[keep], scores[keep]
    if not keys.size:
        return keys, scores
    by_key = np.lexsort((-scores, keys))  # each key's hits together, its best first
    grouped = keys[by_key]
    first = np.empty(grouped.size, dtype=bool)
    first[0] = True
    np.not_equal(grouped[1:], grouped[:-1], out=first[1:])
    best = by_key[first]  # one per key, in key order: a stable sort then ties by key
    best = best[np.argsort(-scores[best], kind="stable")[:k]]
    return keys[best], scores[best]


_BOUND_SLACK = 1e-3  # float32 sums of scores against this float64 bound


def _any_of(clauses: list[Any]) -> Any:
    return tantivy.Query.boolean_query([(tantivy.Occur.Should, c) for c in clauses])


@dataclass(frozen=True)
class FieldQuery:
    """One field's clause of the best_fields query.

    ``query`` is the OR of the field's terms. When some terms are common (in at least half the
    documents: a SKU's house prefix "lx" is in all of them), scoring their long posting lists
    dominates the search, and tantivy cannot skip them by score. ``narrowed`` then asks for a
    document with at least one other term, still scoring the common ones; a document it misses
    matches only common terms and scores at most ``common_bound``, the sum of each common term's
    best score on its own (measured once per snapshot). So when ``narrowed`` fills the ``k`` hits
    with the ``k``-th score above ``common_bound``, its top ``k`` is ``query``'s.

    ``terms`` are the field's exact terms (boosted query, field, term, boost), from which
    ``LexicalSchema.below`` bounds the field's best score; ``exact`` is False when a typo's
    fuzzy clause is among them (no bound then). ``potential`` orders the fields for the search,
    likeliest high scorer first: the sum of the terms' boosted BM25 idf. ``field`` is the
    template's path of the field, ``boost`` its boost (every term carries it).
    """

    query: Any
    narrowed: Any | None
    common_bound: float
    terms: tuple[tuple[Any, str, str, float], ...]
    exact: bool
    potential: float
    field: str
    boost: float


@dataclass(frozen=True)
class _Column:
    name: str
    kind: str


class LexicalSchema:
    """Maps the template's fields onto a tantivy schema and builds queries against it."""

    def __init__(self, template: IndexTemplate) -> None:
        self.template = template
        builder = tantivy.SchemaBuilder()
        builder.add_text_field(ID_FIELD, stored=True, tokenizer_name="raw", index_option="basic")
        builder.add_unsigned_field(KEY_FIELD, stored=False, indexed=True, fast=True)
        builder.add_bytes_field(SOURCE_FIELD, stored=True, indexed=False)
        self.text_fields: dict[str, str] = {}
        # The template's analyzers, as OpenSearch runs them; tantivy gets their terms.
        self.chains: dict[str, AnalyzerChain] = {
            _STANDARD: BUILTIN_ANALYZERS["standard"],
            _ENGLISH: BUILTIN_ANALYZERS["english"],
        }
        self.field_analyzer: dict[str, str] = {}  # lexical field path -> its analyzer
        self._fields_by_analyzer: dict[str, list[str]] = {}  # analyzer -> tantivy field names
        for path in template.lexical_fields:
            spec = template.fields[path]
            tokenizer = f"hs_{spec.analyzer or 'standard'}"
            self.chains[tokenizer] = template.analyzers[spec.analyzer or "standard"]
            name = _tantivy_name(path)
            builder.add_text_field(name, stored=False, tokenizer_name=tokenizer)
            self.text_fields[path] = name
            self.field_analyzer[path] = tokenizer
            self._fields_by_analyzer.setdefault(tokenizer, []).append(name)
        self.columns: dict[str, _Column] = {}
        numeric = set(template.filter_fields) | set(template.commercial_fields.values())
        for path in sorted(numeric):
            spec = template.fields[path]
            name = _tantivy_name(path)
            if spec.kind == "keyword":
                builder.add_text_field(
                    name, stored=False, tokenizer_name="raw", index_option="basic"
                )
            elif spec.kind == "boolean":
                builder.add_boolean_field(name, stored=False, indexed=True, fast=True)
            else:  # numbers, and dates as epoch seconds
                builder.add_float_field(name, stored=False, indexed=True, fast=True)
            self.columns[path] = _Column(name, spec.kind)
        self.schema = builder.build()
        # Per-snapshot facts, keyed by the searcher (its dictionary and postings never change).
        self._facts = Lru(_FACTS_CACHE)

    def register(self, index: tantivy.Index) -> None:
        """Register the analyzers on an opened index (tantivy does not persist them)."""
        for name in self.chains:
            index.register_tokenizer(name, _pre_analysed())

    def to_tantivy(self, doc_id: str, key: int, doc: dict[str, Any]) -> Any:
        """Build the tantivy document for a validated document (its source lives in the rows)."""
        out = tantivy.Document()
        out.add_text(ID_FIELD, doc_id)
        out.add_unsigned(KEY_FIELD, key)
        for path, name in self.text_fields.items():
            value = doc.get(path.split(".")[0])
            if value is None:
                continue
            chain = self.chains[self.field_analyzer[path]]
            for item in value if isinstance(value, list) else [value]:
                out.add_text(name, " ".join(chain.analyze(str(item))))
        for path, col in self.columns.items():
            value = doc.get(path)
            if value is None:
                continue
            if col.kind == "keyword":
                # Indexed as the template's normalizer says (filters are normalised alike).
                normalize = self.template.fields[path].normalize
                for item in value if isinstance(value, list) else [value]:
                    out.add_text(col.name, normalize(item))
            elif col.kind == "boolean":
                out.add_boolean(col.name, bool(value))
            elif col.kind == "date":
                out.add_float(col.name, parse_date(value, path).timestamp())
            else:
                out.add_float(col.name, float(value))
        return out

    def _vocabulary(self, searcher: Any, field: str, first: str) -> tuple[list[str], list[int]]:
        """Terms of ``field`` starting with ``first`` and their document counts (listing them
        costs 1-3 ms, so once per snapshot)."""

        def listing() -> tuple[list[str], list[int]]:
            listed = searcher.terms_with_prefix(field, first)
            return [t for t, _ in listed], [c for _, c in listed]

        vocabulary: tuple[list[str], list[int]] = self._facts.get(
            (searcher, "vocabulary", field, first), listing
        )
        return vocabulary

    def _ceiling(self, searcher: Any, query: Any, field: str, term: str, boost: float) -> float:
        """The best score any document gets from this (boosted) term alone, measured by
        searching it once per snapshot: tantivy's BM25 counts deleted documents in its
        statistics, which the Python API does not expose, so no formula would be safe."""

        def best() -> float:
            hits = searcher.search(query, 1, count=False).hits
            return float(hits[0][0]) if hits else 0.0

        ceiling: float = self._facts.get((searcher, "ceiling", field, term, boost), best)
        return ceiling

    def below(self, searcher: Any, field: FieldQuery, threshold: float) -> bool:
        """Whether every document scores less than ``threshold`` in this field.

        A document's field score is the sum of its terms' scores, each at most that term's best
        score on its own (``_ceiling``); the sum is added up term by term and stops as soon as
        it reaches the threshold, so only terms that can decide are measured.
        """
        if not field.exact:
            return False
        total = 0.0
        for query, name, term, boost in field.terms:
            total += self._ceiling(searcher, query, name, term, boost)
            if total * (1.0 + _BOUND_SLACK) >= threshold:
                return False
        return True

    def analyze(self, text: str, analyzer: str = _ENGLISH) -> list[str]:
        """The terms a text produces under one of the field analyzers."""
        return self.chains[analyzer].analyze(text)

    def field_queries(self, text: str, searcher: Any, *, fuzzy: bool = False) -> list[FieldQuery]:
        """The clauses of ``multi_match`` best_fields, one per field (see ``FieldQuery``).

        Each is the OR of the text's terms in that field, every term carrying the field's
        boost (a boost around the whole OR would cost tantivy its block-max WAND); a document's
        score is its best field's (``dis_max``, tie_breaker 0). They are returned apart so
        that each field can be searched on its own (see ``EmbeddedBackend.lexical``).
        With ``fuzzy`` (the typo-tolerant query), a query word that no lexical field knows is
        a typo: in each field its term is replaced by the dis_max of that field's closest
        known terms (see ``_fuzzy_clause``). A word some field knows stays exact everywhere
        ("black" is no typo because ``brand.text`` lacks it; see ``_typos``).
        Terms a field does not hold are left out of its query, and a field left with no
        term is not searched. Empty when no field holds any of the text's terms.
        """
        analyzed = {
            analyzer: list(dict.fromkeys(self.analyze(text, analyzer)))
            for analyzer in self._fields_by_analyzer
        }
        unknown = self._typos(searcher, text) if fuzzy else {}
        total = searcher.num_docs
        per_field = []
        for path, name in self.text_fields.items():
            analyzer = self.field_analyzer[path]
            boost = self.template.lexical_fields[path]
            rare: list[Any] = []
            common: list[Any] = []
            terms: list[tuple[Any, str, str, float]] = []
            bound = potential = 0.0
            exact = True
            for t in analyzed[analyzer]:
                term: Any | None = tantivy.Query.term_query(self.schema, name, t)
                if t in unknown.get(analyzer, ()):
                    vocabulary = self._vocabulary(searcher, name, t[0])
                    term = _fuzzy_clause(vocabulary, self.schema, name, t)
                    freq = 0
                else:
                    freq = searcher.doc_freq(name, t)
                    if freq == 0:
                        continue  # matches nothing here: no clause, no search of the field
                if term is None:
                    continue
                boosted = tantivy.Query.boost_query(term, boost) if boost != 1.0 else term
                if freq:
                    terms.append((boosted, name, t, boost))
                else:
                    exact = False
                potential += boost * math.log1p((total - freq + 0.5) / (freq + 0.5))
                if freq * 2 >= total > 0:
                    common.append(boosted)
                    bound += self._ceiling(searcher, boosted, name, t, boost)
                else:
                    rare.append(boosted)
            if not rare and not common:
                continue
            # Rare terms first: the narrowed query then adds the same scores in the same order.
            query = _any_of(rare + common)
            narrowed = None
            if rare and common:
                narrowed = tantivy.Query.boolean_query(
                    [(tantivy.Occur.Must, _any_of(rare)), (tantivy.Occur.Should, _any_of(common))]
                )
            per_field.append(
                FieldQuery(
                    query,
                    narrowed,
                    bound * (1.0 + _BOUND_SLACK),
                    tuple(terms),
                    exact,
                    potential,
                    path,
                    boost,
                )
            )
        return per_field

    def _typos(self, searcher: Any, text: str) -> dict[str, set[str]]:
        """Per analyzer, the terms of the query's words that no lexical field knows.

        A word is known when any field holds it as that field's analyzer spells it ("wat" of
        a SKU in ``sku.text`` is no typo for the stemmed title, where it would expand to
        "wax"); the typo terms are the unknown words' forms that no known word shares.
        """
        names = self._fields_by_analyzer
        typos: dict[str, set[str]] = {a: set() for a in names}
        known: dict[str, set[str]] = {a: set() for a in names}
        for word in dict.fromkeys(self.analyze(text, _STANDARD)):
            forms = {a: self.analyze(word, a) for a in names}
            is_known = any(
                searcher.doc_freq(name, term)
                for a, terms in forms.items()
                for term in terms
                for name in names[a]
            )
            for a, terms in forms.items():
                (known if is_known else typos)[a].update(terms)
        return {a: typos[a] - known[a] for a in names}

    def filter_query(self, clauses: list[FilterClause]) -> Any | None:
        """AND of the filter clauses, or None when there are none."""
        if not clauses:
            return None
        parts = []
        for clause in clauses:
            col = self.columns[clause.field]
            if clause.values:
                if col.kind == "boolean":
                    subs = [
                        (tantivy.Occur.Should, tantivy.Query.term_query(self.schema, col.name, v))
                        for v in clause.values
                    ]
                    parts.append((tantivy.Occur.Must, tantivy.Query.boolean_query(subs)))
                else:
                    q = tantivy.Query.term_set_query(self.schema, col.name, list(clause.values))
                    parts.append((tantivy.Occur.Must, q))
                continue
            lower = clause.gte if clause.gte is not None else clause.gt
            upper = clause.lte if clause.lte is not None else clause.lt
            q = tantivy.Query.range_query(
                self.schema,
                col.name,
                tantivy.FieldType.Float,
                -math.inf if lower is None else lower,
                math.inf if upper is None else upper,
                include_lower=clause.gt is None,
                include_upper=clause.lt is None,
            )
            parts.append((tantivy.Occur.Must, q))
        return tantivy.Query.boolean_query(parts)

    def combine(self, query: Any | None, filters: Any | None) -> Any | None:
        """Score by ``query`` and keep only documents passing ``filters`` (zero-score filter)."""
        if filters is None:
            return query
        if query is None:
            return filters
        return tantivy.Query.boolean_query(
            [
                (tantivy.Occur.Must, query),
                (tantivy.Occur.Must, tantivy.Query.const_score_query(filters, 0.0)),
            ]
        )
