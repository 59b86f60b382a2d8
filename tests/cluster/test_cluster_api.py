"""The HTTP API (``create_app``) on a real OpenSearch, sidecar mode (issue 15, section 3).

- Cold start: a product posted through ``POST /v1/documents`` is the very next search's top hit
  (the real-time path's ``refresh=wait_for``), on the default template and on the behaviour
  template, where the new arrival has no behaviour vector and is ranked by its text alone.
- 5,000+ documents through the API in batches of ``api.max_documents``, with bad documents among
  them: each one is indexed or reported with our reason (validation) or OpenSearch's (the
  cluster refused it), and the cluster holds exactly the indexed ones.

The hash embedder stands in for the model: these tests are about the API and the engine.
"""

from __future__ import annotations

import json
import math
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from hybrid_search.api import create_app
from hybrid_search.searcher import Searcher
from tests.cluster.test_cluster_reindex import products


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.load(resp)


@pytest.fixture
def make_app(make_opensearch_searcher) -> Iterator[Callable[..., tuple[TestClient, Searcher]]]:
    """``make_app(template="products")`` -> a started TestClient over a sidecar-mode Searcher on
    a fresh uuid alias of the test cluster (hash embedder), and that Searcher."""
    clients: list[TestClient] = []

    def factory(template: str = "products") -> tuple[TestClient, Searcher]:
        searcher = make_opensearch_searcher(template=template)
        assert searcher.settings.opensearch.mode == "sidecar"
        client = TestClient(create_app(searcher.settings, searcher=searcher, warm_up=False))
        client.__enter__()
        clients.append(client)
        return client, searcher

    yield factory
    for client in clients:
        client.__exit__(None, None, None)


def _post(client: TestClient, docs: list[Any]) -> dict[str, Any]:
    r = client.post("/v1/documents", json={"documents": docs})
    assert r.status_code == 200, r.text
    return dict(r.json())


NEW_ARRIVAL = {
    "sku": "N-BAG-900",
    "title": "Maison Aurelle emerald calfskin tote",
    "brand": "Maison Aurelle",
    "category": "handbags",
    "color": "emerald",
    "material": "calfskin",
    "description": "An emerald tote in calfskin, made by hand.",
    "attributes": "colour: emerald; size: medium",
    "in_stock": True,
    "price": 150.0,
    "margin": 0.05,  # lower than any catalogue product: the commercial stage does not carry it
    "popularity": 0.0,  # a cold-start product: nobody has bought it yet
    "inventory_received_at": "2026-06-01",
}
QUERY = {"query": "emerald calfskin tote", "k": 5}


@pytest.mark.parametrize("template", ["products", "products-behaviour"])
def test_cold_start_a_posted_product_is_the_next_searchs_top_hit(make_app, corpus, template):
    client, _ = make_app(template)
    catalogue = []
    for i, doc in enumerate(corpus):
        doc = {**doc, "popularity": 5.0, "margin": 0.6}
        if template == "products-behaviour":  # the catalogue has behaviour; the arrival none
            block = np.zeros(32)
            block[i % 32] = 1.0
            doc["vectors"] = {"behaviour": block.tolist()}
        catalogue.append(doc)
    first = _post(client, catalogue)
    assert (first["indexed"], first["failed"]) == (len(corpus), 0)
    before = client.post("/v1/search", json=QUERY).json()
    assert before["hits"] and NEW_ARRIVAL["sku"] not in [h["id"] for h in before["hits"]]

    posted = _post(client, [NEW_ARRIVAL])
    assert posted == {
        "errors": False,
        "indexed": 1,
        "failed": 0,
        "items": [{"index": 0, "id": NEW_ARRIVAL["sku"], "status": "indexed", "reason": None}],
    }
    # The next request, with no wait: the real-time path returned after the refresh.
    r = client.post("/v1/search", json=QUERY)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["hits"][0]["id"] == NEW_ARRIVAL["sku"], [h["id"] for h in body["hits"]]
    assert body["mode_used"] == "hybrid" and body["degraded"] == [] and not body["fallback_reason"]
    assert body["hits"][0]["source"]["title"] == NEW_ARRIVAL["title"]
    got = client.get(f"/v1/documents/{NEW_ARRIVAL['sku']}")
    assert got.status_code == 200 and got.json()["source"]["color"] == "emerald"


def _bad_documents() -> dict[str, tuple[Any, str]]:
    """sku -> (document, what its reason must say). The first ones our validation refuses; the
    last two pass it and the cluster refuses them (OpenSearch's reason comes back)."""
    return {
        "BAD-TYPE": ({"sku": "BAD-TYPE", "title": "a bag", "price": "free"}, "field 'price'"),
        "BAD-VECTOR": (
            {"sku": "BAD-VECTOR", "title": "a bag", "embedding": [0.1] * 385},
            "field 'embedding': the embedding is computed by the sidecar",
        ),
        "BAD-NAN": ({"sku": "BAD-NAN", "title": "a bag", "margin": math.nan}, "field 'margin'"),
        "BAD-INF": (
            {"sku": "BAD-INF", "title": "a bag", "popularity": math.inf},
            "field 'popularity'",
        ),
        # A finite double that is Infinity as the mapping's float: only the cluster knows.
        "BAD-FLOAT32": (
            {"sku": "BAD-FLOAT32", "title": "a bag", "popularity": 3.5e38},
            "mapper_parsing_exception: failed to parse field [popularity] of type [float]",
        ),
        # A keyword longer than Lucene's 32766-byte term limit.
        "BAD-TERM": (
            {"sku": "BAD-TERM", "title": "a bag", "color": "x" * 40_000},
            'illegal_argument_exception: Document contains at least one immense term in field="color"',
        ),
    }


def test_api_ingest_of_5000_documents_accounts_for_every_one(make_app, opensearch_url):
    client, searcher = make_app()
    alias = searcher.backend.alias  # type: ignore[attr-defined]
    batch = searcher.settings.api.max_documents
    docs: list[Any] = products(5200)
    bad = _bad_documents()
    for n, (doc, _) in enumerate(bad.values()):
        docs.insert(700 + n * 731, doc)  # spread over the batches
    items: list[dict[str, Any]] = []
    indexed = 0
    for start in range(0, len(docs), batch):
        chunk = docs[start : start + batch]
        # json.dumps writes NaN and Infinity as the JSON5 literals a careless client sends
        r = client.post(
            "/v1/documents",
            content=json.dumps({"documents": chunk}),
            headers={"content-type": "application/json"},
        )
        assert r.status_code == 200, r.text[:500]
        body = r.json()
        assert [item["index"] for item in body["items"]] == list(range(len(chunk)))
        assert body["indexed"] + body["failed"] == len(chunk)
        indexed += body["indexed"]
        items += body["items"]
    assert len(items) == len(docs) == 5206
    failed = {item["id"]: item["reason"] for item in items if item["status"] == "failed"}
    assert set(failed) == set(bad)
    for sku, (_, reason) in bad.items():
        assert reason in failed[sku], (sku, failed[sku])
    assert indexed == 5200
    assert [item["id"] for item in items if item["status"] == "indexed"] == [
        d["sku"] for d in docs if d["sku"] not in bad
    ]

    # Exactly the indexed ones are on the cluster: the count, and the bad ones absent.
    assert _get(f"{opensearch_url}/{alias}/_count")["count"] == 5200
    ids = ",".join(bad)
    found = _get(f"{opensearch_url}/{alias}/_search?q=sku:({ids.replace(',', '%20OR%20')})")
    assert found["hits"]["total"]["value"] == 0
    r = client.post("/v1/search", json={"query": "calfskin tote no. 4321", "k": 3})
    assert r.status_code == 200 and r.json()["hits"][0]["source"]["title"].endswith("no. 4321")
