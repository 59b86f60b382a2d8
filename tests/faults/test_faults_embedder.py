"""The embedder failing, hanging or answering garbage: searches answer lexically, flagged degraded,
within the timeout, and go back to hybrid by themselves once the model answers again.

Builds on ``tests/unit/test_searcher.py`` (a raising / slow embedder at the Searcher) and
``tests/api/test_api_contract.py`` (fallback on / off at the API): here the faults come and go
while the app keeps serving.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from fastapi.testclient import TestClient

from hybrid_search.api import create_app
from tests.conftest import HashEmbedder


class Switchable(HashEmbedder):
    """An embedder whose queries can be made to raise, hang or return NaN, and healed again."""

    def __init__(self) -> None:
        self.fault: str | None = None
        self.release = threading.Event()
        self.calls = 0

    def encode_query(self, text: str) -> np.ndarray:
        self.calls += 1
        if self.fault == "raise":
            raise RuntimeError("CUDA error: device-side assert triggered")
        if self.fault == "hang":
            self.release.wait(30)
        if self.fault == "nan":
            return np.full(self.dimension, np.nan, dtype=np.float32)
        return super().encode_query(text)


def _app(make_searcher, corpus, embedder, **overrides):
    searcher = make_searcher(corpus, embedder=embedder, **overrides)
    return TestClient(create_app(searcher.settings, searcher=searcher, warm_up=False))


def _search(client, query):
    r = client.post("/v1/search", json={"query": query, "mode": "hybrid"})
    assert r.status_code == 200, r.text
    return r.json()


def test_raising_embedder_degrades_then_recovers(make_searcher, corpus, caplog):
    emb = Switchable()
    with _app(make_searcher, corpus, emb) as client:
        assert _search(client, "black tote")["mode_used"] == "hybrid"
        emb.fault = "raise"
        with caplog.at_level(logging.WARNING, logger="hybrid_search.searcher"):
            body = _search(client, "navy clutch")
        assert body["mode_used"] == "lexical" and body["degraded"] == ["vector"]
        assert "embedder unavailable" in body["fallback_reason"]
        assert "CUDA error" in body["warnings"][0]
        assert body["hits"], "the lexical leg still answers"
        degraded_logs = [r for r in caplog.records if "degraded" in r.getMessage()]
        assert len(degraded_logs) == 1 and degraded_logs[0].levelno == logging.WARNING
        # A cached query vector keeps hybrid alive for queries seen before the fault.
        assert _search(client, "black tote")["degraded"] == []
        emb.fault = None
        healed = _search(client, "red ankle boots")
        assert healed["mode_used"] == "hybrid" and healed["degraded"] == []


def test_hung_embedder_answers_within_the_timeout_and_does_not_pile_up(make_searcher, corpus):
    emb = Switchable()
    timeout_s = 0.3
    with _app(make_searcher, corpus, emb, embedding={"timeout_s": timeout_s}) as client:
        _search(client, "warm-up")
        emb.fault = "hang"
        queries = [f"suede boots {i}" for i in range(12)]
        started = time.perf_counter()
        with ThreadPoolExecutor(6) as pool:
            bodies = list(pool.map(lambda q: _search(client, q), queries))
        elapsed = time.perf_counter() - started
        assert all(b["degraded"] == ["vector"] for b in bodies)
        assert all("took longer than 0.3 s" in b["fallback_reason"] for b in bodies)
        # 12 requests, 6 at a time, each waits at most the timeout (+ slack for a busy machine)
        assert elapsed < 2 * timeout_s + 5
        started_calls = emb.calls
        emb.fault = None
        emb.release.set()
        time.sleep(0.2)
        # Timed-out queries still queued behind the hung model were dropped, not run later.
        assert emb.calls == started_calls <= 1 + 2  # warm-up + the 2 embedding threads
        healed = _search(client, "calfskin clutch")
        assert healed["mode_used"] == "hybrid" and healed["degraded"] == []


def test_nan_vectors_from_the_model_never_reach_the_response(make_searcher, corpus):
    emb = Switchable()
    with _app(make_searcher, corpus, emb) as client:
        emb.fault = "nan"
        for mode in ("auto", "hybrid", "vector"):
            r = client.post("/v1/search", json={"query": "black tote", "mode": mode})
            assert r.status_code == 200, r.text
            json.loads(r.text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
            body = r.json()
            assert body["mode_used"] == "lexical" and body["hits"]
            assert body["degraded"] == ["vector"] and "NaN" in body["fallback_reason"]


def test_model_that_fails_to_load_is_retried_and_readiness_recovers(make_searcher, corpus):
    loads = {"n": 0}

    def factory():
        loads["n"] += 1
        if loads["n"] <= 3:  # warm-up, the first probe and the first search fail
            raise OSError("model files not mounted yet")
        return HashEmbedder()

    searcher = make_searcher(corpus)
    searcher._embedder_factory = factory
    with TestClient(create_app(searcher.settings, searcher=searcher)) as client:
        assert client.app.state.model.ready.wait(10)
        ready = client.get("/readyz")
        assert ready.status_code == 503 and "not mounted" in ready.text
        first = _search(client, "black tote")
        assert first["degraded"] == ["vector"] and "not mounted" in first["fallback_reason"]
        second = _search(client, "black tote")  # the files are there now: loaded, no restart
        assert second["mode_used"] == "hybrid" and second["degraded"] == []
        assert client.get("/readyz").status_code == 200
