"""GET /v1/info lists the known values of keyword filter fields, with counts (issue 19, item 8)."""

from __future__ import annotations

from typing import Any

from hybrid_search.api.facets import FilterValues
from hybrid_search.backends.base import Capabilities


def _filters(info: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["field"]: f for f in info["filters"]}


def test_info_lists_keyword_values_with_counts(client):
    info = client.get("/v1/info").json()
    filters = _filters(info)
    brand = filters["brand"]
    assert brand["kind"] == "keyword" and brand["values_more"] is False
    assert {v["value"]: v["count"] for v in brand["values"]} == {
        "Belvane": 10,
        "Maison Aurelle": 10,
        "Oskarsson": 10,
        "Vantier": 10,
    }
    # A list-valued field counts each of its values; most frequent first, then by name.
    colors = filters["color"]["values"]
    assert colors[0] == {"value": "black", "count": 8}
    assert [v["count"] for v in colors] == sorted((v["count"] for v in colors), reverse=True)
    assert "gold" in {v["value"] for v in colors}
    # Only keyword fields get values; booleans, numbers and dates keep their own controls.
    for field in ("in_stock", "price", "inventory_received_at"):
        assert "values" not in filters[field]
    assert info["filter_values"] == {"documents": 40, "complete": True}


def test_values_follow_writes(client):
    doc = {"sku": "N-1", "title": "New hat", "brand": "Zephyrine", "color": ["mauve"]}
    assert client.post("/v1/documents", json={"documents": [doc]}).status_code == 200
    filters = _filters(client.get("/v1/info").json())
    assert {"value": "Zephyrine", "count": 1} in filters["brand"]["values"]
    assert client.delete("/v1/documents/N-1").status_code == 200
    filters = _filters(client.get("/v1/info").json())
    assert "Zephyrine" not in {v["value"] for v in filters["brand"]["values"]}


def test_top_values_and_sampling_are_bounded(make_searcher, corpus):
    searcher = make_searcher(corpus)
    values = FilterValues(searcher.backend, searcher.template, top=2, max_documents=15)
    got = values.get()
    assert len(got.fields["brand"]["values"]) == 2 and got.fields["brand"]["more"] is True
    assert got.documents == 15 and got.complete is False
    assert sum(v["count"] for v in got.fields["category"]["values"]) <= 15


def test_a_backend_that_counts_its_own_values_is_asked(make_searcher, corpus):
    searcher = make_searcher(corpus)

    class Counting:
        name = "counting"

        def __init__(self, inner: Any) -> None:
            self.inner = inner
            self.asked: list[tuple[list[str], int]] = []
            self.capabilities = Capabilities(keyword_values=self)

        def count(self) -> int:
            return 1000

        def health(self) -> Any:
            return self.inner.health()

        def keyword_values(self, fields: list[str], *, size: int) -> dict[str, list[Any]]:
            self.asked.append((fields, size))
            return {f: [("x", 7), ("y", 3)] for f in fields}

    backend = Counting(searcher.backend)
    got = FilterValues(backend, searcher.template, top=5).get()  # type: ignore[arg-type]
    assert backend.asked == [(["brand", "category", "color", "material"], 6)]
    assert got.fields["brand"] == {
        "values": [{"value": "x", "count": 7}, {"value": "y", "count": 3}],
        "more": False,
    }
    assert got.documents == 1000 and got.complete is True


def test_no_index_yet_lists_no_values(make_client):
    client = make_client(docs=None)
    info = client.get("/v1/info").json()
    assert all(not f.get("values") for f in info["filters"])
    assert info["filter_values"] == {"documents": 0, "complete": True}


def test_values_in_any_case_are_counted_as_one(client):
    docs = [
        {"sku": f"C-{i}", "title": "Hat", "brand": "Zephyrine", "color": [colour]}
        for i, colour in enumerate(["Mauve", "mauve", "MAUVE", "Mauve"])
    ]
    assert client.post("/v1/documents", json={"documents": docs}).status_code == 200
    colors = _filters(client.get("/v1/info").json())["color"]["values"]
    # One value, as the lowercase normalizer indexes it, in its most frequent spelling.
    assert [v for v in colors if v["value"].lower() == "mauve"] == [{"value": "Mauve", "count": 4}]
