"""The known values of the template's keyword filter fields, with counts, for ``GET /v1/info``.

A storefront developer (or the playground's filter boxes) should not have to guess that the
catalogue says ``"navy"`` and not ``"blue"``. A backend that can count values cheaply (an OpenSearch
``terms`` aggregation) declares it (``capabilities.keyword_values``, the ``KeywordValues`` protocol
of backends/base.py). Otherwise the values are counted from the stored documents of the embedded
index, read back with the public ``fetch`` (at most ``max_documents`` of them; the answer says when
that was a sample). The result is kept until the index changes (its document and row counts) or
``ttl_s`` passes, so ``/v1/info`` stays cheap.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from hybrid_search.backends import SearchBackend
from hybrid_search.errors import HybridSearchError
from hybrid_search.templates import IndexTemplate

__all__ = ["FilterValues", "KnownValues"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class KnownValues:
    """Top values per keyword filter field: ``{"values": [{"value", "count"}], "more"}``.

    ``documents`` is how many documents were counted; ``complete`` is False when that was a
    sample of the index.
    """

    fields: dict[str, dict[str, Any]] = field(default_factory=dict)
    documents: int = 0
    complete: bool = True


def _top(counts: Counter[str], top: int) -> dict[str, Any]:
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    values = [{"value": value, "count": count} for value, count in ranked[:top]]
    return {"values": values, "more": len(ranked) > top}


class FilterValues:
    """Counts (and caches) the values of ``template``'s keyword filter fields in ``backend``."""

    def __init__(
        self,
        backend: SearchBackend,
        template: IndexTemplate,
        *,
        top: int = 50,
        max_documents: int = 10_000,
        ttl_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backend = backend
        self.template = template
        self.fields = [f for f in template.filter_fields if template.fields[f].kind == "keyword"]
        self.top = top
        self.max_documents = max_documents
        self.ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[Hashable, float, KnownValues] | None = None

    def _version(self) -> Hashable:
        """What changes when the index does: its document and row counts (embedded)."""
        detail = self.backend.health().detail
        return detail.get("documents"), detail.get("rows")

    def get(self) -> KnownValues:
        """The known values now (from the cache while the index is unchanged)."""
        if not self.fields:
            return KnownValues()
        with self._lock:
            try:
                version = self._version()
            except HybridSearchError:
                return KnownValues()
            now = self._clock()
            cached = self._cached
            if cached is not None and cached[0] == version and now - cached[1] < self.ttl_s:
                return cached[2]
            try:
                values = self._count()
            except HybridSearchError as exc:  # no index yet, or the cluster is away
                logger.debug("filter values not counted: %s", exc)
                return KnownValues()
            self._cached = (version, now, values)
            return values

    def _count(self) -> KnownValues:
        engine = self.backend.capabilities.keyword_values
        if engine is not None:
            # One more than shown, to tell whether there are more values than listed.
            answer = engine.keyword_values(self.fields, size=self.top + 1)
            fields = {f: _top(Counter(dict(answer.get(f, []))), self.top) for f in self.fields}
            return KnownValues(fields, self.backend.count(), complete=True)
        return self._count_stored()

    def _count_stored(self) -> KnownValues:
        rows = int(self.backend.health().detail.get("rows", 0) or 0)
        counts: dict[str, Counter[str]] = {f: Counter() for f in self.fields}
        spellings: defaultdict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        seen = 0
        chunk = 1000
        for start in range(0, rows, chunk):
            if seen >= self.max_documents:
                break
            found = self.backend.fetch(list(range(start, min(start + chunk, rows))))
            for _doc_id, source in found.values():
                if seen >= self.max_documents:
                    break
                seen += 1
                for name in self.fields:
                    value = source.get(name)
                    items = value if isinstance(value, list) else [value]
                    # Counted by the indexed (normalised) value, which any of its spellings
                    # filters on; shown in its most frequent spelling ("Maison Aurelle").
                    normalize = self.template.fields[name].normalize
                    for v in items:
                        if isinstance(v, str) and v:
                            counts[name][normalize(v)] += 1
                            spellings[name, normalize(v)][v] += 1
        total = self.backend.count() if rows else 0
        shown = {
            f: Counter({spellings[f, v].most_common(1)[0][0]: n for v, n in counts[f].items()})
            for f in self.fields
        }
        fields = {f: _top(shown[f], self.top) for f in self.fields}
        return KnownValues(fields, seen, complete=seen >= total)
