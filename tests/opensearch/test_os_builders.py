"""Golden tests of the pure query builders; every body is validated against the API spec."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hybrid_search.backends.opensearch import admin, queries, stage
from hybrid_search.config import SearchSettings
from hybrid_search.documents import parse_filters
from hybrid_search.errors import ConfigError, TemplateError

VEC = np.array([0.5, -0.25, 0.125, 1.0], dtype=np.float32)
FIELDS = [
    "sku.text^3",
    "title^3",
    "brand.text^2",
    "category.text^1.5",
    "attributes",
    "description",
    "color.text^1.5",
    "material.text^1.5",
]


def test_lexical_body_is_multi_match_best_fields_over_the_template(template, validator):
    body = queries.lexical_body("black tote", template, k=50)
    assert body == {
        "size": 50,
        "_source": False,
        "track_total_hits": False,
        "query": {"multi_match": {"query": "black tote", "fields": FIELDS, "type": "best_fields"}},
    }
    assert validator.validate("search", body) == []


def test_fuzzy_lexical_adds_fuzziness_auto(template, validator):
    body = queries.lexical_body("blak tote", template, k=5, fuzzy=True)
    match = body["query"]["multi_match"]
    assert (match["fuzziness"], match["prefix_length"], match["max_expansions"]) == ("AUTO", 1, 3)
    assert validator.validate("search", body) == []


def test_filters_become_one_bool_filter(template, validator):
    clauses = parse_filters(
        {
            "brand": "Vantier",
            "color": ["black", "navy"],
            "in_stock": True,
            "price": {"gt": 100, "lte": 900},
            "inventory_received_at": {"gte": "2026-03-03", "lte": "2026-06-06"},
        },
        template,
    )
    body = queries.lexical_body("tote", template, k=10, filters=clauses)
    assert body["query"] == {
        "bool": {
            "must": [{"multi_match": {"query": "tote", "fields": FIELDS, "type": "best_fields"}}],
            "filter": [
                {"term": {"brand": "vantier"}},
                {"terms": {"color": ["black", "navy"]}},
                {"term": {"in_stock": True}},
                {"range": {"price": {"gt": 100.0, "lte": 900.0}}},
                {
                    "range": {
                        "inventory_received_at": {
                            "gte": "2026-03-03T00:00:00.000Z",
                            # a date-only upper bound covers its whole day, as in OpenSearch
                            "lte": "2026-06-06T23:59:59.999Z",
                        }
                    }
                },
            ],
        }
    }
    assert validator.validate("search", body) == []


def test_point_filter_on_a_number_is_a_closed_range(template):
    clauses = parse_filters({"price": 650}, template)
    assert queries.filter_query(clauses) == {
        "bool": {"filter": [{"range": {"price": {"gte": 650.0, "lte": 650.0}}}]}
    }


def test_knn_body_has_efficient_filter_and_ef_search(template, validator):
    clauses = parse_filters({"in_stock": True}, template)
    body = queries.knn_body(VEC, template, k=100, filters=clauses, ef_search=256)
    assert body == {
        "size": 100,
        "_source": False,
        "track_total_hits": False,
        "query": {
            "knn": {
                "embedding": {
                    "vector": [0.5, -0.25, 0.125, 1.0],
                    "k": 100,
                    "filter": {"bool": {"filter": [{"term": {"in_stock": True}}]}},
                    "method_parameters": {"ef_search": 256},
                }
            }
        },
    }
    assert validator.validate("search", body) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({}, "exactly one"), ({"k": 5, "min_score": 0.5}, "exactly one"), ({"k": 10001}, "1..10000")],
)
def test_knn_query_refuses_bad_modes(template, kwargs, message):
    with pytest.raises(ValueError, match=message):
        queries.knn_query(VEC, template, **kwargs)


def test_msearch_body_pairs_headers_and_bodies(template, validator):
    lex = queries.lexical_body("tote", template, k=10)
    vec = queries.knn_body(VEC, template, k=10, ef_search=100)
    lines = queries.msearch_body("products", [lex, vec])
    assert lines == [{"index": "products"}, lex, {"index": "products"}, vec]
    assert validator.validate("msearch", lines) == []


def test_native_hybrid_body_radial_gate_and_pagination(template, validator):
    clauses = parse_filters({"brand": "Vantier"}, template)
    body = queries.hybrid_body(
        "tote",
        VEC,
        template,
        size=10,
        from_=20,
        window=200,
        filters=clauses,
        ef_search=200,
        min_vector_cosine=0.6,
    )
    hybrid = body["query"]["hybrid"]
    assert body["from"] == 20 and hybrid["pagination_depth"] == 200
    lexical, knn = hybrid["queries"]
    assert lexical["bool"]["filter"] == [{"term": {"brand": "vantier"}}]
    radial = knn["knn"]["embedding"]
    assert radial["min_score"] == pytest.approx(0.8)  # cos >= 0.6 on a cosinesimil field
    assert "k" not in radial and radial["filter"]["bool"]["filter"][0] == {
        "term": {"brand": "vantier"}
    }
    assert validator.validate("search", body) == []


def test_native_hybrid_without_gate_uses_top_k(template, validator):
    body = queries.hybrid_body("tote", VEC, template, size=10, window=150)
    assert body["query"]["hybrid"]["queries"][1]["knn"]["embedding"]["k"] == 150
    assert validator.validate("search", body) == []


def test_commercial_stage_body_carries_fused_scores(template, validator):
    source = stage.commercial_script_source(template)
    params = {"a": 1.0, "b": 0.1, "c": 0.05, "d": 0.05, "damping": 1.0, "max_margin": 0.5}
    params |= {"pop_denominator": 2.0, "tau_days": 90.0, "now_s": 1.79e9, "shift": 0.0}
    body = stage.commercial_stage_body(["a", "b"], [0.9, 0.25], template, params, source=source)
    should = body["query"]["script_score"]["query"]["bool"]["should"]
    assert should == [
        {"constant_score": {"filter": {"ids": {"values": ["a"]}}, "boost": 0.9}},
        {"constant_score": {"filter": {"ids": {"values": ["b"]}}, "boost": 0.25}},
    ]
    script = body["query"]["script_score"]["script"]
    assert script["lang"] == "painless" and script["params"] == params
    assert all(isinstance(v, float) for v in script["params"].values()), "scalar params only"
    assert body["_source"] == {"includes": ["inventory_received_at", "margin", "popularity"]}
    assert validator.validate("search", body) == []
    stored = stage.commercial_stage_body(["a"], [1.0], template, params, script_id="x")
    assert stored["query"]["script_score"]["script"] == {"params": params, "id": "x"}
    assert validator.validate("search", stored) == []


def test_painless_source_names_the_template_fields(template):
    source = stage.commercial_script_source(template)
    assert "doc['margin']" in source and "doc['inventory_received_at']" in source
    assert "{{" not in source and "//" not in source


def test_painless_source_needs_every_role(template):
    broken = copy.copy(template)
    object.__setattr__(broken, "commercial_fields", {"margin": "margin"})
    with pytest.raises(TemplateError, match="received_at"):
        stage.commercial_script_source(broken)


def test_commercial_stats_body(template, validator):
    body = stage.commercial_stats_body(["a", "b"], template)
    assert body["aggs"] == {
        "max_margin": {"max": {"field": "margin"}},
        "max_popularity": {"max": {"field": "popularity"}},
    }
    assert validator.validate("search", body) == []


def test_negative_popularity_weight_is_shifted_non_negative():
    from datetime import datetime, timezone

    from hybrid_search.ranking.commercial import CommercialParams

    now = datetime(2026, 9, 1, tzinfo=timezone.utc)
    p = stage.commercial_params(
        CommercialParams(popularity_weight=-0.3), now=now, max_margin=0.5, max_popularity=0.0
    )
    assert p["shift"] == 0.3 and p["pop_denominator"] == 0.0 and p["now_s"] == now.timestamp()


def test_template_index_script_and_alias_bodies(template, validator):
    names = admin.Names("products")
    body = admin.template_body(template, names)
    assert body["index_patterns"] == ["products-v*"]
    assert body["_meta"]["hybrid_search_digest"] == template.digest
    assert validator.validate("index_template", body) == []
    index = admin.create_index_body(template, model_id="m", dimension=384, alias="products")
    assert index["aliases"] == {"products": {}}
    assert index["mappings"]["_meta"]["hybrid_search"] == {
        "model_id": "m",
        "dimension": 384,
        "template": "products",
        "template_digest": template.digest,
        "space_type": "cosinesimil",
    }
    assert index["mappings"]["properties"] == template.body["template"]["mappings"]["properties"]
    assert validator.validate("create_index", index) == []
    script = admin.script_body(stage.commercial_script_source(template))
    assert validator.validate("script", script) == []
    swap = admin.alias_swap_body("products", "products-v4", "products-v3")
    assert swap == {
        "actions": [
            {"remove": {"index": "products-v3", "alias": "products"}},
            {"add": {"index": "products-v4", "alias": "products"}},
        ]
    }
    assert names.version_of("products-v12") == 12 and names.version_of("products-x") is None


def test_pipelines_have_float_weights_summing_to_one(validator):
    names = admin.Names("products")
    bodies = admin.pipeline_bodies(SearchSettings(lexical_weight=1, vector_weight=0), names)
    minmax = bodies["products-hybrid-minmax"]["phase_results_processors"][0]
    weights = minmax["normalization-processor"]["combination"]["parameters"]["weights"]
    assert weights == [1.0, 0.0] and all(isinstance(w, float) for w in weights)
    rrf = bodies["products-hybrid-rrf"]["phase_results_processors"][0]["score-ranker-processor"]
    assert rrf["combination"]["rank_constant"] == 60
    for body in bodies.values():
        assert validator.validate("search_pipeline", body) == []
    even = admin.pipeline_bodies(SearchSettings(lexical_weight=0.5, vector_weight=0.5), names)
    rrf_even = even["products-hybrid-rrf"]["phase_results_processors"][0]
    assert "parameters" not in rrf_even["score-ranker-processor"]["combination"]  # 2.19-3.0 too


def test_z_score_needs_arithmetic_mean():
    settings = SearchSettings(normalization="z_score", combination="geometric_mean")
    with pytest.raises(ConfigError, match="arithmetic_mean"):
        admin.pipeline_bodies(settings, admin.Names("p"))


def test_bulk_lines_are_valid(template, validator, corpus):
    vectors = np.ones((2, 384), dtype=np.float32)
    lines = admin.bulk_index_lines("products-v1", corpus[:2], vectors, template)
    assert lines[0] == {"index": {"_index": "products-v1", "_id": "T-BAG-000"}}
    assert lines[1]["embedding"][:2] == [1.0, 1.0] and lines[1]["sku"] == "T-BAG-000"
    deletes = admin.bulk_delete_lines("products", ["a"])
    assert validator.validate("bulk", lines + deletes) == []


MALFORMED: list[tuple[str, Any, str]] = [
    ("k as a string", lambda b: b["query"]["knn"]["embedding"].update(k="50"), "k"),
    ("ef_search misplaced", lambda b: b["query"]["knn"]["embedding"].update(ef_search=5), "ef"),
    ("vector missing", lambda b: b["query"]["knn"]["embedding"].pop("vector"), "vector"),
    ("size negative-ish", lambda b: b.update(size="ten"), "size"),
]


@pytest.mark.parametrize(("label", "mutate", "needle"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_a_malformed_body_fails_validation(template, validator, label, mutate, needle):
    body = queries.knn_body(VEC, template, k=10, ef_search=100)
    mutate(body)
    errors = validator.validate("search", body)
    assert errors and any(needle in e for e in errors), errors


TEMPLATE_NAMES = sorted(
    p.stem for p in (Path(__file__).resolve().parents[2] / "index_templates").glob("*.json")
)


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_every_bundled_template_plans_valid_bodies(name, validator):
    from hybrid_search.backends.opensearch.plan import build_plan
    from hybrid_search.config import load_settings
    from hybrid_search.templates import load_template
    from tests.conftest import HashEmbedder

    template = load_template(name)
    emb = HashEmbedder()
    vec = emb.encode_query("black tote")[: template.vector.dimension]
    plan = build_plan(
        load_settings(backend="opensearch"),
        template,
        query="black tote",
        embedding=vec,
        model_id=emb.model_id,
        filters={"in_stock": True} if "in_stock" in template.filter_fields else None,
    )
    assert len(plan) == 9
    for item in plan:
        assert validator.validate(item.kind, item.request.body) == [], (name, item.name)
