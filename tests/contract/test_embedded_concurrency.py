"""Searches keep working, and stay consistent, while another thread indexes and deletes.

Small ``exact_threshold``/``rebuild_tail`` make background HNSW rebuilds happen during the run.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from hybrid_search.ingest import index_documents
from tests.conftest import HashEmbedder

pytestmark = pytest.mark.slow

QUERIES = [
    ({"query": "black calfskin tote"}, None),
    ({"query": "navy suede shoes", "filters": {"in_stock": True}}, {"in_stock": True}),
    ({"query": "silk scarf", "filters": {"color": ["red", "gold"]}}, None),
    ({"query": "titanium watch", "filters": {"price": {"gte": 400, "lt": 1600}}}, None),
    ({"query": "made by hand", "k": 50, "page": 1}, None),
]


def _variants(corpus: list[dict[str, Any]], batch: int, n: int) -> list[dict[str, Any]]:
    return [
        {
            **corpus[(batch * n + i) % len(corpus)],
            "sku": f"W-{batch:02d}-{i:02d}",
            "title": f"{corpus[(batch * n + i) % len(corpus)]['title']} w{batch}x{i}",
        }
        for i in range(n)
    ]


def test_search_while_indexing_and_deleting(make_searcher, corpus):
    searcher = make_searcher(corpus, embedded={"exact_threshold": 50, "rebuild_tail": 100})
    backend, template = searcher.backend, searcher.template
    batches = [_variants(corpus, b, 25) for b in range(12)]
    ever = {d["sku"] for d in corpus} | {d["sku"] for b in batches for d in b}
    deleted_at: dict[str, float] = {}  # sku -> when its delete() returned
    errors: list[BaseException] = []
    done = threading.Event()
    searches = [0]

    def writer() -> None:
        try:
            emb = HashEmbedder()
            for b, batch in enumerate(batches):
                report = index_documents(
                    ((d["sku"], d) for d in batch),
                    template=template,
                    embedder=emb,
                    backend=backend,
                )
                assert report.failed == [] and report.indexed == len(batch)
                victims = [batch[i]["sku"] for i in (0, 5, 10)] + [corpus[b]["sku"]]
                assert backend.delete(victims) == len(victims)
                now = time.monotonic()
                for sku in victims:
                    deleted_at[sku] = now
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    def reader(offset: int) -> None:
        try:
            i = offset
            while not done.is_set() or i < offset + len(QUERIES):
                request, must = QUERIES[i % len(QUERIES)]
                started = time.monotonic()
                resp = searcher.search({**request, "mode": "hybrid", "k": request.get("k", 20)})
                for hit in resp.hits:
                    assert hit["source"] is not None and hit["source"]["sku"] == hit["id"]
                    assert hit["id"] in ever
                    gone = deleted_at.get(hit["id"])
                    assert gone is None or gone > started, f"{hit['id']} deleted before search"
                    for field, value in (must or {}).items():
                        assert hit["source"][field] == value
                first = request.get("page", 0) * request.get("k", 20) + 1
                assert [h["rank"] for h in resp.hits] == list(range(first, first + len(resp.hits)))
                got = backend.get(corpus[-1]["sku"])
                assert got is None or got["sku"] == corpus[-1]["sku"]
                searches[0] += 1
                i += 1
        except BaseException as exc:
            errors.append(exc)
            done.set()

    threads = [threading.Thread(target=writer)] + [
        threading.Thread(target=reader, args=(n,)) for n in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    if errors:
        raise errors[0]
    assert searches[0] >= 15

    backend.optimize()
    expected = len(corpus) + 12 * 25 - 12 * 4
    assert backend.count() == expected
    assert backend.health().detail["hnsw_rows"] > 0
    for sku in deleted_at:
        assert backend.get(sku) is None
    resp = searcher.search({"query": "made by hand", "mode": "hybrid", "k": 100})
    assert not {h["id"] for h in resp.hits} & set(deleted_at)
