"""The OpenSearch side of ``vector_blocks`` (products-behaviour): request bodies valid against
the API specification, the radial gate scaled by the text weight, and a reindex on osmem-server
that keeps each document's behaviour block."""

from __future__ import annotations

import copy
import uuid
from pathlib import Path

import numpy as np
import pytest

from hybrid_search.backends.opensearch import queries
from hybrid_search.backends.opensearch.backend import OpenSearchBackend
from hybrid_search.backends.opensearch.client import Request
from hybrid_search.backends.opensearch.plan import build_plan
from hybrid_search.config import load_settings
from hybrid_search.ingest import index_documents
from hybrid_search.ranking.confidence import score_from_similarity
from hybrid_search.reembed import reembed
from hybrid_search.templates import load_template, parse_template
from tests.conftest import HashEmbedder, renamed
from tests.opensearch.validating import Validating

TEMPLATE = load_template("products-behaviour")


def _weighted(text_weight: float):
    body = copy.deepcopy(TEMPLATE.body)
    body["_meta"]["hybrid_search"]["vector_blocks"][0]["weight"] = text_weight
    return parse_template(body, path=Path("w.json"), name="w")


def test_the_plan_for_products_behaviour_is_valid_and_pads_the_query(validator):
    emb = HashEmbedder()
    vec = TEMPLATE.query_vector(emb.encode_query("black tote"))
    plan = build_plan(
        load_settings(backend="opensearch"),
        TEMPLATE,
        query="black tote",
        embedding=vec,
        model_id=emb.model_id,
        filters={"in_stock": True},
    )
    by_name = {item.name: item.request for item in plan}
    for item in plan:
        assert validator.validate(item.kind, item.request.body) == [], item.name
    create = next(r for name, r in by_name.items() if name.startswith("create_index"))
    mappings = create.body["mappings"]
    knn = mappings["properties"]["embedding"]
    assert knn["dimension"] == 416 and knn["method"]["space_type"] == "innerproduct"
    assert mappings["_meta"]["hybrid_search"]["dimension"] == 416
    legs = by_name["msearch-legs"].body
    sent = np.array(legs[3]["query"]["knn"]["embedding"]["vector"])
    assert sent.shape == (416,) and not sent[384:].any()
    assert np.linalg.norm(sent) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("weight", [1.0, 2.0])
def test_the_native_radial_gate_is_scaled_by_the_text_weight(weight, validator):
    template = _weighted(weight)
    vec = template.query_vector(HashEmbedder().encode_query("tote"))
    body = queries.hybrid_body("tote", vec, template, size=10, window=100, min_vector_cosine=0.35)
    radial = body["query"]["hybrid"]["queries"][1]["knn"]["embedding"]
    # innerproduct: score = dot + 1, and the dot with [q, 0] is weight * cos.
    assert radial["min_score"] == pytest.approx(
        score_from_similarity(0.35 * weight, "innerproduct")
    )
    assert validator.validate("search", body) == []


def _docs(corpus):
    docs = []
    for i, doc in enumerate(corpus[:8]):
        if i < 6:  # the last two are new arrivals: no behaviour vector
            vec = np.zeros(32)
            vec[i % 3] = 1.0
            doc = {**doc, "vectors": {"behaviour": vec.tolist()}}
        docs.append(doc)
    return docs


def test_bulk_and_reindex_on_osmem_keep_the_behaviour_block(osmem, validator, corpus):
    alias = f"hs-blocks-{uuid.uuid4().hex[:10]}"
    settings = load_settings(
        backend="opensearch", opensearch={"url": osmem.url, "index_alias": alias, "max_retries": 0}
    )
    backend = OpenSearchBackend(settings, TEMPLATE)
    client = Validating(backend.client, validator)  # every body sent is checked against the spec
    backend.client = backend.bootstrapper.client = client  # type: ignore[assignment]
    emb = HashEmbedder()
    try:
        report = index_documents(
            ((f"doc {i}", d) for i, d in enumerate(_docs(corpus))),
            template=TEMPLATE,
            embedder=emb,
            backend=backend,  # type: ignore[arg-type]
        )
        assert report.failed == [] and report.indexed == 8
        before = {d["sku"]: backend.vector_of(d["sku"]) for d in corpus[:8]}
        assert all(v.shape == (416,) for v in before.values())
        assert before[corpus[0]["sku"]][384:].any() and not before[corpus[7]["sku"]][384:].any()
        assert "vectors" not in backend.get(corpus[0]["sku"])
        again = reembed(backend, backend.template, renamed(emb, "m2"))
        assert again.swapped and again.ingest.failed == [] and again.source_count == 8
        for sku, vec in before.items():
            np.testing.assert_allclose(backend.vector_of(sku), vec, atol=1e-6)
    finally:
        backend.client.send(
            Request("DELETE", f"/{backend.names.pattern}"), what="teardown", ignore=(404,)
        )
        backend.close()


def test_turning_blocks_on_is_a_reindex(osmem, validator, corpus):
    """products (384-d cosine) -> products-behaviour on the same alias: the reindex builds the
    416-d inner-product version; every product starts with an empty behaviour block."""
    alias = f"hs-blocks-{uuid.uuid4().hex[:10]}"
    settings = load_settings(
        backend="opensearch", opensearch={"url": osmem.url, "index_alias": alias, "max_retries": 0}
    )
    old = OpenSearchBackend(settings, load_template("products"))
    new = OpenSearchBackend(settings, TEMPLATE)
    for backend in (old, new):
        client = Validating(backend.client, validator)
        backend.client = backend.bootstrapper.client = client  # type: ignore[assignment]
    emb = HashEmbedder()
    try:
        report = index_documents(
            ((f"doc {i}", d) for i, d in enumerate(corpus[:5])),
            template=old.template,
            embedder=emb,
            backend=old,  # type: ignore[arg-type]
        )
        assert report.indexed == 5
        moved = reembed(new, new.template, emb)
        assert moved.swapped and moved.ingest.failed == []
        vec = new.vector_of(corpus[0]["sku"])
        assert vec.shape == (416,) and not vec[384:].any()
        assert np.linalg.norm(vec[:384]) == pytest.approx(1.0, abs=1e-5)  # the unit text block
        assert new.info().dimension == 416
    finally:
        old.client.send(Request("DELETE", f"/{old.names.pattern}"), what="teardown", ignore=(404,))
        old.close()
        new.close()
