"""Faults on a real OpenSearch node of our own (issue 15, section 3): killed, down, hung.

The node is not the cluster under test: these tests SIGKILL and SIGSTOP it, so they start
their own on port 9250 with ``scripts/opensearch-local.sh`` (fresh data; stopped and its data
deleted afterwards, whatever happened), of the same version as the cluster under test
(``HYBRID_SEARCH_TEST_OPENSEARCH_URL``). Without Java or Maven they skip, saying so; with
``HYBRID_SEARCH_REQUIRE_OPENSEARCH=1`` that is a failure.

They carry the ``faults`` marker and CI runs them once, in the main run on 3.6.0; the second
pass on 2.19.1 (``pytest -m "cluster and not faults"`` in ``.ci/run``) leaves them out, since a
node of their own costs two starts (~15 s each on a quiet machine; about a minute in all).
Locally, pointed at the 2.19.1 node, they run on a 2.19.1 node of their own.

- SIGKILL during a bulk load (the CLI's ingest path): every document is indexed on the node after
  the restart or in ``IngestReport.failed``; resending the failed ones completes the load.
- Node down (the killed node, before its restart): the API answers 503 ``backend_unavailable``
  naming the node, for searches and writes, ``/readyz`` 503, the CLI exits 3; once the node is
  back, the same app answers again, no restart.
- Hung node (SIGSTOP): a bounded 503. A timed-out request is not retried (unless
  ``retry_on_timeout``), so the bound is one ``timeout_s``: 2 s here, 10 s with the defaults.
  With ``retry_on_timeout`` it is ``(max_retries + 1) * timeout_s`` plus the jittered backoff
  between tries, each wait at most ``min(retry_max_wait_s, 0.05 * 2**try)``: with
  ``timeout_s=2, max_retries=1`` 4 s to 4.1 s (the second case of the test).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hybrid_search.api import create_app
from hybrid_search.cli import main
from hybrid_search.errors import HybridSearchError
from hybrid_search.ingest import index_documents
from hybrid_search.searcher import Searcher
from tests.cluster.test_cluster_reindex import products
from tests.conftest import (
    REPO,
    REQUIRE_OPENSEARCH_ENV,
    HashEmbedder,
    drop_alias,
    guard_cluster_client,
    searcher_with,
)

pytestmark = pytest.mark.faults

PORT = 9250
SCRIPT = REPO / "scripts" / "opensearch-local.sh"
# What the script says when a tool is missing (its `die` lines): a skip on a laptop.
_MISSING_TOOL = ("no JDK at", "mvn not found", "unzip not found", "curl not found")


@dataclass
class FaultNode:
    """One OpenSearch node on ``PORT`` driven through ``scripts/opensearch-local.sh``."""

    version: str
    url: str = f"http://127.0.0.1:{PORT}"
    starts: list[float] = field(default_factory=list)  # seconds each start took

    def script(self, command: str, timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "OS_PORT": str(PORT), "OS_VERSION": self.version}
        return subprocess.run(
            [str(SCRIPT), command],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )

    def start(self) -> None:
        started = time.monotonic()
        done = self.script("start")
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]  # the script's `die`
            msg = f"opensearch-local.sh start failed: {last}\n{done.stderr[-3000:]}"
            raise RuntimeError(msg)
        self.starts.append(time.monotonic() - started)

    def pid(self) -> int:
        """The node's java pid (``status`` prints ``running URL pid N OpenSearch V``)."""
        words = self.script("status", timeout_s=30).stdout.split()
        assert words[:1] == ["running"] and "pid" in words, words
        return int(words[words.index("pid") + 1])

    def running(self) -> bool:
        return self.script("status", timeout_s=30).returncode == 0

    def ensure_running(self) -> None:
        if not self.running():
            self.start()


@pytest.fixture(scope="module")
def fault_node(opensearch_version: tuple[int, int, int]) -> Iterator[FaultNode]:
    """A fresh node on port 9250 of the version under test; stopped and deleted afterwards."""
    node = FaultNode(".".join(str(p) for p in opensearch_version))
    node.script("reset", timeout_s=120)
    try:
        node.start()
    except RuntimeError as exc:
        reason = f"no OpenSearch node of our own on port {PORT} for the fault tests: {exc}"
        if (
            any(s in str(exc) for s in _MISSING_TOOL)
            and os.environ.get(REQUIRE_OPENSEARCH_ENV) != "1"
        ):
            pytest.skip(reason)
        pytest.fail(reason)
    try:
        yield node
    finally:
        # a test that failed while the node was stopped must not leave it frozen
        with contextlib.suppress(AssertionError, OSError, ValueError):
            os.kill(node.pid(), signal.SIGCONT)
        node.script("reset", timeout_s=120)


@pytest.fixture
def fault_searcher(
    fault_node: FaultNode, make_settings: Callable[..., Any], lucene_templates_dir: Path
) -> Iterator[Callable[..., Searcher]]:
    """``fault_searcher(**opensearch)`` -> a sidecar-mode Searcher (hash embedder) on a fresh
    alias of the fault node, its index created; what it installed is deleted if the node is up."""
    made: list[Searcher] = []

    def factory(**opensearch: Any) -> Searcher:
        fault_node.ensure_running()
        alias = f"hs-fault-{uuid.uuid4().hex[:12]}"
        settings = make_settings(
            backend="opensearch",
            templates_dir=lucene_templates_dir,
            opensearch={"url": fault_node.url, "index_alias": alias, **opensearch},
        )
        searcher = searcher_with(settings, HashEmbedder())
        guard_cluster_client(searcher.backend)
        searcher.backend.ensure_index(model_id=HashEmbedder.model_id, dimension=384)
        made.append(searcher)
        return searcher

    yield factory
    for searcher in made:
        try:
            fault_node.ensure_running()
            drop_alias(searcher.backend)
        except (HybridSearchError, RuntimeError):
            pass  # the module's teardown deletes the node's data anyway
        searcher.close()


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.load(resp)


def _ids_on(url: str, alias: str) -> list[str]:
    """Every document id behind the alias, after a refresh (the node replayed its translog)."""
    req = urllib.request.Request(f"{url}/{alias}/_refresh", method="POST")
    urllib.request.urlopen(req, timeout=60).close()
    body = json.dumps({"size": 10_000, "_source": False, "query": {"match_all": {}}}).encode()
    req = urllib.request.Request(
        f"{url}/{alias}/_search", data=body, headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        return [hit["_id"] for hit in json.load(resp)["hits"]["hits"]]


def _cli_env(monkeypatch: pytest.MonkeyPatch, searcher: Searcher, tmp_path: Path) -> None:
    cfg = searcher.settings.opensearch
    monkeypatch.setenv("HYBRID_SEARCH_BACKEND", "opensearch")
    monkeypatch.setenv("HYBRID_SEARCH_OPENSEARCH__URL", cfg.url)
    monkeypatch.setenv("HYBRID_SEARCH_OPENSEARCH__INDEX_ALIAS", cfg.index_alias)
    monkeypatch.setenv("HYBRID_SEARCH_TEMPLATES_DIR", str(searcher.settings.templates_dir))
    monkeypatch.setenv("HYBRID_SEARCH_EMBEDDED__DATA_DIR", str(tmp_path / "unused-embedded"))


def _wait_ready(client: TestClient, timeout_s: float = 30) -> None:
    """Until ``/readyz`` answers 200 (the model warm-up thread), for at most ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, client.get("/readyz").text
        time.sleep(0.1)


def test_node_killed_during_a_bulk_ingest_then_down_then_back(
    fault_node, fault_searcher, tmp_path, monkeypatch, capsys
):
    """One kill, one restart (a start costs ~20 s): (a) the load that the kill cuts accounts for
    every document; (b) while the node is down the API answers 503 and the CLI exits 3; after
    the restart nothing reported indexed is missing and the same app answers again."""
    searcher = fault_searcher(bulk_docs=1000)
    backend: Any = searcher.backend
    url, alias = fault_node.url, backend.alias
    _cli_env(monkeypatch, searcher, tmp_path)
    docs = products(5000)
    ids = [d["sku"] for d in docs]
    real_send = backend.client.send
    bulks: list[bool] = []  # per _bulk: answered (True) or failed
    killed = threading.Event()

    def kill() -> None:
        os.kill(fault_node.pid(), signal.SIGKILL)
        killed.set()

    def send(request: Any, **kw: Any) -> Any:
        if request.path != "/_bulk":
            return real_send(request, **kw)
        if len(bulks) == 2:  # the third _bulk: the node dies while it indexes it
            threading.Timer(0.1, kill).start()
        try:
            resp = real_send(request, **kw)
        except HybridSearchError:
            bulks.append(False)
            raise
        bulks.append(True)
        return resp

    with TestClient(create_app(searcher.settings, searcher=searcher)) as client:
        _wait_ready(client)
        backend.client.send = send  # the bootstrapper holds the same client object
        try:
            report = index_documents(  # the CLI's ingest path: bulk mode, one refresh at the end
                ((f"line {i}", d) for i, d in enumerate(docs, 1)),
                template=searcher.template,
                embedder=HashEmbedder(),
                backend=backend,
                batch_size=1000,
            )
        finally:
            backend.client.send = real_send
        # (a) before the restart: the report accounts for every document.
        assert killed.is_set(), "the node was not killed"
        assert bulks[:2] == [True, True] and False in bulks, bulks
        failed = [doc_id for doc_id, _ in report.failed]
        assert len(set(failed)) == len(failed) and set(failed) <= set(ids)
        assert report.indexed + len(failed) == len(docs), "every document accounted for"
        assert 2000 <= report.indexed <= 4000, report.indexed
        assert all("is unreachable during bulk" in why for _, why in report.failed), report.failed

        # (b) the node is down: a 503 that names it, for reads and writes; the CLI exits 3.
        r = client.post("/v1/search", json={"query": "calfskin tote no. 7", "k": 5})
        assert r.status_code == 503, r.text
        error = r.json()["error"]
        assert error["type"] == "backend_unavailable" and error["detail"]["request_id"]
        # (the step named is the search's first request: the alias check on a first search)
        assert error["message"].startswith(f"OpenSearch at {url} is unreachable during ")
        assert "ConnectionError" in error["message"] and "Connection refused" in error["message"]
        w = client.post("/v1/documents", json={"documents": docs[:1]})
        assert w.status_code == 503 and w.json()["error"]["type"] == "backend_unavailable", w.text
        health = client.get("/healthz")
        assert health.status_code == 200 and health.json()["backend"]["ok"] is False
        ready = client.get("/readyz")
        assert ready.status_code == 503, ready.text
        assert f"index: OpenSearch at {url} is unreachable" in ready.json()["error"]["message"]
        capsys.readouterr()
        assert main(["search", "calfskin tote no. 7", "--mode", "lexical"]) == 3
        assert f"error: OpenSearch at {url} is unreachable during lexical leg" in (
            capsys.readouterr().err
        )

        fault_node.start()  # the restart replays the translog
        # (a) after the restart: none of the documents reported indexed is missing.
        on_node = _ids_on(url, alias)
        assert len(on_node) == len(set(on_node)) and set(on_node) <= set(ids)
        lost = (set(ids) - set(failed)) - set(on_node)
        assert lost == set(), f"{len(lost)} documents reported indexed are not on the node"
        # Documents of the cut _bulk may have landed before the kill: reported failed, yet there.
        landed_anyway = set(failed) & set(on_node)
        assert len(on_node) == report.indexed + len(landed_anyway)

        # (b) the same app and Searcher, no restart: searches, writes and readiness come back.
        r = client.post("/v1/search", json={"query": "calfskin tote no. 7", "k": 5})
        assert r.status_code == 200, r.text
        assert r.json()["hits"][0]["id"] == ids[7] and r.json()["degraded"] == []
        w = client.post("/v1/documents", json={"documents": docs[:1]})
        assert w.status_code == 200 and w.json()["indexed"] == 1, w.text
        assert client.get("/healthz").json()["backend"]["ok"] is True
        assert client.get("/readyz").status_code == 200
    capsys.readouterr()
    assert main(["search", "calfskin tote no. 7", "--mode", "lexical", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["hits"][0]["id"] == ids[7]

    # Resending the failed ones (upserts, idempotent) completes the load: exactly 5,000.
    again = index_documents(
        ((doc_id, d) for doc_id, d in zip(ids, docs, strict=True) if doc_id in set(failed)),
        template=searcher.template,
        embedder=HashEmbedder(),
        backend=backend,
        batch_size=1000,
    )
    assert (again.indexed, again.failed) == (len(failed), [])
    assert _get(f"{url}/{alias}/_count")["count"] == len(docs)


QUERY = {"query": "black calfskin tote", "k": 5}


@pytest.mark.parametrize("retry_on_timeout", [False, True])
def test_a_hung_node_gives_a_bounded_503_then_answers_again(
    fault_node, fault_searcher, corpus, retry_on_timeout
):
    timeout_s, max_retries, max_wait_s = 2.0, 1, 0.5
    searcher = fault_searcher(
        timeout_s=timeout_s,
        max_retries=max_retries,
        retry_max_wait_s=max_wait_s,
        retry_on_timeout=retry_on_timeout,
    )
    attempts = max_retries + 1 if retry_on_timeout else 1
    # tenacity's wait_random_exponential(multiplier=0.05, max=retry_max_wait_s) before try n+1
    backoff = sum(min(max_wait_s, 0.05 * 2**n) for n in range(1, attempts))
    bound = attempts * timeout_s + backoff
    with TestClient(create_app(searcher.settings, searcher=searcher)) as client:
        r = client.post("/v1/documents", json={"documents": corpus})
        assert r.status_code == 200 and r.json()["indexed"] == len(corpus), r.text
        before = client.post("/v1/search", json=QUERY).json()
        pid = fault_node.pid()
        os.kill(pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            r = client.post("/v1/search", json=QUERY)
            elapsed = time.monotonic() - started
        finally:
            os.kill(pid, signal.SIGCONT)
        assert r.status_code == 503, r.text
        error = r.json()["error"]
        assert error["type"] == "backend_unavailable"
        assert error["message"].startswith(
            f"OpenSearch at {fault_node.url} did not answer _msearch legs within 2 s "
            "(HYBRID_SEARCH_OPENSEARCH__TIMEOUT_S)"
            + (", 2 tries (HYBRID_SEARCH_OPENSEARCH__MAX_RETRIES)" if retry_on_timeout else "")
            + ": ConnectionTimeout: "
        ), error["message"]
        assert "Read timed out" in error["message"]
        # Every try waited its full timeout, and no more than the bound (plus scheduling slack).
        assert attempts * timeout_s <= elapsed < bound + 1.5, (elapsed, bound)

        after = client.post("/v1/search", json=QUERY)
        assert after.status_code == 200, after.text
        assert [h["id"] for h in after.json()["hits"]] == [h["id"] for h in before["hits"]]
