"""POST /v1/documents (bulk upsert, per-item report), GET and DELETE /v1/documents/{id}."""

from __future__ import annotations

import pytest

from hybrid_search.errors import BackendError

NEW = {
    "sku": "N-HAT-001",
    "title": "Vantier emerald felt fedora",
    "brand": "Vantier",
    "category": "hats",
    "description": "A wide-brimmed emerald fedora in rabbit felt.",
    "in_stock": True,
    "price": 640,
    "margin": 0.4,
    "inventory_received_at": "2026-10-01",
    "popularity": 3.0,
}


def test_bulk_upsert_reports_every_item_in_order(client):
    docs = [
        NEW,
        {"sku": "N-BAD-001", "title": "Bad", "price": "expensive"},
        "not an object",
        {"title": "no id"},
        {**NEW, "sku": "N-HAT-002", "shade": "green"},
    ]
    r = client.post("/v1/documents", json={"documents": docs})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["errors"] is True and body["indexed"] == 1 and body["failed"] == 4
    items = body["items"]
    assert [i["index"] for i in items] == [0, 1, 2, 3, 4]
    assert [i["status"] for i in items] == ["indexed", "failed", "failed", "failed", "failed"]
    assert [i["id"] for i in items] == ["N-HAT-001", "N-BAD-001", None, None, "N-HAT-002"]
    assert "price" in items[1]["reason"] and "expensive" in items[1]["reason"]
    assert "not a JSON object" in items[2]["reason"]
    assert "'sku' is required" in items[3]["reason"]
    assert "'shade' is not in the template" in items[4]["reason"]

    got = client.get("/v1/documents/N-HAT-001")
    assert got.status_code == 200 and got.json() == {
        "id": "N-HAT-001",
        "source": got.json()["source"],
    }
    assert got.json()["source"]["title"] == NEW["title"]
    hits = client.post("/v1/search", json={"query": "emerald fedora"}).json()["hits"]
    assert hits[0]["id"] == "N-HAT-001"


def test_a_repeated_id_reports_the_failure_at_the_item_that_failed(client):
    # The route once matched failures back by id, so the first N-HAT-001 (indexed) got the
    # second one's reason and the second was reported indexed.
    docs = [NEW, {**NEW, "price": -1}, {**NEW, "title": 5}, NEW]
    body = client.post("/v1/documents", json={"documents": docs}).json()
    assert [i["status"] for i in body["items"]] == ["indexed", "failed", "failed", "indexed"]
    assert "'price'" in body["items"][1]["reason"] and "'title'" in body["items"][2]["reason"]
    assert body["indexed"] == 2 and body["failed"] == 2


def test_upsert_replaces_a_document_with_the_same_id(client):
    assert client.post("/v1/documents", json={"documents": [NEW]}).json()["indexed"] == 1
    changed = {**NEW, "title": "Vantier scarlet felt fedora"}
    r = client.post("/v1/documents", json={"documents": [changed]})
    assert r.json() == {
        "errors": False,
        "indexed": 1,
        "failed": 0,
        "items": [{"index": 0, "id": "N-HAT-001", "status": "indexed", "reason": None}],
    }
    assert (
        client.get("/v1/documents/N-HAT-001")
        .json()["source"]["title"]
        .endswith("scarlet felt fedora")
    )
    hits = client.post("/v1/search", json={"query": "fedora", "k": 50}).json()["hits"]
    assert [h["id"] for h in hits].count("N-HAT-001") == 1


def test_backend_failure_is_reported_per_item(client, monkeypatch):
    def broken(docs, vectors):
        raise BackendError("disk full")

    monkeypatch.setattr(client.app.state.searcher.backend, "index", broken)
    body = client.post("/v1/documents", json={"documents": [NEW]}).json()
    assert body["errors"] is True
    assert body["items"] == [
        {"index": 0, "id": "N-HAT-001", "status": "failed", "reason": "disk full"}
    ]


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        ({"documents": []}, "field 'documents': 0 documents; send 1..1000"),
        ({"docs": [NEW]}, "field 'documents' is required"),
        ({"documents": NEW}, "field 'documents'"),
    ],
)
def test_bulk_upsert_bad_envelope_is_400(client, payload, needle):
    r = client.post("/v1/documents", json=payload)
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request"
    assert needle in r.json()["error"]["message"]


def test_bulk_upsert_document_count_limit(make_client):
    client = make_client(api={"max_documents": 2})
    r = client.post("/v1/documents", json={"documents": [NEW, NEW, NEW]})
    assert r.status_code == 400
    assert "3 documents; send 1..2 per request" in r.json()["error"]["message"]


def test_first_upsert_creates_the_index(make_client):
    client = make_client(docs=None)
    r = client.post("/v1/search", json={"query": "fedora"})
    assert r.status_code == 404 and "no index in" in r.json()["error"]["message"]
    assert client.post("/v1/documents", json={"documents": [NEW]}).json()["indexed"] == 1
    assert (
        client.post("/v1/search", json={"query": "fedora"}).json()["hits"][0]["id"] == "N-HAT-001"
    )


def test_get_and_delete(client):
    assert client.get("/v1/documents/T-BAG-001").json()["source"]["brand"] == "Vantier"
    r = client.delete("/v1/documents/T-BAG-001")
    assert r.status_code == 200 and r.json() == {"id": "T-BAG-001", "deleted": True}
    for r in (client.get("/v1/documents/T-BAG-001"), client.delete("/v1/documents/T-BAG-001")):
        assert r.status_code == 404
        assert r.json()["error"] == {
            "type": "not_found",
            "message": "document 'T-BAG-001' not found",
            "detail": None,
        }
    hits = client.post("/v1/search", json={"query": "navy calfskin clutch", "k": 50}).json()["hits"]
    assert "T-BAG-001" not in [h["id"] for h in hits]


def test_ids_with_slashes_and_spaces_round_trip(client):
    doc = {**NEW, "sku": "A/B 7"}
    assert client.post("/v1/documents", json={"documents": [doc]}).json()["indexed"] == 1
    assert client.get("/v1/documents/A%2FB%207").json()["id"] == "A/B 7"
    assert client.get("/v1/documents/A/B 7").json()["id"] == "A/B 7"
    assert client.delete("/v1/documents/A/B 7").status_code == 200


def test_similar_after_delete_and_upsert(client):
    near = [h["id"] for h in client.get("/v1/similar/T-BAG-000", params={"k": 3}).json()["hits"]]
    assert client.delete(f"/v1/documents/{near[0]}").status_code == 200
    after = [h["id"] for h in client.get("/v1/similar/T-BAG-000", params={"k": 3}).json()["hits"]]
    assert near[0] not in after and len(after) == 3
    assert client.delete("/v1/documents/T-BAG-000").status_code == 200
    assert client.get("/v1/similar/T-BAG-000").status_code == 404
    assert client.post("/v1/documents", json={"documents": [NEW]}).json()["indexed"] == 1
    hits = client.get("/v1/similar/N-HAT-001", params={"k": 40}).json()["hits"]
    assert hits and "N-HAT-001" not in [h["id"] for h in hits]
