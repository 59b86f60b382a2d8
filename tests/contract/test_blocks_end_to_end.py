"""Behaviour vectors end to end on the embedded engine with the real MiniLM: ingest fuses the
blocks, queries rank exactly by text, the gate reads the text cosine, similar items use every
block, a cold-start product keeps its text neighbours, and a re-embed keeps the blocks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hybrid_search.config import load_settings
from hybrid_search.documents import embedding_text
from hybrid_search.ingest import index_documents
from hybrid_search.searcher import Searcher
from hybrid_search.templates import default_templates_dir

pytestmark = pytest.mark.model

GROUPS = 7  # docs i and j were bought together when i % 7 == j % 7 (across categories)
COLD = range(36, 40)  # new arrivals: no behaviour vector
QUERIES = ["black leather tote", "warm winter jacket", "silk scarf for a gift", "T-WAT-006"]


def _behaviour(i: int) -> list[float]:
    vec = np.zeros(32)
    vec[i % GROUPS] = 1.0
    vec[31] = 0.05 * (i % 3)  # not all identical within a group
    return vec.tolist()


def _docs(corpus: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        d if i in COLD else {**d, "vectors": {"behaviour": _behaviour(i)}}
        for i, d in enumerate(corpus)
    ]


def _open(root: Path, minilm: Any, template: str, docs: list[dict[str, Any]], **extra: Any):
    settings = load_settings(embedded={"data_dir": root / template}, template=template, **extra)
    searcher = Searcher.from_settings(settings)
    searcher._embedder_factory = lambda: minilm
    report = index_documents(
        ((f"doc {i}", d) for i, d in enumerate(docs)),
        template=searcher.template,
        embedder=minilm,
        backend=searcher.backend,
    )
    return searcher, report


@pytest.fixture(scope="module")
def indexes(tmp_path_factory, minilm, corpus):
    """Text only (products), fused (products-behaviour), fused with text weight 2."""
    root = tmp_path_factory.mktemp("blocks")
    templates = root / "templates"
    templates.mkdir()
    for name in ("products", "products-behaviour"):
        shutil.copy(default_templates_dir() / f"{name}.json", templates)
    body = json.loads((templates / "products-behaviour.json").read_text())
    body["_meta"]["hybrid_search"]["vector_blocks"][0]["weight"] = 2.0
    (templates / "products-behaviour-w2.json").write_text(json.dumps(body))
    made = {}
    for name, docs in (
        ("products", corpus),
        ("products-behaviour", _docs(corpus)),
        ("products-behaviour-w2", _docs(corpus)),
    ):
        searcher, report = _open(root, minilm, name, docs, templates_dir=templates)
        assert report.failed == [] and report.indexed == len(corpus)
        made[name] = searcher
    yield made
    for searcher in made.values():
        searcher.close()


def test_the_stored_vector_is_the_fused_layout(indexes, minilm, corpus):
    fused = indexes["products-behaviour"]
    template = fused.template
    doc = corpus[3]  # popularity 12.0
    stored = fused.backend.vector_of(doc["sku"])
    assert stored.shape == (416,)
    text = minilm.encode_documents([embedding_text(doc, template)])[0]
    np.testing.assert_allclose(stored[:384], text / np.linalg.norm(text), atol=2e-6)
    b = np.array(_behaviour(3))
    weight = 0.5 / (1 + 12.0 / 1.8) ** 0.25
    np.testing.assert_allclose(stored[384:], b / np.linalg.norm(b) * weight, atol=2e-6)
    # A cold-start product: its text block only.
    cold = fused.backend.vector_of(corpus[37]["sku"])
    assert not cold[384:].any() and np.linalg.norm(cold[:384]) == pytest.approx(1.0, abs=1e-5)
    # The source keeps no block vectors.
    assert "vectors" not in fused.backend.get(doc["sku"])


@pytest.mark.parametrize("name", ["products-behaviour", "products-behaviour-w2"])
@pytest.mark.parametrize("query", QUERIES)
def test_a_query_ranks_exactly_by_text_and_the_gate_reads_the_text_cosine(indexes, name, query):
    text_only, fused = indexes["products"], indexes[name]
    a = text_only.search(
        {"query": query, "mode": "vector", "k": 10, "commercial": {"enabled": False}}
    )
    b = fused.search({"query": query, "mode": "vector", "k": 10, "commercial": {"enabled": False}})
    assert [h["id"] for h in b.hits] == [h["id"] for h in a.hits]
    # cosinesimil recovers cos from (1 + cos) / 2; innerproduct over [q, 0] . [w t, ...] gives
    # w cos, and the Searcher divides the text weight out (w = 1 and w = 2 here).
    assert b.top_vector_cosine == pytest.approx(a.top_vector_cosine, abs=1e-5)
    for x, y in zip(a.hits, b.hits, strict=True):
        assert y["breakdown"]["vector_cosine"] == pytest.approx(
            x["breakdown"]["vector_cosine"], abs=1e-5
        )
    auto_a = text_only.search({"query": query, "k": 5})
    auto_b = fused.search({"query": query, "k": 5})
    assert auto_b.mode_used == auto_a.mode_used
    assert (auto_a.fallback_reason is None) == (auto_b.fallback_reason is None)
    assert [h["id"] for h in auto_b.hits] == [h["id"] for h in auto_a.hits]


def test_the_weight_2_index_scores_twice_the_cosine(indexes):
    # The raw engine score really carries the text weight: a missing division would fail above.
    w2 = indexes["products-behaviour-w2"]
    hits = w2.backend.vector(
        w2.template.query_vector(w2.encoder.encode("silk scarf")), k=1, filters=[]
    )
    resp = w2.search({"query": "silk scarf", "mode": "vector", "k": 1})
    assert hits[0].score - 1.0 == pytest.approx(2.0 * resp.top_vector_cosine, abs=1e-5)


def _ranks(resp) -> dict[str, int]:
    return {h["id"]: h["rank"] for h in resp.hits}


def test_similar_items_use_the_behaviour_block(indexes, corpus):
    text_only, fused = indexes["products"], indexes["products-behaviour"]
    sku = corpus[0]["sku"]
    partners = [corpus[j]["sku"] for j in range(GROUPS, 36, GROUPS)]  # same group, other categories
    with_behaviour = _ranks(fused.similar(sku, k=39))
    text = _ranks(fused.similar(sku, k=39, blocks=["text"]))
    assert text == _ranks(text_only.similar(sku, k=39))  # the text block alone: text neighbours
    assert list(with_behaviour)[:5] != list(text)[:5]
    for partner in partners:
        assert with_behaviour[partner] < text[partner], partner
    # The score is the sum of the blocks' weighted cosines.
    stored = fused.backend.vector_of(sku)
    top = fused.similar(sku, k=1).hits[0]
    other = fused.backend.vector_of(top["id"])
    assert top["score"] - 1.0 == pytest.approx(float(stored @ other), abs=1e-5)
    hit = fused.similar(sku, k=1).hits[0]
    assert "vector_similarity" in hit["breakdown"] and "vector_cosine" not in hit["breakdown"]


def test_a_cold_start_product_keeps_its_text_neighbours(indexes, corpus):
    text_only, fused = indexes["products"], indexes["products-behaviour"]
    for i in COLD:
        sku = corpus[i]["sku"]
        expected = [h["id"] for h in text_only.similar(sku, k=10).hits]
        assert [h["id"] for h in fused.similar(sku, k=10).hits] == expected, sku


def test_similar_refuses_unknown_blocks(indexes, corpus):
    from hybrid_search.errors import InvalidRequestError

    with pytest.raises(InvalidRequestError, match=r"field 'blocks'.*unknown blocks \['image'\]"):
        indexes["products-behaviour"].similar(corpus[0]["sku"], blocks=["image"])
    with pytest.raises(InvalidRequestError, match="declares no vector_blocks"):
        indexes["products"].similar(corpus[0]["sku"], blocks=["text"])
    # A product with no behaviour block compared on behaviour alone has no neighbours.
    assert indexes["products-behaviour"].similar(corpus[37]["sku"], blocks=["behaviour"]).hits == []


def test_ingest_reports_bad_block_vectors_and_indexes_the_rest(tmp_path, minilm, corpus):
    docs = _docs(corpus[:4])
    docs[1] = {**docs[1], "vectors": {"behaviour": [0.1] * 31}}
    docs[2] = {**docs[2], "vectors": {"text": [0.0] * 384}}
    searcher, report = _open(tmp_path, minilm, "products-behaviour", docs)
    try:
        assert report.indexed == 2
        reasons = dict(report.failed)
        assert set(reasons) == {corpus[1]["sku"], corpus[2]["sku"]}
        assert "field 'vectors.behaviour': 31 numbers" in reasons[corpus[1]["sku"]]
        assert "field 'vectors.text'" in reasons[corpus[2]["sku"]]
        assert searcher.backend.count() == 2
    finally:
        searcher.close()


def test_a_text_only_template_rejects_block_vectors(tmp_path, minilm, corpus):
    searcher, report = _open(tmp_path, minilm, "products", _docs(corpus[:2]))
    try:
        assert report.indexed == 0 and len(report.failed) == 2
        assert all("declares no vector_blocks" in reason for _, reason in report.failed)
    finally:
        searcher.close()


def test_reembed_keeps_the_behaviour_blocks(tmp_path, minilm, corpus):
    from hybrid_search.backends.embedded.backend import EmbeddedBackend
    from hybrid_search.reembed import reembed

    searcher, _ = _open(tmp_path, minilm, "products-behaviour", _docs(corpus[:10]))
    settings, template = searcher.settings, searcher.template
    before = {d["sku"]: searcher.backend.vector_of(d["sku"]) for d in corpus[:10]}
    searcher.close()
    live = EmbeddedBackend(settings.embedded.data_dir, template, settings.embedded)
    try:
        result = reembed(live, template, minilm)
    finally:
        live.close()
    assert result.swapped and result.ingest.failed == []
    backend = EmbeddedBackend(settings.embedded.data_dir, template, settings.embedded)
    try:
        for sku, vec in before.items():
            np.testing.assert_allclose(backend.vector_of(sku), vec, atol=2e-6)
        assert backend.vector_of(corpus[0]["sku"])[384:].any()
    finally:
        backend.close()


def test_the_api_takes_block_vectors_and_reports_bad_ones(tmp_path, minilm, corpus):
    from fastapi.testclient import TestClient

    from hybrid_search.api import create_app

    searcher, _ = _open(tmp_path, minilm, "products-behaviour", [])
    docs = _docs(corpus[:6])
    docs[5] = {**docs[5], "vectors": {"behaviour": [1.0] * 8}}
    try:
        with TestClient(create_app(searcher.settings, searcher=searcher, warm_up=False)) as client:
            resp = client.post("/v1/documents", json={"documents": docs})
            assert resp.status_code == 200
            body = resp.json()
            assert body["indexed"] == 5 and body["failed"] == 1
            bad = body["items"][5]
            assert (
                bad["status"] == "failed"
                and "field 'vectors.behaviour': 8 numbers" in bad["reason"]
            )
            got = client.get(f"/v1/similar/{corpus[0]['sku']}", params={"k": 3})
            assert got.status_code == 200
            hits = got.json()["hits"]
            assert len(hits) == 3 and all("vector_similarity" in h["breakdown"] for h in hits)
            text = client.get(f"/v1/similar/{corpus[0]['sku']}", params={"blocks": "text"})
            assert text.status_code == 200 and text.json()["hits"]
            bad = client.get(f"/v1/similar/{corpus[0]['sku']}", params={"blocks": "text,image"})
            assert bad.status_code == 400 and "unknown blocks ['image']" in bad.text
            source = client.get(f"/v1/documents/{corpus[0]['sku']}").json()["source"]
            assert source["sku"] == corpus[0]["sku"] and "vectors" not in source
    finally:
        searcher.close()


def test_the_audit_compares_a_logged_query_with_the_text_block(indexes, minilm, corpus):
    from hybrid_search.commands.observe import _text_vector_of

    text_only, fused = indexes["products"], indexes["products-behaviour"]
    sku = corpus[5]["sku"]
    text_block = _text_vector_of(fused.backend, fused.template)(sku)
    assert text_block.shape == (384,)
    query = minilm.encode_query("black puffer jacket")  # what the query log holds
    plain = _text_vector_of(text_only.backend, text_only.template)(sku)
    cos = float(text_block @ query) / float(np.linalg.norm(text_block) * np.linalg.norm(query))
    expected = float(plain @ query) / float(np.linalg.norm(plain) * np.linalg.norm(query))
    assert cos == pytest.approx(expected, abs=1e-5)
    assert _text_vector_of(fused.backend, fused.template)("NO-SUCH-SKU") is None
