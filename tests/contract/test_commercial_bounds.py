"""Commercial values outside the template's bounds are rejected at ingest, reported and not lost
(issue 19 §3), on the embedded engine and OpenSearch: margin in [0, 1], price >= 0,
popularity >= 0, inventory_received_at not in the future (``_meta.hybrid_search.bounds``)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from hybrid_search.ingest import index_documents
from tests.conftest import HashEmbedder

CONTRACT_BACKENDS = ("embedded", "opensearch")  # see tests/contract/conftest.py

NOW = datetime.now(timezone.utc)
TOMORROW = (NOW + timedelta(days=1)).date().isoformat()
IN_AN_HOUR = (NOW + timedelta(hours=1)).isoformat(timespec="seconds").replace("+00:00", "Z")


def _doc(corpus: list[dict[str, Any]], i: int, **changes: Any) -> dict[str, Any]:
    return {**corpus[i % len(corpus)], "sku": f"B-{i:03d}", **changes}


# (changes, the field, the value as shown, the allowed range as shown)
OUT_OF_BOUNDS = [
    ({"margin": 7}, "margin", "7", "margin in [0, 1]"),
    ({"margin": -0.01}, "margin", "-0.01", "margin in [0, 1]"),
    ({"price": -5}, "price", "-5", "price >= 0"),
    ({"popularity": -50}, "popularity", "-50", "popularity >= 0"),
    (
        {"inventory_received_at": TOMORROW},
        "inventory_received_at",
        repr(TOMORROW),
        "inventory_received_at <= now (not in the future)",
    ),
    (
        {"inventory_received_at": IN_AN_HOUR},
        "inventory_received_at",
        repr(IN_AN_HOUR),
        "inventory_received_at <= now (not in the future)",
    ),
]

AT_THE_EDGES = [
    {"margin": 0},
    {"margin": 1},
    {"price": 0},
    {"popularity": 0},
    {"inventory_received_at": (NOW - timedelta(days=1)).date().isoformat()},
]


def _ingest(searcher: Any, docs: list[dict[str, Any]]) -> Any:
    return index_documents(
        [(f"item {i}", d) for i, d in enumerate(docs)],
        template=searcher.template,
        embedder=HashEmbedder(),
        backend=searcher.backend,
        batch_size=4,
    )


def test_values_outside_the_bounds_are_reported_with_field_value_and_range(make_searcher, corpus):
    searcher = make_searcher()
    good = [_doc(corpus, i) for i in range(6)]
    edges = [_doc(corpus, 10 + i, **change) for i, change in enumerate(AT_THE_EDGES)]
    bad = [_doc(corpus, 20 + i, **change) for i, (change, *_) in enumerate(OUT_OF_BOUNDS)]
    report = _ingest(searcher, good + edges + bad)
    assert report.indexed == len(good) + len(edges)
    reasons = dict(report.failed)
    assert set(reasons) == {d["sku"] for d in bad}
    for doc, (_, field, shown, allowed) in zip(bad, OUT_OF_BOUNDS, strict=True):
        reason = reasons[doc["sku"]]
        assert f"field '{field}': {shown} is out of range" in reason, reason
        assert f"allowed: {allowed}" in reason, reason
        assert searcher.backend.get(doc["sku"]) is None
    assert searcher.backend.count() == len(good) + len(edges)
    for doc in edges:
        assert searcher.backend.get(doc["sku"]) is not None, doc


def test_a_rejected_margin_leaves_the_other_hits_margin_terms_alone(
    make_searcher, corpus, tmp_path
):
    """Before the bounds a margin of 7 was indexed and, the margin term being divided by the
    window's largest margin, shrank every other hit's term about 9x."""
    docs = [_doc(corpus, i) for i in range(12)]
    clean = make_searcher()
    _ingest(clean, docs)
    polluted = make_searcher(embedded={"data_dir": tmp_path / "polluted"})
    report = _ingest(polluted, [*docs, _doc(corpus, 2, sku="B-HIGH", margin=7)])
    assert [sku for sku, _ in report.failed] == ["B-HIGH"]
    request = {"query": "made by hand", "k": 12, "mode": "lexical"}
    want = [(h["id"], h["breakdown"]["margin"]) for h in clean.search(request).hits]
    got = [(h["id"], h["breakdown"]["margin"]) for h in polluted.search(request).hits]
    assert got == want
