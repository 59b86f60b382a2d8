"""GET /metrics scraped through TestClient after known requests: exact counts per label."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from hybrid_search.errors import BackendUnavailableError, IndexNotFoundError
from hybrid_search.hits import IngestReport
from hybrid_search.observability.metrics import Metrics, fallback_kind
from hybrid_search.searcher import SearchResponse


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _value(samples, name, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_fallback_kind_is_a_bounded_label():
    assert fallback_kind(None) is None
    assert fallback_kind("low vector confidence: top cosine 0.1 < 0.35") == "low_confidence"
    assert fallback_kind("embedder unavailable: took longer than 2 s") == "embedder_unavailable"
    assert fallback_kind("vector leg unavailable: 503") == "vector_leg_unavailable"
    assert fallback_kind("something new") == "other"


def test_observe_search_and_ingest_known_counts():
    m = Metrics()
    empty = SearchResponse(
        hits=[],
        mode_used="lexical",
        fallback_reason="low vector confidence: top cosine 0.100 < threshold 0.350",
        candidates={"lexical": 0, "vector": 7, "fused": 0},
        timings_ms={"embed": 4.0, "lexical": 1.0, "total": 6.0},
    )
    m.observe_search(empty, 0.006, route="/v1/search")
    m.observe_ingest(IngestReport(indexed=5, failed=[("a", "bad"), ("b", "bad")]))
    s = _samples(m.render().decode())
    assert (
        _value(s, "hybrid_search_zero_result_searches_total", route="/v1/search", mode="lexical")
        == 1
    )
    assert _value(s, "hybrid_search_fallbacks_total", reason="low_confidence") == 1
    assert _value(s, "hybrid_search_documents_ingested_total") == 5
    assert _value(s, "hybrid_search_documents_rejected_total") == 2
    assert _value(s, "hybrid_search_query_embedding_duration_seconds_count") == 1
    assert _value(s, "hybrid_search_query_embedding_duration_seconds_sum") == 0.004
    # 7 vector candidates: in the le=10 bucket, not in le=5.
    assert _value(s, "hybrid_search_candidates_bucket", leg="vector", le="10.0") == 1
    assert _value(s, "hybrid_search_candidates_bucket", leg="vector", le="5.0") == 0
    # "total" is the request itself, not a stage.
    assert _value(s, "hybrid_search_search_stage_duration_seconds_count", stage="total") == 0
    assert _value(s, "hybrid_search_search_stage_duration_seconds_count", stage="lexical") == 1


def test_metrics_endpoint_after_requests(make_client):
    client = make_client()
    for query in ("black tote", "navy clutch", "black tote"):
        assert client.post("/v1/search", json={"query": query, "mode": "hybrid"}).status_code == 200
    assert client.post("/v1/search", json={"query": "zzqx", "mode": "lexical"}).status_code == 200
    assert client.post("/v1/search", json={"query": "x", "k": 0}).status_code == 400
    first = client.post("/v1/search", json={"query": "black tote"}).json()["hits"][0]["id"]
    assert client.get(f"/v1/similar/{first}", params={"k": 3}).status_code == 200
    assert client.get("/v1/documents/nope").status_code == 404
    doc = {"sku": "NEW-1", "title": "Saffron silk scarf", "price": 100.0}
    bad = {"sku": "NEW-2"}  # no title: rejected
    resp = client.post("/v1/documents", json={"documents": [doc, bad]})
    assert resp.status_code == 200

    scraped = client.get("/metrics")
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    s = _samples(scraped.text)
    search_count = "hybrid_search_search_duration_seconds_count"
    assert _value(s, search_count, route="/v1/search", mode="hybrid") == 4
    assert _value(s, search_count, route="/v1/search", mode="lexical") == 1
    assert _value(s, search_count, route="/v1/similar", mode="vector") == 1
    zero = "hybrid_search_zero_result_searches_total"
    assert _value(s, zero, route="/v1/search", mode="lexical") == 1
    http = "hybrid_search_http_request_duration_seconds_count"
    # Route templates, never raw paths: the 404 lookup is one series for every id.
    assert _value(s, http, route="/v1/search", method="POST", status="200") == 5
    assert _value(s, http, route="/v1/search", method="POST", status="400") == 1
    assert _value(s, http, route="/v1/documents/{doc_id:path}", method="GET", status="404") == 1
    assert not any("nope" in str(key) for key in s)
    assert _value(s, "hybrid_search_documents_ingested_total") == 1
    assert _value(s, "hybrid_search_documents_rejected_total") == 1
    # Hybrid searches embed the query: one embedding observation per non-lexical search.
    assert _value(s, "hybrid_search_query_embedding_duration_seconds_count") == 4
    assert _value(s, "hybrid_search_index_documents") == 41  # 40 + the new one


def test_index_size_gauge_is_skipped_while_there_is_no_index():
    def missing():
        raise IndexNotFoundError("no index")

    text = Metrics(document_count=missing).render().decode()
    assert "hybrid_search_index_documents" not in text
    assert (
        "hybrid_search_index_documents 3.0" in Metrics(document_count=lambda: 3).render().decode()
    )


def test_backend_errors_are_counted(make_client, monkeypatch):
    client = make_client(search={"fallback": "off"})
    searcher = client.app.state.searcher

    def down(*_a, **_k):
        raise BackendUnavailableError("connection refused")

    monkeypatch.setattr(searcher, "search", down)
    assert client.post("/v1/search", json={"query": "tote"}).status_code == 503
    s = _samples(client.get("/metrics").text)
    assert _value(s, "hybrid_search_backend_errors_total", type="backend_unavailable") == 1


def test_metrics_can_be_turned_off(make_client):
    client = make_client(observability={"metrics_enabled": False})
    assert client.get("/metrics").status_code == 404


def test_real_fallback_reasons_get_their_labels(make_client, tmp_path):
    # The labels parse the Searcher's reason strings: hold them to the real ones.
    client = make_client()
    body = {"query": "black tote", "min_vector_cosine": 1.0}
    assert client.post("/v1/search", json=body).json()["mode_used"] == "lexical"
    broken = make_client(embedded={"data_dir": tmp_path / "other"})

    def boom():
        raise RuntimeError("model files missing")

    broken.app.state.searcher._embedder_factory = boom
    resp = broken.post("/v1/search", json={"query": "black tote"}).json()
    assert resp["degraded"] == ["vector"]
    s = _samples(client.get("/metrics").text)
    assert _value(s, "hybrid_search_fallbacks_total", reason="low_confidence") == 1
    b = _samples(broken.get("/metrics").text)
    assert _value(b, "hybrid_search_fallbacks_total", reason="embedder_unavailable") == 1
    assert _value(b, "hybrid_search_fallbacks_total", reason="other") == 0
