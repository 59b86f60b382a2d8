"""Connection errors, retries, error translation, native-mode traps and the plan command."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from hybrid_search.backends.opensearch.backend import OpenSearchBackend, PipelineMissingError
from hybrid_search.backends.opensearch.client import OpenSearchClient, Request, root_cause
from hybrid_search.backends.opensearch.plan import build_plan, write_plan
from hybrid_search.errors import BackendError, BackendUnavailableError, IndexNotFoundError
from tests.conftest import HashEmbedder


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_cluster_is_backend_unavailable(os_settings, template):
    url = f"http://127.0.0.1:{_closed_port()}"
    backend = OpenSearchBackend(
        os_settings(url=url, max_retries=2, retry_max_wait_s=0.05), template
    )
    started = time.perf_counter()
    with pytest.raises(BackendUnavailableError, match=f"{url}.*unreachable.*docker compose"):
        backend.lexical("tote", k=5, filters=[])
    assert time.perf_counter() - started < 5, "retries are bounded"
    health = backend.health()
    assert not health.ok and "unreachable" in health.detail["error"]
    backend.close()


def test_cli_exits_3_when_the_cluster_is_unreachable(monkeypatch, capsys):
    import hybrid_search.embedding as embedding
    from hybrid_search.cli import main

    monkeypatch.setattr(embedding, "create_embedder", lambda _cfg: HashEmbedder())
    monkeypatch.setenv("HYBRID_SEARCH_OPENSEARCH__MAX_RETRIES", "0")
    url = f"http://127.0.0.1:{_closed_port()}"
    assert main(["opensearch", "bootstrap", "--url", url]) == 3
    assert "unreachable" in capsys.readouterr().err


class _Flaky:
    """Stands in for opensearch-py's transport method: fails ``n`` times, then answers."""

    def __init__(self, errors):
        self.errors = list(errors)
        self.calls = 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return {"ok": True}


def _client_with(os_settings, flaky, **cfg):
    client = OpenSearchClient(os_settings(retry_max_wait_s=0.01, **cfg).opensearch)
    client.raw.transport.perform_request = flaky
    return client


def test_429_and_503_are_retried_then_succeed(os_settings):
    from opensearchpy import TransportError

    flaky = _Flaky([TransportError(429, "too_many_requests", {}), TransportError(503, "x", {})])
    assert _client_with(os_settings, flaky, max_retries=3).send(Request("GET", "/")) == {"ok": True}
    assert flaky.calls == 3


def test_retries_are_bounded(os_settings):
    from opensearchpy import TransportError

    flaky = _Flaky([TransportError(429, "too_many_requests", {})] * 10)
    with pytest.raises(BackendUnavailableError, match="kept answering 429"):
        _client_with(os_settings, flaky, max_retries=2).send(Request("GET", "/"))
    assert flaky.calls == 3


@pytest.mark.parametrize(("retry_on_timeout", "calls"), [(False, 1), (True, 3)])
def test_a_timeout_is_retried_only_when_asked(os_settings, retry_on_timeout, calls):
    """A hung node costs one timeout_s by default, not (max_retries + 1) of them; a refused
    connection is still retried."""
    from opensearchpy import ConnectionError as OSConnectionError
    from opensearchpy import ConnectionTimeout

    flaky = _Flaky([ConnectionTimeout("TIMEOUT", "Read timed out", None)] * 5)
    client = _client_with(os_settings, flaky, max_retries=2, retry_on_timeout=retry_on_timeout)
    with pytest.raises(BackendUnavailableError, match="did not answer GET /") as err:
        client.send(Request("GET", "/"))
    assert flaky.calls == calls
    assert ("3 tries" in str(err.value)) is retry_on_timeout
    refused = _Flaky([OSConnectionError("N/A", "refused", None)] * 2)
    assert _client_with(os_settings, refused, max_retries=2).send(Request("GET", "/")) == {
        "ok": True
    }
    assert refused.calls == 3


def test_a_400_is_not_retried_and_keeps_the_root_cause(os_settings):
    from opensearchpy import TransportError

    info = {
        "error": {
            "type": "search_phase_execution_exception",
            "reason": "all shards failed",
            "root_cause": [{"type": "parsing_exception", "reason": "unknown query [knnn]"}],
        },
        "status": 400,
    }
    flaky = _Flaky([TransportError(400, "search_phase_execution_exception", info)])
    with pytest.raises(BackendError, match="unknown query") as caught:
        _client_with(os_settings, flaky, max_retries=3).send(Request("POST", "/x/_search", {}))
    assert flaky.calls == 1 and caught.value.status == 400


def test_index_not_found_is_its_own_error(os_settings):
    from opensearchpy import NotFoundError

    info = {"error": {"type": "index_not_found_exception", "reason": "no such index [p]"}}
    flaky = _Flaky([NotFoundError(404, "index_not_found_exception", info)])
    with pytest.raises(IndexNotFoundError, match="bootstrap"):
        _client_with(os_settings, flaky).send(Request("GET", "/p/_count"))


def test_root_cause_keeps_the_top_reason_and_the_cause():
    item = {
        "error": {
            "type": "mapper_parsing_exception",
            "reason": "failed to parse field [price]",
            "caused_by": {"type": "number_format_exception", "reason": "For input string"},
        }
    }
    assert root_cause(item) == (
        "mapper_parsing_exception: failed to parse field [price] "
        "(caused by number_format_exception: For input string)"
    )


def test_basic_auth_and_tls_options_reach_the_client(os_settings, tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("not used before a connection")
    settings = os_settings(
        url="https://a:9200, https://b:9200",
        username="admin",
        password="s3cret",
        verify_certs=False,
        ca_certs=ca,
    )
    client = OpenSearchClient(settings.opensearch)
    conns = client.raw.transport.connection_pool.connections
    assert sorted(c.host for c in conns) == ["https://a:9200", "https://b:9200"]
    assert conns[0].headers["authorization"] == "Basic YWRtaW46czNjcmV0"  # admin:s3cret
    assert conns[0].use_ssl and conns[0].pool.cert_reqs == "CERT_NONE"
    assert "s3cret" not in client.hosts and "s3cret" not in repr(settings)


def test_username_without_password_is_a_config_error(os_settings):
    from hybrid_search.errors import ConfigError

    with pytest.raises(ConfigError, match="PASSWORD"):
        OpenSearchClient(os_settings(username="admin").opensearch).raw  # noqa: B018


# ---------------------------------------------------------------------------------- native mode
# A hybrid query without a pipeline answers 200 with neural-search's per-shard format
# (HybridSearchResultFormatUtil): sentinel scores, as users hit in neural-search#1658.
SENTINEL_RESPONSE = {
    "hits": {
        "hits": [
            {"_id": "a", "_score": -9549511920.488},
            {"_id": "a", "_score": 3.2},
            {"_id": "b", "_score": -4422440593.979},
            {"_id": "a", "_score": -9549511920.488},
        ]
    }
}


class _Canned:
    def __init__(self, response):
        self.response = response
        self.requests: list[Request] = []

    def send(self, request, **_kwargs):
        self.requests.append(request)
        return self.response

    def close(self):
        pass


def test_negative_sentinel_scores_mean_a_missing_pipeline(os_settings, template):
    canned = _Canned(SENTINEL_RESPONSE)
    backend = OpenSearchBackend(os_settings(mode="native"), template, client=canned)
    vec = HashEmbedder().encode_query("tote")
    with pytest.raises(PipelineMissingError, match=r"products-hybrid-minmax.*bootstrap"):
        backend.native_fused("tote", vec, window=50, filters=[], min_vector_cosine=0.35)
    sent = canned.requests[0]
    assert sent.params == {"search_pipeline": "products-hybrid-minmax"}
    assert sent.body["query"]["hybrid"]["pagination_depth"] == 50


def test_native_fused_returns_the_pipeline_scores(os_settings, template, validator):
    canned = _Canned({"hits": {"hits": [{"_id": "a", "_score": 0.9}, {"_id": "b", "_score": 0.2}]}})
    backend = OpenSearchBackend(os_settings(mode="native"), template, client=canned)
    assert backend.capabilities.native_fusion is backend
    assert OpenSearchBackend(os_settings(), template).capabilities.native_fusion is None
    fused = backend.native_fused(
        "tote",
        HashEmbedder().encode_query("tote"),
        window=20,
        filters=[],
        min_vector_cosine=None,
        rrf=True,
    )
    assert fused.keys == ["a", "b"] and fused.scores.tolist() == [0.9, 0.2]
    assert np.isnan(fused.raw).all()
    assert canned.requests[0].params == {"search_pipeline": "products-hybrid-rrf"}
    assert validator.validate("search", canned.requests[0].body) == []


# ------------------------------------------------------------------------------------------ plan
def test_plan_writes_every_request_and_each_is_valid(os_settings, template, validator, tmp_path):
    emb = HashEmbedder()
    settings = os_settings()
    plan = build_plan(
        settings,
        template,
        query="black tote",
        embedding=emb.encode_query("black tote"),
        model_id=emb.model_id,
        filters={"in_stock": True, "price": {"lte": 900}},
        k=10,
        page=2,
    )
    kinds = [item.kind for item in plan]
    assert kinds == [
        "index_template",
        "search_pipeline",
        "search_pipeline",
        "script",
        "create_index",
        "msearch",
        "search",
        "search",
        "search",
    ]
    for item in plan:
        assert validator.validate(item.kind, item.request.body) == [], item.name
    paths = write_plan(plan, tmp_path / "plan")
    first = json.loads(paths[0].read_text())
    assert set(first) == {"method", "path", "body"}
    assert (first["method"], first["path"]) == ("PUT", "/_index_template/products")
    legs = json.loads(next(p for p in paths if "msearch" in p.name).read_text())
    assert legs["path"] == "/_msearch" and len(legs["body"]) == 4
    assert legs["body"][3]["query"]["knn"]["embedding"]["filter"]["bool"]["filter"][0] == {
        "term": {"in_stock": True}
    }
    native = json.loads(paths[-1].read_text())
    assert native["path"] == "/products/_search?search_pipeline=products-hybrid-minmax"
    assert native["body"]["from"] == 20 and native["body"]["query"]["hybrid"]["pagination_depth"]


def test_cli_plan_writes_files_without_a_cluster(monkeypatch, tmp_path, capsys):
    import hybrid_search.embedding as embedding
    from hybrid_search.cli import main

    monkeypatch.setattr(embedding, "create_embedder", lambda _cfg: HashEmbedder())
    out = tmp_path / "plan"
    url = f"http://127.0.0.1:{_closed_port()}"  # never contacted
    args = ["opensearch", "plan", "--url", url, "--query", "tote", "--filter", "brand=Vantier"]
    assert main([*args, "--out", str(out)]) == 0
    files = sorted(p.name for p in out.iterdir())
    assert len(files) == 9 and files[0] == "01-index_template-products.json"
    assert capsys.readouterr().out.count(str(out)) == 9
    assert main([*args[:-2], "--filter", "colour=red", "--out", str(out)]) == 2


@pytest.mark.parametrize("alias", ["Products", "products!", "-products", ""])
def test_a_bad_alias_names_the_setting(os_settings, alias):
    from hybrid_search.errors import ConfigError

    with pytest.raises(ConfigError, match="HYBRID_SEARCH_OPENSEARCH__INDEX_ALIAS"):
        os_settings(index_alias=alias)


def test_backend_registry_knows_opensearch(os_settings, template):
    from hybrid_search.backends import BACKENDS, create_backend

    assert {"embedded", "opensearch"} <= set(BACKENDS)
    backend = create_backend(os_settings(), template)  # no I/O in the constructor
    assert isinstance(backend, OpenSearchBackend) and backend.alias == "products"


def test_api_answers_503_when_the_cluster_is_unreachable(os_settings, template):
    from fastapi.testclient import TestClient

    from hybrid_search.api import create_app
    from hybrid_search.searcher import Searcher

    url = f"http://127.0.0.1:{_closed_port()}"
    settings = os_settings(url=url, max_retries=0)
    searcher = Searcher(settings, template, OpenSearchBackend(settings, template), HashEmbedder)
    with TestClient(create_app(settings, searcher=searcher, warm_up=False)) as client:
        resp = client.post("/v1/search", json={"query": "tote", "mode": "lexical"})
    searcher.close()
    assert resp.status_code == 503
    error = resp.json()["error"]
    assert error["type"] == "backend_unavailable" and "unreachable" in error["message"]


# ------------------------------------------------------------------------------ opensearch-py
def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def test_installed_opensearch_py_meets_the_floor():
    """2.4-2.7's Transport.perform_request overwrote ``ignore``: bootstrap's reads of absent
    objects (404) then raised on a fresh cluster. The floor keeps those releases out."""
    from importlib.metadata import version

    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    match = re.search(r'"opensearch-py>=([0-9.]+)"', pyproject)
    assert match, "opensearch-py is a core dependency with a floor"
    floor = _version_tuple(match.group(1))
    assert floor >= (2, 8)
    assert _version_tuple(version("opensearch-py")) >= floor


class _Answers(BaseHTTPRequestHandler):
    """A bare HTTP server: 404 for paths under /missing, else 200; keeps each request line."""

    seen: ClassVar[list[str]] = []

    def do_GET(self):
        self.seen.append(self.path)
        status = 404 if self.path.startswith("/missing") else 200
        body = json.dumps({"found": False} if status == 404 else {"status": "yellow"}).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Answers.seen.clear()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_send_with_ignore_returns_the_404_answer_through_the_real_transport(
    os_settings, http_server
):
    client = OpenSearchClient(os_settings(url=http_server, max_retries=0).opensearch)
    try:
        assert client.send(Request("GET", "/missing/_doc/1"), ignore=(404,)) == {"found": False}
        with pytest.raises(BackendError) as caught:
            client.send(Request("GET", "/missing/_doc/1"))
        assert caught.value.status == 404
        # a `timeout` URL parameter reaches the server (the transport would take it otherwise)
        params = {"wait_for_status": "yellow", "timeout": "5s"}
        client.send(Request("GET", "/_cluster/health", None, params))
        assert _Answers.seen[-1] == "/_cluster/health?wait_for_status=yellow&timeout=5s"
    finally:
        client.close()
