"""The query log (issue 8, ``observability/querylog.py``) keeps no personal data unless configured.

``tests/observability/test_querylog.py`` checks the record's fields. Here, an adversarial
request: a query holding an e-mail address and a phone number, sent with a client address
(``X-Forwarded-For``), a cookie, a user agent and the API key. With the defaults, no byte of the
log file may carry any of them; the application log at INFO carries no query text either.
Only ``hash_queries=false`` puts the text in the log.
"""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient

from hybrid_search.api import create_app

PII_QUERY = "tote for jane.doe@example.com +1 555 0100"
KEY = "key-querylog-0123456789"
SALT = "pepper-querylog-secret"
HEADERS = {
    "x-forwarded-for": "203.0.113.7",
    "cookie": "session=sess-abcdef123456",
    "user-agent": "Mozilla/5.0 (jane-laptop)",
    "x-api-key": KEY,
}
PRIVATE = ("jane.doe", "555 0100", "203.0.113.7", "sess-abcdef123456", "jane-laptop", KEY, SALT)


def _client(make_searcher, corpus, tmp_path, **observability):
    searcher = make_searcher(
        corpus,
        api={"api_key": KEY, "read_requires_key": True},
        observability={
            "query_log_enabled": True,
            "query_log_path": tmp_path / "q.jsonl",
            "hash_salt": SALT,
            **observability,
        },
    )
    return TestClient(create_app(searcher.settings, searcher=searcher, warm_up=False))


def test_default_query_log_has_no_personal_data(make_searcher, corpus, tmp_path, caplog):
    with (
        _client(make_searcher, corpus, tmp_path) as client,
        caplog.at_level(logging.INFO),
    ):
        r = client.post("/v1/search", json={"query": PII_QUERY, "k": 3}, headers=HEADERS)
        assert r.status_code == 200
        assert client.get("/v1/similar/T-BAG-000", headers=HEADERS).status_code == 200
    raw = (tmp_path / "q.jsonl").read_text()
    records = [json.loads(line) for line in raw.splitlines()]
    assert records and records[0]["query_sha256"]  # the log did run
    for secret in PRIVATE:
        assert secret.lower() not in raw.lower(), f"{secret!r} is in the query log"
        assert secret.lower() not in caplog.text.lower(), f"{secret!r} is in the app log"
    assert "tote" not in raw  # not even a word of the query


def test_query_text_only_when_configured(make_searcher, corpus, tmp_path):
    with _client(make_searcher, corpus, tmp_path, hash_queries=False) as client:
        assert client.post("/v1/search", json={"query": PII_QUERY}, headers=HEADERS).is_success
    raw = (tmp_path / "q.jsonl").read_text()
    assert PII_QUERY in raw  # the operator asked for it
    for secret in ("203.0.113.7", "sess-abcdef123456", "jane-laptop", KEY, SALT):
        assert secret not in raw  # and still nothing about the client


@pytest.mark.parametrize("request_id", ["user-42@example.com", "a" * 65, "id with spaces"])
def test_unsafe_request_ids_are_replaced_not_logged(make_searcher, corpus, tmp_path, request_id):
    """The request id is the caller's (``X-Request-ID``) only when it is a short token; anything
    else (an e-mail address, a long value) is replaced by a random id before it is logged."""
    with _client(make_searcher, corpus, tmp_path) as client:
        headers = {**HEADERS, "x-request-id": request_id}
        r = client.post("/v1/search", json={"query": "tote"}, headers=headers)
        assert r.status_code == 200 and r.headers["x-request-id"] != request_id
    assert request_id not in (tmp_path / "q.jsonl").read_text()
