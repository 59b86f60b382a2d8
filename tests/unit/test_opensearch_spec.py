"""Request bodies checked against the OpenSearch API specification (plus the strict overlay)."""

from __future__ import annotations

import copy
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hybrid_search.backends.opensearch.spec import (
    PACKAGED_SPEC_DIR,
    SPEC_DIR_ENV,
    SPEC_GAPS,
    SpecValidator,
    default_spec_dir,
)
from hybrid_search.errors import ConfigError, TemplateError

REPO_ROOT = Path(__file__).resolve().parents[2]

# Every body in tests/data/opensearch-examples.json (a copy of the shared
# reference/opensearch-examples.json) is one the reference calls valid on the server
# (pipeline_minmax and hybrid_inline_pipeline only through an allow-listed spec gap).
EXAMPLE_KINDS = {
    "create_index": "create_index",
    "index_template": "index_template",
    "knn_filtered": "search",
    "knn_radial": "search",
    "pipeline_minmax": "search_pipeline",
    "pipeline_minmax_portable": "search_pipeline",
    "pipeline_rrf": "search_pipeline",
    "hybrid_query": "search",
    "hybrid_inline_pipeline": "search",
    "bool_named": "search",
    "script_score_commercial": "search",
    "knn_wrapped_commercial": "search",
    "hybrid_rescore": "search",
    "knn_score_script": "search",
}


@pytest.fixture(scope="module")
def validator() -> SpecValidator:
    return SpecValidator(default_spec_dir())


@pytest.fixture(scope="module")
def examples() -> dict[str, Any]:
    path = REPO_ROOT / "tests" / "data" / "opensearch-examples.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _knn(body: dict[str, Any]) -> dict[str, Any]:
    field: dict[str, Any] = body["query"]["knn"]["embedding"]
    return field


def _normalization(body: dict[str, Any]) -> dict[str, Any]:
    processor: dict[str, Any] = body["phase_results_processors"][0]["normalization-processor"]
    return processor


def test_every_example_has_a_kind(examples):
    assert sorted(examples) == sorted(EXAMPLE_KINDS)


@pytest.mark.parametrize(("name", "kind"), sorted(EXAMPLE_KINDS.items()))
def test_reference_example_is_valid(validator, examples, name, kind):
    assert validator.validate(kind, examples[name]) == []


def test_project_template_is_valid(validator):
    template = json.loads((REPO_ROOT / "index_templates" / "products.json").read_text("utf-8"))
    assert "_meta" in template
    assert template["template"]["mappings"]["properties"]["embedding"]["compression_level"]
    assert validator.validate("index_template", template) == []


Mutation = Callable[[dict[str, Any]], object]

MALFORMED: list[tuple[str, str, Mutation, str]] = [
    ("k_string", "knn_filtered", lambda b: _knn(b).update(k="50"), "/query/knn/embedding/k"),
    ("k_zero", "knn_filtered", lambda b: _knn(b).update(k=0), "minimum of 1"),
    ("k_too_big", "knn_filtered", lambda b: _knn(b).update(k=10001), "maximum of 10000"),
    (
        "two_fields",
        "knn_filtered",
        lambda b: b["query"]["knn"].update(other={"vector": [1.0], "k": 1}),
        "too many properties",
    ),
    ("no_vector", "knn_filtered", lambda b: _knn(b).pop("vector"), "'vector' is a required"),
    ("ef_search_misplaced", "knn_filtered", lambda b: _knn(b).update(ef_search=100), "ef_search"),
    ("k_and_min_score", "knn_filtered", lambda b: _knn(b).update(min_score=0.5), "exactly one"),
    ("min_score_zero", "knn_radial", lambda b: _knn(b).update(min_score=0), "min_score"),
    (
        "unknown_method_parameter",
        "knn_filtered",
        lambda b: _knn(b)["method_parameters"].update(ef=5),
        "method_parameters",
    ),
    (
        "six_subqueries",
        "hybrid_query",
        lambda b: b["query"]["hybrid"]["queries"].extend([{"match_all": {}}] * 4),
        "is too long",
    ),
    (
        "weights_in_hybrid",
        "hybrid_query",
        lambda b: b["query"]["hybrid"].update(weights=[0.4, 0.6]),
        "'weights' was unexpected",
    ),
    (
        "pagination_depth_string",
        "hybrid_query",
        lambda b: b["query"]["hybrid"].update(pagination_depth="100x"),
        "/query/hybrid/pagination_depth",
    ),
]
MAPPING_MALFORMED: list[tuple[str, str, Mutation, str]] = [
    (
        "dimension_string",
        kind,
        lambda b, k=kind: _properties(b, k)["embedding"].update(dimension="four"),
        "/embedding/dimension: 'four' is not of type 'integer'",
    )
    for kind in ("create_index", "index_template")
] + [
    (
        "dense_vector",
        kind,
        lambda b, k=kind: _properties(b, k)["embedding"].update(type="dense_vector"),
        "/embedding/type: unknown Property type",
    )
    for kind in ("create_index", "index_template")
]
PIPELINE_MALFORMED: list[tuple[str, str, Mutation, str]] = [
    (
        "weights_strings",
        "pipeline_minmax_portable",
        lambda b: _normalization(b)["combination"]["parameters"].update(weights=["0.4", "0.6"]),
        "/weights/0: '0.4' is not of type 'number'",
    ),
    (
        "weight_above_one",
        "pipeline_minmax_portable",
        lambda b: _normalization(b)["combination"]["parameters"].update(weights=[0.4, 1.6]),
        "/weights/1: 1.6 is greater than the maximum of 1",
    ),
    (
        "rrf_weights_string",
        "pipeline_rrf",
        lambda b: b["phase_results_processors"][0]["score-ranker-processor"]["combination"][
            "parameters"
        ].update(weights="0.4,0.6"),
        "is not of type 'array'",
    ),
    (
        "misspelled_technique",
        "pipeline_minmax_portable",
        lambda b: _normalization(b)["normalization"].update(technique="zscore"),
        "'zscore' is not one of",
    ),
]


def _properties(body: dict[str, Any], kind: str) -> dict[str, Any]:
    holder = body["template"] if kind == "index_template" else body
    properties: dict[str, Any] = holder["mappings"]["properties"]
    return properties


def _mutated(examples: dict[str, Any], name: str, mutate: Mutation) -> dict[str, Any]:
    body: dict[str, Any] = copy.deepcopy(examples[name])
    mutate(body)
    return body


@pytest.mark.parametrize(
    ("case", "name", "mutate", "expected"), MALFORMED, ids=[case[0] for case in MALFORMED]
)
def test_malformed_search_body_fails(validator, examples, case, name, mutate, expected):
    errors = validator.validate("search", _mutated(examples, name, mutate))
    assert errors, case
    assert any(expected in error for error in errors), errors


@pytest.mark.parametrize(
    ("case", "kind", "mutate", "expected"),
    MAPPING_MALFORMED,
    ids=[f"{case[0]}-{case[1]}" for case in MAPPING_MALFORMED],
)
def test_malformed_mapping_fails(validator, examples, case, kind, mutate, expected):
    errors = validator.validate(kind, _mutated(examples, kind, mutate))
    assert len(errors) == 1, errors
    assert expected in errors[0]


@pytest.mark.parametrize(
    ("case", "name", "mutate", "expected"),
    PIPELINE_MALFORMED,
    ids=[case[0] for case in PIPELINE_MALFORMED],
)
def test_malformed_pipeline_fails(validator, examples, case, name, mutate, expected):
    errors = validator.validate("search_pipeline", _mutated(examples, name, mutate))
    assert len(errors) == 1, errors
    assert expected in errors[0]


def test_allow_listed_gaps_pass_but_near_misses_fail(validator, examples):
    portable = examples["pipeline_minmax_portable"]
    z_score = _mutated(
        examples,
        "pipeline_minmax_portable",
        lambda b: _normalization(b)["normalization"].update(technique="z_score"),
    )
    assert validator.validate("search_pipeline", z_score) == []
    zscore = copy.deepcopy(z_score)
    _normalization(zscore)["normalization"]["technique"] = "zscore"
    assert validator.validate("search_pipeline", zscore)

    explained = {**portable, "response_processors": [{"hybrid_score_explanation": {}}]}
    assert validator.validate("search_pipeline", explained) == []
    misnamed = {**portable, "response_processors": [{"hybrid_score_explanations": {}}]}
    assert validator.validate("search_pipeline", misnamed)
    configured = {**portable, "response_processors": [{"hybrid_score_explanation": {"x": 1}}]}
    assert validator.validate("search_pipeline", configured)


def test_inline_search_pipeline_is_validated_as_a_pipeline(validator, examples):
    inline = examples["hybrid_inline_pipeline"]
    assert isinstance(inline["search_pipeline"], dict)
    assert validator.validate("search", inline) == []
    broken = copy.deepcopy(inline)
    _normalization(broken["search_pipeline"])["normalization"]["technique"] = "zscore"
    errors = validator.validate("search", broken)
    assert len(errors) == 1, errors
    assert errors[0].startswith("/search_pipeline/phase_results_processors/0/")
    named = {**inline, "search_pipeline": 42}
    assert any("/search_pipeline" in error for error in validator.validate("search", named))


def test_spec_gaps_are_documented():
    assert {gap.name for gap in SPEC_GAPS} == {
        "inline_search_pipeline",
        "hybrid_score_explanation",
        "z_score_normalization",
    }
    assert all(gap.reason and gap.path and gap.keyword for gap in SPEC_GAPS)


def test_msearch_pairs(validator, examples):
    lines = [{"index": "products-v1"}, examples["hybrid_query"], {}, examples["knn_filtered"]]
    assert validator.validate("msearch", lines) == []
    bad_header = [{"index": 5}, examples["knn_filtered"]]
    assert any(error.startswith("/0/index") for error in validator.validate("msearch", bad_header))
    bad_body = [{}, _mutated(examples, "knn_filtered", lambda b: _knn(b).update(k=0))]
    errors = validator.validate("msearch", bad_body)
    assert any(error.startswith("/1/query/knn") for error in errors), errors
    assert validator.validate("msearch", [{}])
    assert validator.validate("msearch", {"query": {}})


def test_bulk_lines(validator):
    lines: list[Any] = [
        {"index": {"_index": "products-v1", "_id": "1"}},
        {"sku": "1"},
        {"delete": {"_id": "2"}},
        {"update": {"_id": "3"}},
        {"doc": {"margin": 0.2}},
    ]
    assert validator.validate("bulk", lines) == []
    assert validator.validate("bulk", [{"index": {"_id": 5}}, {"sku": "5"}])
    assert validator.validate("bulk", [{"index": {"_id": "6"}}, "not a document"])
    assert validator.validate("bulk", [{"create": {"_id": "7"}}])


def test_stored_script(validator):
    assert validator.validate("script", {"script": {"lang": "painless", "source": "1"}}) == []
    assert validator.validate("script", {"script": {"lang": "painless"}})


def test_unknown_kind_lists_the_kinds(validator):
    with pytest.raises(ValueError, match="bulk, create_index, index_template, msearch, script"):
        validator.validate("mapping", {})


def test_validate_or_raise(validator, examples):
    validator.validate_or_raise("search", examples["knn_filtered"])
    body = _mutated(examples, "knn_filtered", lambda b: _knn(b).update(k=0, ef_search=1))
    with pytest.raises(TemplateError, match="2 error") as caught:
        validator.validate_or_raise("search", body)
    assert isinstance(caught.value, ValueError)
    assert "/query/knn/embedding/k" in str(caught.value)


def test_missing_spec_directory_is_a_config_error(tmp_path):
    validator = SpecValidator(tmp_path / "nowhere")  # no I/O in the constructor
    with pytest.raises(ConfigError, match=r"namespaces/_core\.yaml"):
        validator.validate("search", {})


def test_default_spec_dir_prefers_the_env_var(tmp_path, monkeypatch):
    monkeypatch.setenv(SPEC_DIR_ENV, str(tmp_path))
    assert default_spec_dir() == tmp_path.resolve()


def test_default_spec_dir_is_the_packaged_subset(tmp_path, monkeypatch, caplog):
    monkeypatch.delenv(SPEC_DIR_ENV, raising=False)
    assert default_spec_dir() == PACKAGED_SPEC_DIR
    assert (PACKAGED_SPEC_DIR / "namespaces" / "_core.yaml").is_file()
    monkeypatch.setenv(SPEC_DIR_ENV, str(tmp_path / "missing"))
    assert default_spec_dir() == PACKAGED_SPEC_DIR
    assert "using the packaged subset" in caplog.text


def test_warm_validation_is_fast(validator, examples):
    for kind, body, budget_s in (
        ("search", examples["hybrid_query"], 0.05),
        ("index_template", examples["index_template"], 0.2),
    ):
        validator.validate(kind, body)
        timings = []
        for _ in range(10):
            started = time.perf_counter()
            validator.validate(kind, body)
            timings.append(time.perf_counter() - started)
        assert statistics.median(timings) < budget_s, (kind, timings)
