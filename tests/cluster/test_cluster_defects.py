"""Issue 15, section 4, on a real OpenSearch (3.6.0 and 2.19.1): the version read from ``GET /``
and the native gate built on it, the RRF pipeline body per version, the stored script compiled
at bootstrap, and no refresh per batch on the batch paths.

The templates map Lucene (the Maven k-NN build has no faiss), whose radial search is right on
every version: these tests prove that the sidecar's gate keeps what a correct radial gate keeps
and that the cluster accepts its requests; which versions get it for faiss is decided by
``versions.radial_gate_flaw`` from the version read here (faiss itself: golden and unit tests).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from hybrid_search.backends.opensearch import stage
from hybrid_search.backends.opensearch.client import Request
from hybrid_search.backends.opensearch.versions import radial_gate_flaw
from hybrid_search.documents import parse_filters
from hybrid_search.errors import BackendError
from hybrid_search.ingest import index_documents
from hybrid_search.reembed import reembed
from tests.conftest import HashEmbedder

EMB = HashEmbedder()


class _Recording:
    """Keeps every request a backend sends (then passes it on)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.sent: list[Request] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def send(self, request: Request, **kwargs: Any) -> Any:
        self.sent.append(request)
        return self._client.send(request, **kwargs)


def _recorded(backend: Any) -> _Recording:
    backend.client = backend.bootstrapper.client = _Recording(backend.client)
    return backend.client  # type: ignore[no-any-return]


@pytest.fixture
def make_backend(make_cluster_backend) -> Iterator[Callable[..., Any]]:
    """``make_cluster_backend``, and each index version deleted by its name afterwards: its
    teardown deletes ``<alias>-v*``, which ``action.destructive_requires_name`` (true on both
    test clusters) refuses, so the indices would stay."""
    made: list[Any] = []

    def factory(**opensearch: Any) -> Any:
        made.append(make_cluster_backend(**opensearch))
        return made[-1]

    yield factory
    for backend in made:
        pattern = Request("GET", f"/{backend.names.pattern}/_alias")
        for index in backend.client.send(pattern, what="teardown", ignore=(404,)) or {}:
            if index.startswith(backend.names.alias):
                delete = Request("DELETE", f"/{index}")
                backend.client.send(delete, what="teardown", ignore=(404,))


def _ingest(backend: Any, docs: list[dict[str, Any]], **kwargs: Any) -> None:
    report = index_documents(
        ((f"doc {i}", d) for i, d in enumerate(docs)),
        template=backend.template,
        embedder=EMB,
        backend=backend,
        batch_size=7,
        **kwargs,
    )
    assert report.failed == [] and report.indexed == len(docs)


# ---------------------------------------------------------------------------- 2: the native gate
def test_the_cluster_version_comes_from_get_root(make_backend, opensearch_version):
    backend = make_backend()
    assert backend.bootstrapper.cluster_version() == opensearch_version
    # what the faiss templates get on this cluster (the shipped default engine)
    flaw = radial_gate_flaw("faiss", "cosinesimil", filtered=True, version=opensearch_version)
    assert (flaw is not None) == (opensearch_version < (3, 6, 0))
    flaw = radial_gate_flaw("faiss", "innerproduct", filtered=False, version=opensearch_version)
    assert (flaw is not None) == (opensearch_version < (3, 4, 0))


@pytest.mark.parametrize(("query", "tau"), [("a in by", 0.3), ("black calfskin tote", 0.2)])
def test_the_sidecar_gate_keeps_what_the_radial_gate_keeps(make_backend, corpus, query, tau):
    backend = make_backend(mode="native")
    _ingest(backend, corpus)
    backend.bootstrapper.run(model_id=EMB.model_id, dimension=384)
    filters = parse_filters({"in_stock": True}, backend.template)
    vec = EMB.encode_query(query)

    def fused() -> Any:
        return backend.native_fused(query, vec, window=40, filters=filters, min_vector_cosine=tau)

    radial = fused()  # Lucene: the server's radial min_score
    sent = _recorded(backend)
    backend.radial_flaw = lambda _filters: "forced for the test"
    gated = fused()
    assert len(sent.sent) == 2  # the knn probe, then the hybrid query
    clause = sent.sent[1].body["query"]["hybrid"]["queries"][1]["knn"]["embedding"]
    assert "min_score" not in clause and "ids" in clause["filter"]["bool"]["filter"][0]
    assert gated.keys == radial.keys
    assert gated.scores.tolist() == pytest.approx(radial.scores.tolist(), abs=1e-6)


def test_no_document_past_the_sidecar_gate_is_accepted_by_the_cluster(make_backend, corpus):
    backend = make_backend(mode="native")
    _ingest(backend, corpus)
    backend.bootstrapper.run(model_id=EMB.model_id, dimension=384)
    backend.radial_flaw = lambda _filters: "forced for the test"
    got = backend.native_fused(
        "a in by", EMB.encode_query("a in by"), window=20, filters=[], min_vector_cosine=0.999
    )
    assert got.keys == []  # no lexical match, no vector past the gate: an empty knn sub-query


# -------------------------------------------------------------------------- 3: the RRF pipeline
def _rrf_combination(backend: Any) -> dict[str, Any]:
    name = backend.names.rrf_pipeline
    got = backend.client.send(Request("GET", f"/_search/pipeline/{name}"))
    processor = got[name]["phase_results_processors"][0]["score-ranker-processor"]
    return dict(processor["combination"])


def test_the_weighted_rrf_pipeline_is_accepted_on_this_version(
    make_backend, corpus, opensearch_version, caplog
):
    search = {"combination": "rrf", "lexical_weight": 0.3, "vector_weight": 0.7}
    backend = make_backend(mode="native")
    backend.settings = backend.bootstrapper.settings = backend.settings.model_copy(
        update={"search": backend.settings.search.model_copy(update=search)}
    )
    _ingest(backend, corpus)
    with caplog.at_level(logging.WARNING):
        steps = backend.bootstrapper.run(model_id=EMB.model_id, dimension=384)
    rrf = next(s for s in steps if s.name == backend.names.rrf_pipeline)
    assert rrf.action == "unchanged", rrf  # installed (accepted) by the ingest's ensure_index
    combination = _rrf_combination(backend)
    warned = [r.getMessage() for r in caplog.records if "cannot weight RRF" in r.getMessage()]
    if opensearch_version >= (3, 1, 0):
        assert combination["parameters"] == {"weights": [0.3, 0.7]} and not warned
    else:
        assert combination["parameters"] == {"rank_constant": 60} and warned
    hits = backend.native_fused(
        "black calfskin tote",
        EMB.encode_query("black calfskin tote"),
        window=20,
        filters=[],
        min_vector_cosine=None,
        rrf=True,
    )
    assert hits.keys and (hits.scores >= 0).all()


def test_the_rank_constant_reaches_rrf_on_this_version(make_backend, corpus):
    """RRF's top score is at least 1/(rank_constant + 1): with 7 that is 0.125, far above what
    the default 60 allows (2/61), which an ignored rank_constant would give."""
    backend = make_backend(mode="native")
    search = backend.settings.search.model_copy(update={"combination": "rrf", "rank_constant": 7})
    backend.settings = backend.bootstrapper.settings = backend.settings.model_copy(
        update={"search": search}
    )
    _ingest(backend, corpus)
    backend.bootstrapper.run(model_id=EMB.model_id, dimension=384)
    query = "black calfskin tote"
    hits = backend.native_fused(
        query, EMB.encode_query(query), window=20, filters=[], min_vector_cosine=None, rrf=True
    )
    assert hits.scores[0] >= 1 / 8 - 1e-6 > 2 / 61


# ------------------------------------------------------------------------ 6: the stored script
def test_bootstrap_fails_on_a_script_that_does_not_compile(make_backend, monkeypatch):
    backend = make_backend()
    monkeypatch.setattr(stage, "commercial_script_source", lambda _t: "return doc[;")
    with pytest.raises(BackendError, match="compile error"):
        backend.bootstrapper.run(model_id=EMB.model_id, dimension=384)


def test_the_good_script_is_stored_in_the_score_context_idempotently(make_backend):
    backend = make_backend(commercial_script="stored")
    sent = _recorded(backend)
    steps = backend.bootstrapper.run(model_id=EMB.model_id, dimension=384)
    assert next(s for s in steps if s.kind == "script").action == "created"
    puts = [r.path for r in sent.sent if r.method == "PUT" and r.path.startswith("/_scripts/")]
    assert puts == [f"/_scripts/{backend.names.script}/score"]
    again = backend.bootstrapper.run(model_id=EMB.model_id, dimension=384)
    assert next(s for s in again if s.kind == "script").action == "unchanged"


# ------------------------------------------------------------------ 7: refresh on batch paths
def _bulk_refreshes(sent: _Recording) -> list[str]:
    return [r.params.get("refresh", "") for r in sent.sent if r.path == "/_bulk"]


def test_batch_ingest_refreshes_once_and_every_document_is_searchable(make_backend, corpus):
    backend = make_backend(bulk_docs=5)
    backend.ensure_index(model_id=EMB.model_id, dimension=384)
    sent = _recorded(backend)
    _ingest(backend, corpus)  # the CLI's ingest: index_documents without realtime
    assert len(_bulk_refreshes(sent)) > 1 and set(_bulk_refreshes(sent)) == {"false"}
    refreshes = [r.path for r in sent.sent if r.path.endswith("/_refresh")]
    assert refreshes == [f"/{backend.alias}/_refresh"] and sent.sent[-1].path == refreshes[0]
    assert backend.count() == len(corpus)


def test_the_realtime_path_waits_for_each_bulk(make_backend, corpus):
    backend = make_backend()
    backend.ensure_index(model_id=EMB.model_id, dimension=384)
    sent = _recorded(backend)
    _ingest(backend, corpus[:10], realtime=True)  # POST /v1/documents
    assert set(_bulk_refreshes(sent)) == {"wait_for"}
    assert not [r for r in sent.sent if r.path.endswith("/_refresh")]
    assert backend.count() == 10  # searchable when index() returned


def test_reindex_refreshes_the_new_version_once(make_backend, corpus):
    backend = make_backend()
    _ingest(backend, corpus)
    sent = _recorded(backend)
    report = reembed(backend, backend.template, EMB, batch_size=6)
    assert report.swapped and report.ingest.indexed == len(corpus)
    assert len(_bulk_refreshes(sent)) > 1 and set(_bulk_refreshes(sent)) == {"false"}
    assert [r.path for r in sent.sent if r.path.endswith("/_refresh")] == [
        f"/{report.new_version}/_refresh"
    ]
    assert backend.count() == len(corpus)
