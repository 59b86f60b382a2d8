"""An index built from a magnitude-keeping model ranks by |d| cos; the gate still reads a cosine."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from hybrid_search.backends.opensearch import queries
from hybrid_search.embedding.magnitude import MagnitudeEmbedder, MagnitudeSpec
from hybrid_search.errors import TemplateError
from hybrid_search.ingest import index_documents
from hybrid_search.ranking.confidence import scores_from_similarities
from hybrid_search.templates import load_template

REPO = Path(__file__).resolve().parents[2]
QUERY = np.array([1.0, 0.0, 0.0], dtype=np.float32)


def _direction(cos: float) -> np.ndarray:
    return np.array([cos, np.sqrt(1.0 - cos**2), 0.0])


# title -> pooled vector: (cos with the query, length). Ranked by cos: A, C, B.
# Ranked by |d| cos: B (3 x 0.6 = 1.8), C (2 x 0.8 = 1.6), A (1 x 0.9 = 0.9).
POOLED = {
    "lamp": QUERY * 5.0,
    "Alpha lamp": _direction(0.9) * 1.0,
    "Bravo lamp": _direction(0.6) * 3.0,
    "Charlie lamp": _direction(0.8) * 2.0,
}
DOCS = [
    {"sku": "A", "title": "Alpha lamp"},
    {"sku": "B", "title": "Bravo lamp"},
    {"sku": "C", "title": "Charlie lamp"},
]


class _Pooled:
    """Returns fixed pooled vectors, padded to 384-d (the template's dimension)."""

    model_id = "test/pooled"
    dimension = 384
    runtime = "test"
    normalized = False

    def _vec(self, text: str) -> np.ndarray:
        out = np.zeros(384, dtype=np.float32)
        out[:3] = POOLED[text.split(".")[0].strip()]
        return out

    def encode_query(self, text: str) -> np.ndarray:
        return self._vec(text)

    def encode_documents(
        self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False
    ) -> np.ndarray:
        return np.stack([self._vec(t) for t in texts])


def _qnorm() -> MagnitudeEmbedder:
    return MagnitudeEmbedder(_Pooled(), MagnitudeSpec("qnorm", 20.0, gamma_q=1.0, gamma_d=0.0))


def test_embedded_backend_ranks_by_length_times_cosine(make_searcher):
    searcher = make_searcher(DOCS, embedder=_qnorm(), template="products-innerproduct")
    assert searcher.template.vector.space_type == "innerproduct"
    response = searcher.search({"query": "lamp", "mode": "vector", "k": 3})
    assert [h["id"] for h in response.hits] == ["B", "C", "A"]
    # the engine score is OpenSearch's innerproduct _score: |d| cos + 1
    raw = [h["breakdown"]["vector"] for h in response.hits]
    assert raw == pytest.approx([2.8, 2.6, 1.9], abs=1e-5)


def test_confidence_gate_reads_the_cosine_not_the_inner_product(make_searcher):
    searcher = make_searcher(DOCS, embedder=_qnorm(), template="products-innerproduct")
    response = searcher.search({"query": "lamp", "mode": "auto", "min_vector_cosine": 0.85})
    # best cosine is A's 0.9 (its inner product 0.9 too); B's inner product 1.8 is no cosine
    assert response.top_vector_cosine == pytest.approx(0.9, abs=1e-5)
    assert response.mode_used != "lexical"
    strict = searcher.search({"query": "lamp", "mode": "auto", "min_vector_cosine": 0.95})
    assert strict.top_vector_cosine == pytest.approx(0.9, abs=1e-5)
    assert strict.mode_used == "lexical"
    assert "0.900" in (strict.fallback_reason or "")


def test_same_model_on_a_cosine_index_is_refused(make_searcher):
    searcher = make_searcher(None, embedder=_qnorm())
    assert searcher.template.vector.space_type == "cosinesimil"
    with pytest.raises(TemplateError, match="innerproduct"):
        index_documents(
            ((str(i), d) for i, d in enumerate(DOCS)),
            template=searcher.template,
            embedder=_qnorm(),
            backend=searcher.backend,
        )


def test_opensearch_template_and_query_keep_the_magnitude():
    body = json.loads((REPO / "index_templates" / "products-innerproduct.json").read_text())
    method = body["template"]["mappings"]["properties"]["embedding"]["method"]
    assert (method["engine"], method["space_type"]) == ("faiss", "innerproduct")
    template = load_template("products-innerproduct")
    embedder = _qnorm()
    q = embedder.encode_query("lamp")
    knn = json.dumps(queries.knn_body(q, template, k=3, filters=[]))
    assert json.dumps([float(x) for x in q[:3]])[1:-1] in knn  # the unit query, as encoded
    # OpenSearch ranks by its innerproduct _score, monotonic in q . d = |d| cos
    docs = embedder.encode_documents([d["title"] for d in DOCS])
    dots = docs @ q
    order = np.argsort(-scores_from_similarities(dots, "innerproduct"), kind="stable")
    assert [DOCS[i]["sku"] for i in order] == ["B", "C", "A"]
    assert np.linalg.norm(docs, axis=1) == pytest.approx([1.0, 3.0, 2.0], abs=1e-5)


def test_innerproduct_template_is_a_valid_opensearch_body():
    from hybrid_search.backends.opensearch.spec import SpecValidator, default_spec_dir

    spec_dir = default_spec_dir()
    body = json.loads((REPO / "index_templates" / "products-innerproduct.json").read_text())
    assert SpecValidator(spec_dir).validate("index_template", body) == []


def test_hybrid_fusion_normalises_unbounded_inner_products(make_searcher):
    searcher = make_searcher(DOCS, embedder=_qnorm(), template="products-innerproduct")
    response = searcher.search({"query": "lamp", "mode": "hybrid", "k": 3})
    assert {h["id"] for h in response.hits} == {"A", "B", "C"}
    for hit in response.hits:
        raw = hit["breakdown"]["vector"]
        assert raw > 1.0  # OpenSearch innerproduct _score: |d| cos + 1, up to 2.8 here
        assert 0.0 <= hit["breakdown"]["vector_normalized"] <= 1.0
    by_id = {h["id"]: h["breakdown"]["vector_normalized"] for h in response.hits}
    assert by_id["B"] == pytest.approx(1.0)  # min_max: the largest |d| cos maps to 1
