"""Writes (issue 15, section 4): backoff on item-level 429s, no refresh per batch in a bulk load,
and the stored script compiled at bootstrap."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from hybrid_search.backends.opensearch.backend import OpenSearchBackend
from hybrid_search.backends.opensearch.bootstrap import Bootstrapper
from hybrid_search.backends.opensearch.client import Request
from hybrid_search.config import load_settings
from hybrid_search.errors import BackendError
from hybrid_search.ingest import index_documents
from hybrid_search.reembed import reembed
from tests.conftest import HashEmbedder
from tests.opensearch.stubs import StubClient


def _settings(**opensearch: Any):
    return load_settings(backend="opensearch", opensearch=opensearch)


def _items(request: Request, statuses: list[int]) -> dict[str, Any]:
    """A ``_bulk`` answer: one item per action line, statuses cycled."""
    actions = request.body[::2]
    items = []
    for i, action in enumerate(actions):
        status = statuses[i % len(statuses)]
        result: dict[str, Any] = {"_id": action["index"]["_id"], "status": status}
        if status >= 300:
            result["error"] = {"type": "es_rejected_execution_exception", "reason": "queue full"}
        items.append({"index": result})
    return {"errors": any(s >= 300 for s in statuses), "items": items}


def _docs(n: int) -> list[dict[str, Any]]:
    return [{"sku": f"S-{i}", "title": f"thing {i}"} for i in range(n)]


# ----------------------------------------------------------------------- item-level 429 backoff
def test_bulk_429_items_are_resent_after_increasing_bounded_waits(template):
    settings = _settings(max_retries=6, retry_max_wait_s=0.5)
    client = StubClient({("POST", "/_bulk"): lambda r: _items(r, [429])})
    sleeps: list[float] = []
    boot = Bootstrapper(client, template, settings, sleep=sleeps.append)
    report = boot.bulk_index("products-v1", _docs(3), np.zeros((3, 384)), refresh="false")
    assert len(client.sent) == 7, "one try and max_retries resends"
    assert len(sleeps) == 6, "a wait before each resend, none after the last try"
    assert 0.1 <= sleeps[0] <= 0.2
    assert all(0 < s <= 0.5 for s in sleeps), sleeps
    assert sleeps == sorted(sleeps) and sleeps[-1] == 0.5, sleeps
    assert report.indexed == 0 and len(report.failed) == 3
    assert all("es_rejected_execution_exception" in reason for _, reason in report.failed)


def test_bulk_resends_only_the_429_items_once_they_clear(template):
    answers = iter([[201, 429, 201], [201]])
    client = StubClient({("POST", "/_bulk"): lambda r: _items(r, next(answers))})
    sleeps: list[float] = []
    boot = Bootstrapper(client, template, _settings(), sleep=sleeps.append)
    report = boot.bulk_index("products-v1", _docs(3), np.zeros((3, 384)), refresh="false")
    assert report.indexed == 3 and not report.failed
    assert len(sleeps) == 1 and 0.1 <= sleeps[0] <= 0.2
    assert [line["index"]["_id"] for line in client.sent[1].body[::2]] == ["S-1"]


def test_the_jitter_spreads_senders_out(template):
    boot = Bootstrapper(StubClient(), template, _settings(retry_max_wait_s=10))
    waits = {round(boot._bulk_backoff(2), 6) for _ in range(20)}
    assert len(waits) > 1 and all(0.4 <= w <= 0.5 for w in waits)


# ------------------------------------------------------------------- refresh: load vs real time
def _bulk_ok(request: Request) -> dict[str, Any]:
    return _items(request, [201])


def _bulk_refreshes(client: StubClient) -> list[str]:
    return [r.params["refresh"] for r in client.sent if r.path == "/_bulk"]


def test_a_bulk_load_sends_no_refresh_per_batch_and_one_refresh_after(template):
    client = StubClient({("POST", "/_bulk"): _bulk_ok})
    backend = OpenSearchBackend(_settings(bulk_docs=2), template, client=client)
    vectors = np.ones((5, 384), dtype=np.float32)
    with backend.bulk():
        backend.index(_docs(5), vectors)
        with backend.bulk():  # nested: still one refresh, at the outer end
            backend.index(_docs(1), vectors[:1])
        assert "/products/_refresh" not in client.paths()
    assert _bulk_refreshes(client) == ["false"] * 4
    assert client.paths().count("/products/_refresh") == 1
    assert client.paths()[-1] == "/products/_refresh"
    backend.index(_docs(1), vectors[:1])  # outside a load: the configured wait_for again
    assert _bulk_refreshes(client)[-1] == "wait_for"


def test_a_failed_load_is_not_refreshed(template):
    client = StubClient({("POST", "/_bulk"): _bulk_ok})
    backend = OpenSearchBackend(_settings(), template, client=client)

    def load() -> None:
        with backend.bulk():
            backend.index(_docs(1), np.ones((1, 384), dtype=np.float32))
            raise RuntimeError

    with pytest.raises(RuntimeError):
        load()
    assert "/products/_refresh" not in client.paths()


def _ingest_answers(template) -> dict:
    meta = {"model_id": HashEmbedder.model_id, "dimension": 384, "template_digest": template.digest}
    return {
        ("POST", "/_bulk"): _bulk_ok,
        ("GET", "/_alias/products"): {"products-v1": {"aliases": {"products": {}}}},
        ("GET", "/products-v1/_mapping"): {
            "products-v1": {"mappings": {"_meta": {"hybrid_search": meta}}}
        },
        ("GET", "/products-v1/_count"): {"count": 0},
    }


@pytest.mark.parametrize(("realtime", "refresh"), [(False, "false"), (True, "wait_for")])
def test_batch_ingest_refreshes_once_and_the_api_path_waits_per_bulk(
    template, corpus, realtime, refresh
):
    client = StubClient(_ingest_answers(template))
    backend = OpenSearchBackend(_settings(bulk_docs=4), template, client=client)
    report = index_documents(
        ((f"line {i}", d) for i, d in enumerate(corpus)),
        template=template,
        embedder=HashEmbedder(),
        backend=backend,
        batch_size=5,
        realtime=realtime,
    )
    assert report.indexed == len(corpus) and not report.failed
    assert len(_bulk_refreshes(client)) > 1 and set(_bulk_refreshes(client)) == {refresh}
    refreshes = client.paths().count("/products/_refresh")
    assert refreshes == (0 if realtime else 1)


def test_the_api_documents_route_is_the_realtime_path(make_client, monkeypatch):
    import hybrid_search.searcher as searcher_module

    seen: list[dict[str, Any]] = []
    real = searcher_module.index_documents

    def spy(items, **kwargs):
        seen.append(kwargs)
        return real(items, **kwargs)

    monkeypatch.setattr(searcher_module, "index_documents", spy)
    client = make_client()
    doc = {"sku": "N-1", "title": "Vantier felt fedora", "price": 10}
    assert client.post("/v1/documents", json={"documents": [doc]}).status_code == 200
    assert seen and seen[0]["realtime"] is True


def test_reindex_bulks_without_refresh_and_refreshes_the_new_index_once(template, corpus):
    pages = iter([[{**d, "embedding": [0.0] * 384} for d in corpus[:3]], []])

    def scan(_request):
        hits = [{"_source": s, "sort": [s["sku"]]} for s in next(pages)]
        return {"hits": {"hits": hits}}

    client = StubClient(
        {
            ("POST", "/_bulk"): _bulk_ok,
            ("GET", "/_alias/products"): {"products-v1": {}},
            ("GET", "/products-v*/_alias"): {"products-v1": {}},
            ("POST", "/products/_search"): scan,
            ("GET", "/products-v2/_count"): {"count": 3},
        }
    )
    backend = OpenSearchBackend(_settings(), template, client=client)
    report = reembed(backend, template, HashEmbedder())
    assert report.swapped
    assert _bulk_refreshes(client) == ["false"]
    paths = client.paths()
    assert paths.count("/products-v2/_refresh") == 1
    assert paths.index("/products-v2/_refresh") > paths.index("/_bulk")


# ------------------------------------------------------------------------------- stored script
def test_the_script_is_stored_with_the_score_context(template):
    client = StubClient()
    Bootstrapper(client, template, _settings()).run(model_id="m", dimension=384)
    puts = [r.path for r in client.sent if r.method == "PUT" and "_scripts" in r.path]
    assert puts == ["/_scripts/products-commercial/score"]
    assert "/_scripts/products-commercial" in client.paths("GET")


@pytest.mark.parametrize("mode", ["inline", "stored"])
def test_bootstrap_fails_on_a_script_that_does_not_compile(template, mode):
    error = BackendError(
        "OpenSearch rejected install script (HTTP 400): script_exception: compile error",
        status=400,
        reason="script_exception: compile error",
    )
    client = StubClient({("PUT", "/_scripts/products-commercial/score"): error})
    boot = Bootstrapper(client, template, _settings(commercial_script=mode))
    with pytest.raises(BackendError, match="compile error"):
        boot.run(model_id="m", dimension=384)


def test_a_cluster_refusing_stored_scripts_is_skipped_with_the_inline_source(template):
    error = BackendError("refused", status=400, reason="illegal_argument_exception: not allowed")
    client = StubClient({("PUT", "/_scripts/products-commercial/score"): error})
    steps = Bootstrapper(client, template, _settings()).run(model_id="m", dimension=384)
    script = next(s for s in steps if s.kind == "script")
    assert script.name == "products-commercial" and script.action == "skipped"
