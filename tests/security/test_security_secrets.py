"""Secrets never reach a log line, an error body or ``config show``; API keys compare in constant
time.

The OpenSearch password and the API key are configured the way an operator would (environment,
or credentials inside the cluster URL); then everything that logs is exercised at DEBUG: start-up,
searches, writes with a wrong key, an unreachable cluster (retries, error translation, the 503
body), ``/readyz``, ``config show``. No captured byte may contain a secret.
"""

from __future__ import annotations

import hmac
import logging
import socket

import pytest
from fastapi.testclient import TestClient

from hybrid_search.api import create_app
from hybrid_search.backends.opensearch.backend import OpenSearchBackend
from hybrid_search.config import load_settings
from hybrid_search.searcher import Searcher
from tests.conftest import HashEmbedder

PASSWORD = "pw-Sup3rS3cret-opensearch"
URL_PASSWORD = "pw-InTheUrl-9f8e7d"
API_KEY = "key-Sup3rS3cret-api-0123456789"
SECRETS = (PASSWORD, URL_PASSWORD, API_KEY)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _assert_clean(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, (
                f"a secret leaked: ...{text[max(0, text.find(secret) - 80) :][:200]}"
            )


@pytest.mark.parametrize("where", ["password-setting", "url-userinfo"])
def test_no_secret_in_logs_or_error_bodies(monkeypatch, template, caplog, where):
    port = _closed_port()
    if where == "password-setting":
        monkeypatch.setenv("HYBRID_SEARCH_OPENSEARCH__USERNAME", "admin")
        monkeypatch.setenv("HYBRID_SEARCH_OPENSEARCH__PASSWORD", PASSWORD)
        url = f"http://127.0.0.1:{port}"
    else:
        url = f"http://admin:{URL_PASSWORD}@127.0.0.1:{port}"
    monkeypatch.setenv("HYBRID_SEARCH_OPENSEARCH__URL", url)
    monkeypatch.setenv("HYBRID_SEARCH_API__API_KEY", API_KEY)
    settings = load_settings(
        backend="opensearch", opensearch={"max_retries": 1, "retry_max_wait_s": 0.01}
    )
    searcher = Searcher(settings, template, OpenSearchBackend(settings, template), HashEmbedder)
    bodies = []
    with caplog.at_level(logging.DEBUG):
        with TestClient(create_app(settings, searcher=searcher, warm_up=False)) as client:
            for mode in ("lexical", "hybrid"):
                r = client.post("/v1/search", json={"query": "tote", "mode": mode})
                assert r.status_code == 503
                bodies.append(r.text)
            wrong = client.post(
                "/v1/documents",
                json={"documents": [{"sku": "A", "title": "x"}]},
                headers={"authorization": f"Bearer {API_KEY[:-1]}"},
            )
            assert wrong.status_code == 401
            bodies.append(wrong.text)
            bodies += [client.get("/readyz").text, client.get("/healthz").text]
            bodies.append(client.get("/v1/info").text)
        searcher.close()
    assert "127.0.0.1" in caplog.text and "unreachable" in caplog.text  # the logs did run
    _assert_clean(caplog.text, *bodies)


def test_config_show_masks_every_secret(monkeypatch, capsys):
    from hybrid_search.cli import main

    monkeypatch.setenv("HYBRID_SEARCH_OPENSEARCH__USERNAME", "admin")
    monkeypatch.setenv("HYBRID_SEARCH_OPENSEARCH__PASSWORD", PASSWORD)
    monkeypatch.setenv("HYBRID_SEARCH_OPENSEARCH__URL", f"https://admin:{URL_PASSWORD}@os:9200")
    monkeypatch.setenv("HYBRID_SEARCH_API__API_KEY", API_KEY)
    assert main(["config", "show"]) == 0
    out = capsys.readouterr()
    assert "opensearch" in out.out and "os:9200" in out.out
    _assert_clean(out.out, out.err)


def test_api_key_is_compared_with_hmac_compare_digest(make_searcher, corpus, monkeypatch):
    """Constant time: the comparison is ``hmac.compare_digest`` on the whole key, whatever the
    length or the prefix of what was sent (a ``==`` would stop at the first differing byte)."""
    import hybrid_search.api.routes as routes

    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(routes.hmac, "compare_digest", spy)
    searcher = make_searcher(corpus, api={"api_key": API_KEY})
    doc = {"documents": [{"sku": "K-1", "title": "keyed"}]}
    with TestClient(create_app(searcher.settings, searcher=searcher, warm_up=False)) as client:
        for sent in (API_KEY[:-1] + "X", API_KEY[:3], API_KEY + "tail", "", "cl\u00e9"):
            headers = {"x-api-key": sent.encode("latin-1")}  # a non-ASCII byte in the header too
            r = client.post("/v1/documents", json=doc, headers=headers)
            assert r.status_code == 401, sent
        ok = client.post("/v1/documents", json=doc, headers={"x-api-key": API_KEY})
        assert ok.status_code == 200
    assert len(calls) == 6
    assert all(b == API_KEY.encode() for _, b in calls)
    assert calls[-1][0] == API_KEY.encode()
