"""The OpenSearch backend slow, down, coming back, and failing half way through a bulk write.

Builds on ``tests/opensearch/test_os_client.py`` (retries, error translation, a 503 from the API
for a closed port). Here: a black-hole port (connects, never answers) is bounded by the timeout
and the retries; a cluster that is down when the sidecar starts and comes up later is used
without a restart; a bulk load whose connection drops after the first ``_bulk`` accounts for
every document. The cluster is ``osmem-server`` (``conftest.py``).
"""

from __future__ import annotations

import socket
import time
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hybrid_search.api import create_app
from hybrid_search.backends.opensearch.backend import OpenSearchBackend
from hybrid_search.backends.opensearch.client import Request
from hybrid_search.config import load_settings
from hybrid_search.errors import BackendUnavailableError, HybridSearchError
from hybrid_search.ingest import index_documents
from hybrid_search.searcher import Searcher
from tests.conftest import HashEmbedder


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _settings(url: str, **opensearch: Any):
    alias = f"hs-fault-{uuid.uuid4().hex[:10]}"
    return load_settings(
        backend="opensearch", opensearch={"url": url, "index_alias": alias, **opensearch}
    )


def _app(settings, template) -> tuple[TestClient, Searcher]:
    searcher = Searcher(settings, template, OpenSearchBackend(settings, template), HashEmbedder)
    return TestClient(create_app(settings, searcher=searcher, warm_up=False)), searcher


@pytest.mark.parametrize(("retry_on_timeout", "attempts"), [(False, 1), (True, 3)])
def test_a_cluster_that_never_answers_is_a_bounded_503(template, retry_on_timeout, attempts):
    """A timeout is not retried unless ``retry_on_timeout``: one timeout_s, else three."""
    with socket.socket() as hole:  # accepts connections (kernel backlog), never answers
        hole.bind(("127.0.0.1", 0))
        hole.listen(16)
        url = f"http://127.0.0.1:{hole.getsockname()[1]}"
        settings = _settings(
            url,
            timeout_s=0.3,
            max_retries=2,
            retry_max_wait_s=0.05,
            retry_on_timeout=retry_on_timeout,
        )
        client, searcher = _app(settings, template)
        with client:
            started = time.perf_counter()
            r = client.post("/v1/search", json={"query": "tote", "mode": "lexical"})
            elapsed = time.perf_counter() - started
            assert r.status_code == 503, r.text
            error = r.json()["error"]
            assert error["type"] == "backend_unavailable"
            assert url in error["message"] and "Timeout" in error["message"]
            assert error["detail"]["request_id"]
            # attempts x 0.3 s + jittered backoff <= 2 x 0.05 s, plus slack for a busy machine
            assert 0.3 * attempts <= elapsed < 0.3 * attempts + 4
            assert client.get("/healthz").status_code == 200  # liveness is not the cluster
            assert client.get("/readyz").status_code == 503
        searcher.close()


def test_the_sidecar_recovers_by_itself_when_the_cluster_comes_back(template, corpus):
    from osmem_server import OsmemError, OsmemServer

    from tests.opensearch.conftest import on_builtin_analyzers

    template = on_builtin_analyzers(template)  # osmem runs no custom analyzer at search time

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    settings = _settings(url, max_retries=1, retry_max_wait_s=0.05)
    client, searcher = _app(settings, template)
    server = None
    try:
        with client:
            down = client.post("/v1/search", json={"query": "tote", "mode": "lexical"})
            assert down.status_code == 503 and "unreachable" in down.json()["error"]["message"]
            assert client.get("/readyz").status_code == 503
            try:
                server = OsmemServer.start(freeze=False, japanese=False, addr=f"127.0.0.1:{port}")
            except OsmemError as exc:
                pytest.skip(f"osmem-server did not start on port {port}: {exc}")
            # The same app, no restart: the first write creates the index, searches answer.
            r = client.post("/v1/documents", json={"documents": corpus})
            assert r.status_code == 200 and r.json()["indexed"] == len(corpus), r.text
            up = client.post("/v1/search", json={"query": "black calfskin tote", "mode": "lexical"})
            assert up.status_code == 200, up.text
            assert up.json()["hits"][0]["id"] == "T-BAG-000"
            assert client.get("/healthz").json()["backend"]["ok"] is True
            assert client.get("/readyz").status_code == 200
    finally:
        if server is not None:
            server.close()
            if server.process.stdout is not None:
                server.process.stdout.close()
        searcher.close()


def test_a_bulk_that_fails_half_way_accounts_for_every_document(osmem_url, template, corpus):
    settings = _settings(osmem_url, bulk_docs=5, max_retries=0)
    backend = OpenSearchBackend(settings, template)
    real_send = backend.client.send
    bulks = {"n": 0}

    def flaky_send(request: Request, **kw: Any) -> Any:
        if request.path == "/_bulk":
            bulks["n"] += 1
            if bulks["n"] == 3:  # the connection drops on the third _bulk of the load
                msg = f"OpenSearch at {osmem_url} is unreachable during bulk: ConnectionError"
                raise BackendUnavailableError(msg)
        return real_send(request, **kw)

    backend.client.send = flaky_send  # type: ignore[method-assign]
    docs = corpus[:20]
    try:
        report = index_documents(
            ((f"line {i}", d) for i, d in enumerate(docs, 1)),
            template=template,
            embedder=HashEmbedder(),
            backend=backend,  # type: ignore[arg-type]
        )
        ids = [d["sku"] for d in docs]
        failed = [doc_id for doc_id, _ in report.failed]
        assert report.indexed == 10, "the two _bulk requests before the drop were applied"
        assert failed == ids[10:] and all("unreachable" in why for _, why in report.failed)
        assert report.indexed + len(failed) == len(docs), "every document accounted for"
        assert backend.count() == 10
        assert set(backend.fetch(ids)) == set(ids[:10]), "exactly the reported ones are there"
        # Resending the failed ones completes the load (upserts are idempotent).
        again = index_documents(
            ((doc_id, d) for doc_id, d in zip(ids, docs, strict=True) if doc_id in failed),
            template=template,
            embedder=HashEmbedder(),
            backend=backend,  # type: ignore[arg-type]
        )
        assert again.indexed == 10 and again.failed == [] and backend.count() == 20
    finally:
        backend.client.send = real_send  # type: ignore[method-assign]
        try:
            real_send(Request("DELETE", f"/{backend.names.pattern}"), ignore=(404,))
            real_send(
                Request("DELETE", f"/_index_template/{backend.names.template}"), ignore=(404,)
            )
        except HybridSearchError:
            pass
        backend.close()


def test_a_bulk_that_fails_at_once_raises_for_the_caller(template, corpus):
    """Nothing written: the error surfaces (the CLI's exit code 3), it is not a 'partial' load."""
    settings = _settings(f"http://127.0.0.1:{_free_port()}", max_retries=0)
    backend = OpenSearchBackend(settings, template)
    vectors = HashEmbedder().encode_documents([d["title"] for d in corpus[:3]])
    with pytest.raises(BackendUnavailableError, match="unreachable"):
        backend.index(corpus[:3], vectors)
    backend.close()
