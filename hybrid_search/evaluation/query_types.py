"""Storefront query types of an evaluation set, to check that no type loses to BM25.

- ``code``: the query holds a SKU / model-number token (``ranking.adaptive.has_code_token``).
- ``brand``: a query token is a brand of the catalogue, read from the titles, which lead with
  the brand ("BEHR Premium ...", "Delta Vero ..."): a token that starts at least
  ``min_brand_titles`` titles and starts at least half of the titles that hold it.
- ``paraphrase``: no judged-relevant product's title holds half of the query's tokens (the
  query says it in other words). Judgments define this type: it is for reporting only.
- ``other``: none of these.

Tokens are those of ``metrics.tokens`` (lower-cased, stop words out, a plural ``s`` stripped).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from hybrid_search.evaluation.datasets import EvalDataset
from hybrid_search.evaluation.metrics import tokens
from hybrid_search.ranking.adaptive import has_code_token

__all__ = ["brand_tokens", "query_types"]


def brand_tokens(dataset: EvalDataset, *, min_brand_titles: int = 5) -> set[str]:
    """Tokens that lead at least ``min_brand_titles`` titles and half the titles holding them."""
    first: Counter[str] = Counter()
    anywhere: Counter[str] = Counter()
    for doc_id in dataset.corpus:
        words = [w for w in dataset.text(doc_id).lower().split() if w]
        if not words:
            continue
        lead = tokens(words[0])
        first.update(lead)
        anywhere.update(tokens(dataset.text(doc_id)))
    return {t for t, n in first.items() if n >= min_brand_titles and 2 * n >= anywhere[t]}


def query_types(dataset: EvalDataset, qids: Sequence[str]) -> dict[str, list[str]]:
    """``{type: [query ids]}`` for ``code``, ``brand``, ``paraphrase`` (a query may be in
    several) and ``other`` (in none)."""
    brands = brand_tokens(dataset)
    out: dict[str, list[str]] = {"code": [], "brand": [], "paraphrase": [], "other": []}
    for qid in sorted(qids):
        text = dataset.queries[qid]
        words = tokens(text)
        kinds = []
        if has_code_token(text):
            kinds.append("code")
        if words & brands:
            kinds.append("brand")
        relevant = [d for d, g in dataset.qrels.get(qid, {}).items() if g >= 1]
        overlap = [
            len(words & tokens(dataset.text(d))) / len(words)
            for d in relevant
            if d in dataset.corpus and words
        ]
        if overlap and max(overlap) < 0.5:
            kinds.append("paraphrase")
        for kind in kinds or ["other"]:
            out[kind].append(qid)
    return out
