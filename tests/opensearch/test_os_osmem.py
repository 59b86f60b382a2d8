"""The OpenSearch backend against osmem-server: bootstrap, bulk, _msearch, lexical leg, aliases,
reindex and the painless commercial stage, number for number with the numpy formula.

osmem does not run knn, hybrid, search pipelines or stored scripts; what needs them is asserted
to fail clearly here and is covered by the spec validation and the contract suite on a real cluster.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hybrid_search.backends.embedded import EmbeddedBackend
from hybrid_search.backends.opensearch.client import Request
from hybrid_search.backends.opensearch.queries import lexical_body, msearch_body
from hybrid_search.config import load_settings
from hybrid_search.documents import parse_date, parse_filters
from hybrid_search.errors import BackendError
from hybrid_search.ingest import index_documents
from hybrid_search.ranking.commercial import CommercialParams, commercial_terms
from hybrid_search.ranking.fusion import FusionResult
from hybrid_search.reembed import reembed
from tests.conftest import HashEmbedder, renamed
from tests.contract.test_embedded_backend import ALL_TEXT, DATE_FILTERS, FILTERS, matches

pytestmark = pytest.mark.integration
NOW = datetime(2026, 9, 20, 12, 30, tzinfo=timezone.utc)


def test_bootstrap_is_idempotent_and_says_what_osmem_lacks(osmem_backend):
    backend = osmem_backend()
    emb = HashEmbedder()
    first = {
        s.kind + ":" + s.name: s
        for s in backend.bootstrapper.run(model_id=emb.model_id, dimension=emb.dimension)
    }
    alias = backend.alias
    assert first[f"index_template:{alias}"].action == "created"
    assert first[f"create_index:{alias}-v1"].action == "created"
    for name in (f"search_pipeline:{alias}-hybrid-minmax", f"script:{alias}-commercial"):
        assert first[name].action == "skipped" and "no handler" in first[name].detail
    second = backend.bootstrapper.run(model_id=emb.model_id, dimension=emb.dimension)
    assert {s.action for s in second} <= {"unchanged", "skipped"}
    got = backend.client.send(Request("GET", f"/_alias/{alias}"))
    assert list(got) == [f"{alias}-v1"]
    assert backend.info().model_id == emb.model_id and backend.count() == 0


def test_bootstrap_reports_a_stale_index_after_a_template_edit(osmem_backend, template):
    backend = osmem_backend()
    backend.bootstrapper.run(model_id="m", dimension=384)
    object.__setattr__(backend.bootstrapper, "template", _edited(template))
    steps = {s.kind: s for s in backend.bootstrapper.run(model_id="m", dimension=384)}
    assert steps["index_template"].action == "updated"
    assert steps["create_index"].action == "stale" and "reindex" in steps["create_index"].detail


def _edited(template: Any) -> Any:
    import copy

    edited = copy.copy(template)
    object.__setattr__(edited, "digest", "0000000000000000")
    return edited


def test_bulk_collects_every_item_error(osmem_backend, corpus):
    backend = osmem_backend()
    backend.ensure_index(model_id="m", dimension=384)
    docs = [
        corpus[0],
        {**corpus[1], "price": "not a number"},  # the cluster refuses it, not the sidecar
        {**corpus[2], "colour": "red"},  # strict mapping
        corpus[3],
        corpus[4],
    ]
    vectors = HashEmbedder().encode_documents([d["title"] for d in docs])
    vectors[4] = 0.0  # refused before the request: cosinesimil cannot take a zero vector
    report = backend.index(docs, vectors)
    assert report.indexed == 2
    reasons = dict(report.failed)
    assert sorted(reasons) == sorted(d["sku"] for d in docs[1:3] + docs[4:])
    assert "mapper_parsing_exception" in reasons[corpus[1]["sku"]]
    assert "strict_dynamic_mapping_exception" in reasons[corpus[2]["sku"]]
    assert "zeros" in reasons[corpus[4]["sku"]]
    assert backend.count() == 2


def test_small_bulk_batches_lose_nothing(osmem_backend, corpus):
    backend = osmem_backend(bulk_docs=7)
    report = index_documents(
        ((str(i), d) for i, d in enumerate(corpus)),
        template=backend.template,
        embedder=HashEmbedder(),
        backend=backend,
    )
    assert report.indexed == len(corpus) and report.failed == []
    assert backend.count() == len(corpus)


@pytest.mark.parametrize(
    "filters", [*FILTERS.values(), *DATE_FILTERS.values()], ids=[*FILTERS, *DATE_FILTERS]
)
def test_lexical_leg_filters_match_brute_force(loaded_backend, corpus, filters):
    clauses = parse_filters(filters, loaded_backend.template)
    hits = loaded_backend.lexical(ALL_TEXT, k=100, filters=clauses)
    assert {h.key for h in hits} == {d["sku"] for d in corpus if matches(d, filters)}
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


@pytest.fixture
def embedded_twin(loaded_backend, corpus, tmp_path) -> Iterator[EmbeddedBackend]:
    """The embedded engine over the same template and corpus as ``loaded_backend``."""
    embedded = EmbeddedBackend(tmp_path, loaded_backend.template, load_settings().embedded)
    try:
        index_documents(
            ((str(i), d) for i, d in enumerate(corpus)),
            template=embedded.template,
            embedder=HashEmbedder(),
            backend=embedded,
        )
        yield embedded
    finally:
        embedded.close()


@pytest.mark.parametrize(
    "query", ["black tote", "suede ankle boots", "T-BAG-001", "gold watch made by hand"]
)
def test_lexical_leg_ranks_like_the_embedded_engine(loaded_backend, embedded_twin, query):
    mine = embedded_twin.lexical(query, k=5, filters=[])
    ids = [sku for sku, _ in embedded_twin.fetch([h.key for h in mine]).values()]
    theirs = loaded_backend.lexical(query, k=5, filters=[])
    # BM25 scales differ between engines; the top-5 sets and the best hit agree.
    assert {h.key for h in theirs} == set(ids)
    assert theirs[0].key == ids[0]


def test_fuzzy_lexical_finds_typos(loaded_backend):
    assert loaded_backend.lexical("calfskn clutchh", k=5, filters=[]) == []
    fuzzy = loaded_backend.lexical("calfskn clutchh", k=5, filters=[], fuzzy=True)
    assert fuzzy and fuzzy[0].key in {"T-BAG-001", "T-BAG-009", "T-BAG-017", "T-BAG-025"}


def test_msearch_answers_every_body_in_one_round_trip(loaded_backend):
    template = loaded_backend.template
    bodies = [lexical_body(q, template, k=5) for q in ("black tote", "navy clutch")]
    req = Request("POST", "/_msearch", msearch_body(loaded_backend.alias, bodies))
    responses = loaded_backend.client.send(req)["responses"]
    for query, resp in zip(("black tote", "navy clutch"), responses, strict=True):
        alone = loaded_backend.lexical(query, k=5, filters=[])
        assert [h["_id"] for h in resp["hits"]["hits"]] == [h.key for h in alone]


def test_legs_name_the_failing_leg_when_knn_is_missing(loaded_backend):
    vec = HashEmbedder().encode_query("black tote")
    legs = loaded_backend.legs("black tote", vec, k=10, filters=[])
    assert isinstance(legs.vector_error, BackendError)
    assert re.search(r"vector leg failed in _msearch: .*knn", str(legs.vector_error))
    assert legs.lexical == loaded_backend.lexical("black tote", k=10, filters=[])
    assert legs.vector == []


def test_get_fetch_vector_of_delete(loaded_backend, corpus):
    backend, emb = loaded_backend, HashEmbedder()
    assert backend.get("T-BAG-000") == corpus[0]
    expected = emb.encode_documents(
        [
            __import__("hybrid_search.documents").documents.embedding_text(
                corpus[0], backend.template
            )
        ]
    )[0]
    np.testing.assert_allclose(backend.vector_of("T-BAG-000"), expected, rtol=1e-6, atol=1e-7)
    assert backend.vector_of("NOPE") is None and backend.get("NOPE") is None
    found = backend.fetch(["T-BAG-000", "NOPE"])
    assert list(found) == ["T-BAG-000"] and found["T-BAG-000"][0] == "T-BAG-000"
    assert backend.delete(["T-BAG-000", "NOPE", "T-BAG-000"]) == 1
    assert backend.count() == len(corpus) - 1 and backend.get("T-BAG-000") is None
    assert backend.delete([]) == 0


def _numpy_reference(corpus, ids, fused, params):
    by_id = {d["sku"]: d for d in corpus}

    def col(field: str) -> np.ndarray:
        out = []
        for i in ids:
            value = by_id[i].get(field)
            if value is None:
                out.append(np.nan)
            elif field == "inventory_received_at":
                out.append((NOW.timestamp() - parse_date(value, field).timestamp()) / 86400)
            else:
                out.append(float(value))
        return np.array(out)

    return commercial_terms(
        fused, col("margin"), col("inventory_received_at"), col("popularity"), params
    )


PARAMS = {
    "defaults": CommercialParams(),
    "heavy": CommercialParams(
        relevance_weight=0.5, margin_weight=2.0, freshness_weight=1.5, freshness_tau_days=7.0
    ),
    "negative-popularity": CommercialParams(popularity_weight=-0.4, popularity_damping=3.0),
    "no-damping": CommercialParams(popularity_weight=0.3, popularity_damping=0.0),
    "fixed-max-margin": CommercialParams(max_margin=0.3, margin_weight=1.0),
}


@pytest.mark.parametrize("params", list(PARAMS.values()), ids=list(PARAMS))
def test_painless_stage_equals_numpy_number_for_number(loaded_backend, corpus, params):
    rng = np.random.default_rng(3)
    ids = [d["sku"] for d in corpus]
    assert any("margin" not in d for d in corpus), "a document without the fields is covered"
    fused_scores = np.sort(rng.uniform(0.001, 1.0, size=len(ids)))[::-1]
    nan = np.full((len(ids), 2), np.nan)
    fused = FusionResult(list(ids), fused_scores, nan, nan)
    got = loaded_backend.rerank(fused, params, now=NOW)
    want = _numpy_reference(corpus, ids, fused_scores, params)
    # _score and the script result are float32 inside OpenSearch
    np.testing.assert_allclose(got.total, want.total, rtol=2e-6, atol=2e-6)
    for term in ("relevance", "margin", "freshness", "popularity"):
        np.testing.assert_allclose(getattr(got, term), getattr(want, term), rtol=1e-9)
    assert got.max_margin == pytest.approx(want.max_margin)
    assert got.order().tolist() == want.order().tolist()


def test_painless_stage_equals_the_embedded_backend(loaded_backend, embedded_twin):
    rows = embedded_twin.lexical(ALL_TEXT, k=100, filters=[])
    skus = {k: v[0] for k, v in embedded_twin.fetch([h.key for h in rows]).items()}
    scores = np.linspace(1.0, 0.01, len(rows))
    nan = np.full((len(rows), 2), np.nan)
    params = CommercialParams(popularity_weight=0.2, margin_weight=0.5)
    mine = embedded_twin.rerank(
        FusionResult([h.key for h in rows], scores, nan, nan), params, now=NOW
    )
    ids = [skus[h.key] for h in rows]
    theirs = loaded_backend.rerank(FusionResult(ids, scores, nan, nan), params, now=NOW)
    np.testing.assert_allclose(theirs.total, mine.total, rtol=2e-6, atol=2e-6)


def test_searcher_end_to_end_on_osmem_lexical_mode(loaded_backend, make_settings):
    from hybrid_search.searcher import Searcher

    settings = loaded_backend.settings
    searcher = Searcher(settings, loaded_backend.template, loaded_backend, lambda: HashEmbedder())
    resp = searcher.search({"query": "black tote", "mode": "lexical", "k": 3, "explain": True})
    assert resp.mode_used == "lexical" and len(resp.hits) == 3
    assert resp.hits[0]["source"]["sku"] == resp.hits[0]["id"]
    breakdown = resp.hits[0]["breakdown"]
    parts = breakdown["relevance"] + breakdown["margin"] + breakdown["freshness"]
    assert resp.hits[0]["score"] == pytest.approx(parts + breakdown["popularity"], rel=2e-6)
    searcher.close()


def test_reindex_swaps_the_alias_atomically_and_keeps_the_old(loaded_backend, corpus):
    backend, emb = loaded_backend, HashEmbedder()
    report = reembed(backend, backend.template, renamed(emb, "other/model"), batch_size=7)
    alias = backend.alias
    assert report.swapped and report.source_count == len(corpus) and report.ingest.failed == []
    assert (report.old_version, report.new_version) == (f"{alias}-v1", f"{alias}-v2")
    assert list(backend.client.send(Request("GET", f"/_alias/{alias}"))) == [f"{alias}-v2"]
    assert backend.info().model_id == "other/model" and backend.count() == len(corpus)
    old = backend.client.send(Request("GET", f"/{alias}-v1/_count"))["count"]
    assert old == len(corpus)
    again = reembed(backend, backend.template, renamed(emb, "m2"), drop_old=True)
    assert again.new_version == f"{alias}-v3" and again.dropped_old
    gone = backend.client.send(Request("GET", f"/{alias}-v2"), ignore=(404,))
    assert gone.get("status") == 404


def test_reindex_does_not_move_the_alias_when_a_document_is_lost(loaded_backend):
    backend = loaded_backend
    raw = {"sku": "NO-TITLE", "price": 5.0}  # written behind the sidecar's back: not valid
    backend.client.send(
        Request("PUT", f"/{backend.alias}-v1/_doc/NO-TITLE", raw, {"refresh": "true"})
    )
    report = reembed(backend, backend.template, renamed(HashEmbedder(), "m"))
    assert not report.swapped and [i for i, _ in report.ingest.failed] == ["NO-TITLE"]
    assert list(backend.client.send(Request("GET", f"/_alias/{backend.alias}"))) == [
        f"{backend.alias}-v1"
    ]


def test_cli_bootstrap_and_reindex_on_osmem(osmem, monkeypatch, capsys, tmp_path):
    import uuid

    import hybrid_search.embedding as embedding
    from hybrid_search.cli import main

    monkeypatch.setattr(embedding, "create_embedder", lambda _cfg: HashEmbedder())
    alias = f"hs-cli-{uuid.uuid4().hex[:8]}"
    args = ["opensearch", "bootstrap", "--url", osmem.url, "--alias", alias]
    assert main(args) == 0
    assert "created" in capsys.readouterr().out
    assert main(args) == 0
    assert "created" not in capsys.readouterr().out
    reindex = ["opensearch", "reindex", "--url", osmem.url, "--alias", alias, "--drop-old"]
    assert main(reindex) == 0
    assert f"alias {alias} -> {alias}-v2, {alias}-v1 deleted" in capsys.readouterr().out
    # The one verb for both backends: `reembed` moves the alias on again.
    monkeypatch.setenv("HYBRID_SEARCH_BACKEND", "opensearch")
    monkeypatch.setenv("HYBRID_SEARCH_OPENSEARCH__URL", osmem.url)
    monkeypatch.setenv("HYBRID_SEARCH_OPENSEARCH__INDEX_ALIAS", alias)
    assert main(["reembed", "--drop-old"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["old_version"], out["version"], out["swapped"]) == (
        f"{alias}-v2",
        f"{alias}-v3",
        True,
    )
    assert out["dropped_old"] and out["documents"] == out["indexed"]
    osmem.request("DELETE", f"/{alias}-v*")


def test_plan_files_round_trip_to_osmem_where_supported(osmem, tmp_path, template):
    from hybrid_search.backends.opensearch.plan import build_plan, write_plan

    settings = load_settings(backend="opensearch", opensearch={"index_alias": "hs-plan"})
    emb = HashEmbedder()
    plan = build_plan(
        settings, template, query="tote", embedding=emb.encode_query("tote"), model_id=emb.model_id
    )
    paths = write_plan(plan, tmp_path)
    item = json.loads(Path(paths[0]).read_text())
    assert item["method"] == "PUT" and item["path"] == "/_index_template/hs-plan"
    osmem.request(item["method"], item["path"], item["body"])  # the template file is real
    create = next(json.loads(p.read_text()) for p in paths if "create_index" in p.name)
    osmem.request(create["method"], create["path"], create["body"])
    assert osmem.request("GET", "/_alias/hs-plan") == {"hs-plan-v1": {"aliases": {"hs-plan": {}}}}
    osmem.request("DELETE", "/hs-plan-v1")


def test_a_large_window_is_scored_in_chunks_in_one_msearch(loaded_backend, corpus, monkeypatch):
    import hybrid_search.backends.opensearch.commercial as module

    monkeypatch.setattr(module, "STAGE_CHUNK", 7)  # 40 candidates -> 6 script_score bodies
    ids = [d["sku"] for d in corpus]
    scores = np.linspace(1.0, 0.001, len(ids))
    nan = np.full((len(ids), 2), np.nan)
    params = CommercialParams(popularity_weight=-0.2)
    _, stage = loaded_backend.rerank_requests(
        ids, scores.tolist(), params, now=NOW, max_margin=0.5, max_popularity=10.0
    )
    assert stage.path == "/_msearch" and len(stage.body) == 12
    got = loaded_backend.rerank(FusionResult(ids, scores, nan, nan), params, now=NOW)
    want = _numpy_reference(corpus, ids, scores, params)
    np.testing.assert_allclose(got.total, want.total, rtol=2e-6, atol=2e-6)


def test_native_mode_bootstrap_fails_without_its_pipeline(osmem_backend):
    backend = osmem_backend(mode="native")
    with pytest.raises(BackendError, match="hybrid-minmax"):
        backend.bootstrapper.run(model_id="m", dimension=384)


def test_every_body_sent_to_osmem_was_validated(loaded_backend, validator):
    vec = HashEmbedder().encode_query("tote")
    loaded_backend.lexical("tote", k=5, filters=[], fuzzy=True)
    assert loaded_backend.legs("tote", vec, k=5, filters=[]).vector_error is not None
    nan = np.full((2, 2), np.nan)
    loaded_backend.rerank(
        FusionResult(["T-BAG-000", "T-BAG-001"], np.array([1.0, 0.5]), nan, nan),
        CommercialParams(),
        now=NOW,
    )
    kinds = set(loaded_backend.client.kinds)
    assert kinds >= {"index_template", "create_index", "bulk", "search", "msearch"}
    # ingest's ensure_index installs only what sidecar mode needs: no pipelines, no stored script
    assert not kinds & {"search_pipeline", "script"}


def test_a_failing_knn_leg_degrades_to_lexical(loaded_backend):
    from hybrid_search.searcher import Searcher

    searcher = Searcher(
        loaded_backend.settings, loaded_backend.template, loaded_backend, HashEmbedder
    )
    resp = searcher.search({"query": "black tote", "k": 3})
    assert resp.mode_used == "lexical" and resp.degraded == ["vector"]
    assert "knn" in resp.fallback_reason and resp.hits[0]["id"] == "T-BAG-000"
    searcher.close()
    strict = load_settings(
        backend="opensearch",
        opensearch=loaded_backend.settings.opensearch.model_dump(),
        search={"fallback": "off"},
    )
    searcher = Searcher(strict, loaded_backend.template, loaded_backend, HashEmbedder)
    with pytest.raises(BackendError, match="vector leg failed"):
        searcher.search({"query": "black tote", "k": 3})
    searcher.close()


def test_vector_norms_for_the_magnitude_gate(loaded_backend):
    norms = loaded_backend.vector_norms(["T-BAG-000", "NOPE", "T-BAG-001"])
    assert norms[0] == pytest.approx(1.0, abs=1e-6)  # cosinesimil vectors are stored unit length
    assert norms[1] == np.inf and norms[2] == pytest.approx(1.0, abs=1e-6)
    assert loaded_backend.vector_norms([]).size == 0
