"""Version-dependent behaviour (issue 15, section 4): the cluster version read from ``GET /``,
the native mode's radial gate where k-NN converts ``min_score`` wrongly, and the RRF pipeline
body per neural-search version."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from hybrid_search.backends.opensearch import admin
from hybrid_search.backends.opensearch.backend import OpenSearchBackend
from hybrid_search.backends.opensearch.bootstrap import Bootstrapper
from hybrid_search.backends.opensearch.client import Request
from hybrid_search.backends.opensearch.versions import bm25_scale, parse_version, radial_gate_flaw
from hybrid_search.config import load_settings
from hybrid_search.documents import parse_filters
from hybrid_search.templates import IndexTemplate, with_knn_engine
from tests.conftest import HashEmbedder
from tests.opensearch.stubs import StubClient, version_info

QUERY = "black leather tote"


def test_parse_version_reads_get_root():
    assert parse_version(version_info("2.19.1")) == (2, 19, 1)
    assert parse_version(version_info("3.6.0-SNAPSHOT")) == (3, 6, 0)
    assert parse_version({"tagline": "no version here"}) is None
    assert parse_version({"version": {"number": "x"}}) is None


@pytest.mark.parametrize(
    ("engine", "space", "filtered", "version", "flawed"),
    [
        # innerproduct: the graph's range search got the negated threshold before 3.4 (#2992)
        ("faiss", "innerproduct", False, (2, 19, 1), True),
        ("faiss", "innerproduct", False, (3, 3, 2), True),
        ("faiss", "innerproduct", False, (3, 4, 0), False),
        # the exact search under an efficient filter translated back wrongly before 3.6 (#3110)
        ("faiss", "innerproduct", True, (3, 5, 0), True),
        ("faiss", "innerproduct", True, (3, 6, 0), False),
        ("faiss", "cosinesimil", False, (2, 19, 1), False),
        ("faiss", "cosinesimil", True, (2, 19, 1), True),
        ("faiss", "cosinesimil", True, (3, 5, 0), True),
        ("faiss", "cosinesimil", True, (3, 6, 0), False),
        ("faiss", "l2", True, (2, 19, 1), False),
        # Lucene passes the score through as its similarity threshold: right everywhere
        ("lucene", "innerproduct", True, (2, 19, 1), False),
        ("lucene", "cosinesimil", True, (2, 19, 1), False),
        # unknown version: gate in the sidecar, which is right on every version
        ("faiss", "cosinesimil", True, None, True),
    ],
)
def test_radial_gate_flaw_by_engine_space_filter_and_version(
    engine, space, filtered, version, flawed
):
    reason = radial_gate_flaw(engine, space, filtered=filtered, version=version)
    assert (reason is not None) == flawed, reason


# ----------------------------------------------------------------------------------- native gate
def _backend(template: IndexTemplate, client: StubClient, **opensearch) -> OpenSearchBackend:
    settings = load_settings(backend="opensearch", opensearch={"mode": "native", **opensearch})
    return OpenSearchBackend(settings, template, client=client)


def _answers(number: str, probe: list[tuple[str, float]]) -> dict:
    def search(request: Request):
        if "search_pipeline" in request.params:  # the hybrid query
            return {"hits": {"hits": [{"_id": "a", "_score": 0.9}]}}
        return {"hits": {"hits": [{"_id": i, "_score": s} for i, s in probe]}}

    return {("GET", "/"): version_info(number), ("POST", "/products/_search"): search}


def _vector_clause(request: Request, field: str) -> dict:
    return request.body["query"]["hybrid"]["queries"][1]["knn"][field]


def _in_stock(template: IndexTemplate):
    return parse_filters({"in_stock": True}, template)


def test_faiss_cosine_with_a_filter_before_3_6_gates_in_the_sidecar(template, validator):
    client = StubClient(_answers("3.5.0", [("a", 0.95), ("b", 0.80), ("c", 0.79)]))
    backend = _backend(template, client)
    vec = HashEmbedder().encode_query(QUERY)
    fused = backend.native_fused(
        QUERY, vec, window=40, filters=_in_stock(template), min_vector_cosine=0.6
    )
    assert fused.keys == ["a"]
    assert client.paths() == ["/", "/products/_search", "/products/_search"]
    probe, hybrid = client.sent[1], client.sent[2]
    knn = probe.body["query"]["knn"]["embedding"]
    assert knn["k"] == 40 and "min_score" not in knn and probe.params == {}
    assert knn["filter"] == {"bool": {"filter": [{"term": {"in_stock": True}}]}}
    clause = _vector_clause(hybrid, "embedding")
    # min_score 0.8 <=> cos >= 0.6 (reference §1.3): a and b pass, c (0.79) does not
    assert "min_score" not in clause and clause["k"] == 2
    assert clause["filter"]["bool"]["filter"] == [
        {"ids": {"values": ["a", "b"]}},
        {"term": {"in_stock": True}},
    ]
    assert hybrid.params == {"search_pipeline": "products-hybrid-minmax"}
    for request in (probe, hybrid):
        assert validator.validate("search", request.body) == []


def test_no_document_past_the_sidecar_gate_leaves_the_knn_sub_query_empty(template, validator):
    client = StubClient(_answers("2.19.1", [("a", 0.7)]))
    backend = _backend(template, client)
    backend.native_fused(
        QUERY,
        HashEmbedder().encode_query(QUERY),
        window=10,
        filters=_in_stock(template),
        min_vector_cosine=0.6,
    )
    clause = _vector_clause(client.sent[-1], "embedding")
    assert clause["k"] == 1 and clause["filter"]["bool"]["filter"][0] == {"ids": {"values": []}}
    assert validator.validate("search", client.sent[-1].body) == []


def test_faiss_innerproduct_before_3_4_gates_in_the_sidecar_without_a_filter(template):
    ip = dataclasses.replace(
        template, vector=dataclasses.replace(template.vector, space_type="innerproduct")
    )
    # innerproduct min_score for dot >= 0.3 is 1.3 (reference §1.3)
    client = StubClient(_answers("3.3.2", [("a", 1.5), ("b", 1.3), ("c", 1.29)]))
    backend = _backend(ip, client)
    backend.native_fused(
        QUERY, HashEmbedder().encode_query(QUERY), window=10, filters=[], min_vector_cosine=0.3
    )
    clause = _vector_clause(client.sent[-1], "embedding")
    assert clause["filter"] == {"ids": {"values": ["a", "b"]}} and clause["k"] == 2


@pytest.mark.parametrize(
    ("engine", "number", "filtered"),
    [("faiss", "3.6.0", True), ("faiss", "2.19.1", False), ("lucene", "2.19.1", True)],
)
def test_a_correct_server_keeps_the_radial_gate(template, engine, number, filtered):
    tpl = with_knn_engine(template, engine)
    client = StubClient(_answers(number, []))
    backend = _backend(tpl, client)
    filters = _in_stock(tpl) if filtered else []
    vec = HashEmbedder().encode_query(QUERY)
    backend.native_fused(QUERY, vec, window=10, filters=filters, min_vector_cosine=0.6)
    clause = _vector_clause(client.sent[-1], "embedding")
    assert clause["min_score"] == pytest.approx(0.8) and "k" not in clause
    assert len(client.sent) == (2 if engine == "faiss" and filtered else 1)
    # no GET / where no version has the flaw (Lucene, unfiltered cosine)
    assert ("/" in client.paths()) == (engine == "faiss" and filtered)


def test_the_version_is_read_once_per_backend(template):
    client = StubClient(_answers("3.5.0", [("a", 0.9)]))
    backend = _backend(template, client)
    vec = HashEmbedder().encode_query(QUERY)
    for _ in range(3):
        backend.native_fused(
            QUERY, vec, window=10, filters=_in_stock(template), min_vector_cosine=0.6
        )
    assert client.paths().count("/") == 1


# ------------------------------------------------------------------------------------ RRF bodies
def _rrf(version, lexical_weight=0.3, vector_weight=0.7):
    search = load_settings(
        search={"lexical_weight": lexical_weight, "vector_weight": vector_weight}
    ).search
    bodies = admin.pipeline_bodies(search, admin.Names("products"), version=version)
    processor = bodies["products-hybrid-rrf"]["phase_results_processors"][0]
    return bodies, processor["score-ranker-processor"]["combination"]


@pytest.mark.parametrize("version", [(2, 19, 1), (3, 0, 0)])
def test_rrf_before_3_1_puts_rank_constant_in_parameters_and_no_weights(version, validator):
    bodies, combination = _rrf(version)
    assert combination == {"technique": "rrf", "parameters": {"rank_constant": 60}}
    for body in bodies.values():
        assert validator.validate("search_pipeline", body) == []


@pytest.mark.parametrize("version", [(3, 1, 0), (3, 6, 0), None])
def test_rrf_from_3_1_has_rank_constant_and_weights_in_combination(version, validator):
    bodies, combination = _rrf(version)
    assert combination == {
        "technique": "rrf",
        "rank_constant": 60,
        "parameters": {"weights": [0.3, 0.7]},
    }
    _, even = _rrf(version, 0.5, 0.5)
    assert even == {"technique": "rrf", "rank_constant": 60}
    for body in bodies.values():
        assert validator.validate("search_pipeline", body) == []


def test_bootstrap_on_2_19_installs_the_old_rrf_body_and_warns(template, caplog):
    settings = load_settings(
        backend="opensearch",
        opensearch={"mode": "native"},
        search={"lexical_weight": 0.3, "vector_weight": 0.7, "combination": "rrf"},
    )
    client = StubClient({("GET", "/"): version_info("2.19.1")})
    boot = Bootstrapper(client, template, settings)
    with caplog.at_level(logging.WARNING):
        boot.run(model_id="m", dimension=384)
    put = client.matching(lambda r: r.method == "PUT" and r.path.endswith("-hybrid-rrf"))
    combination = put[0].body["phase_results_processors"][0]["score-ranker-processor"]
    assert combination["combination"] == {"technique": "rrf", "parameters": {"rank_constant": 60}}
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("2.19.1" in m and "3.1" in m and "[0.3, 0.7]" in m for m in warned), warned


def test_bootstrap_on_3_6_installs_the_weighted_rrf_body_quietly(template, caplog):
    settings = load_settings(
        backend="opensearch", search={"lexical_weight": 0.3, "vector_weight": 0.7}
    )
    client = StubClient({("GET", "/"): version_info("3.6.0")})
    with caplog.at_level(logging.WARNING):
        Bootstrapper(client, template, settings).run(model_id="m", dimension=384)
    put = client.matching(lambda r: r.method == "PUT" and r.path.endswith("-hybrid-rrf"))
    combination = put[0].body["phase_results_processors"][0]["score-ranker-processor"]
    assert combination["combination"]["parameters"] == {"weights": [0.3, 0.7]}
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_writes_in_sidecar_mode_do_not_read_the_version(template):
    client = StubClient()
    settings = load_settings(backend="opensearch")
    Bootstrapper(client, template, settings).run(model_id="m", dimension=384, required_only=True)
    assert "/" not in client.paths()


@pytest.mark.parametrize(
    ("version", "scale"),
    [((2, 19, 1), 1 / 2.2), ((2, 11, 0), 1 / 2.2), ((3, 0, 0), 1.0), ((3, 6, 0), 1.0), (None, 1.0)],
)
def test_bm25_scale_undoes_the_legacy_k1_plus_one_factor_before_3_0(version, scale):
    # 2.x scores BM25 with LegacyBM25Similarity (x (k1 + 1)); 3.0 switched to Lucene's BM25
    assert bm25_scale(version) == pytest.approx(scale)
