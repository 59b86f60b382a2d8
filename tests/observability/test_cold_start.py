"""Cold start, real-time path: a product written through the API is searchable at once."""

from __future__ import annotations


def test_new_product_is_found_by_the_next_search(make_client):
    client = make_client()
    query = {"query": "quetzal feather fascinator", "mode": "hybrid", "k": 5}
    before = client.post("/v1/search", json=query).json()
    assert "COLD-1" not in [h["id"] for h in before["hits"]]
    doc = {
        "sku": "COLD-1",
        "title": "Quetzal feather fascinator",
        "brand": "Maison Aurelle",
        "category": "accessories",
        "description": "A fascinator trimmed with quetzal-green feathers.",
        "in_stock": True,
        "price": 420.0,
    }
    resp = client.post("/v1/documents", json={"documents": [doc]})
    assert resp.json()["indexed"] == 1
    after = client.post("/v1/search", json=query).json()
    assert after["hits"][0]["id"] == "COLD-1"
    # Both legs see it at once: BM25 and the vector (it was embedded on write).
    breakdown = after["hits"][0]["breakdown"]
    assert breakdown["lexical"] is not None
    assert breakdown["vector"] is not None
    similar = client.get("/v1/similar/COLD-1", params={"k": 3})
    assert similar.status_code == 200
