"""A document's ``vectors`` (block vectors): validation, fusion into the knn vector, restore."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest

from hybrid_search.documents import knn_vectors, restore_block_vectors, validate_document
from hybrid_search.errors import InvalidRequestError
from hybrid_search.templates import load_template, parse_template

BEHAVIOUR = load_template("products-behaviour")
TEXT_ONLY = load_template("products")
DOC = {"sku": "A-1", "title": "black calfskin tote", "popularity": 5.4}


def _beh(seed: int = 0) -> list[float]:
    return np.random.default_rng(seed).normal(size=32).tolist()


def test_a_valid_document_keeps_its_block_vectors_as_floats():
    doc = validate_document({**DOC, "vectors": {"behaviour": [1] * 32}}, BEHAVIOUR)
    assert doc["vectors"] == {"behaviour": [1.0] * 32}
    assert all(isinstance(x, float) for x in doc["vectors"]["behaviour"])
    # A missing block, an empty object or a null block: no behaviour yet (cold start).
    assert "vectors" not in validate_document(DOC, BEHAVIOUR)
    assert validate_document({**DOC, "vectors": {}}, BEHAVIOUR)["vectors"] == {}
    assert validate_document({**DOC, "vectors": {"behaviour": None}}, BEHAVIOUR)["vectors"] == {}


@pytest.mark.parametrize(
    ("vectors", "needles"),
    [
        ([1.0] * 32, ["field 'vectors': [1.0, 1.0", "is not an object", "['behaviour']"]),
        (
            {"text": [0.0] * 384},
            ["field 'vectors.text'", "computed by the sidecar", "allowed blocks: ['behaviour']"],
        ),
        (
            {"image": [0.0] * 512},
            ["field 'vectors.image' is not a block", "allowed blocks: ['behaviour']"],
        ),
        (
            {"behaviour": [0.0] * 31},
            ["field 'vectors.behaviour': 31 numbers", "a list of 32 finite numbers"],
        ),
        ({"behaviour": "0.1 0.2"}, ["field 'vectors.behaviour': '0.1 0.2'", "32 finite numbers"]),
        ({"behaviour": [*[0.0] * 31, math.nan]}, ["field 'vectors.behaviour[31]': nan"]),
        ({"behaviour": [math.inf, *[0.0] * 31]}, ["field 'vectors.behaviour[0]': inf"]),
        ({"behaviour": [*[0.0] * 31, "1"]}, ["field 'vectors.behaviour[31]': '1' is not a finite"]),
        ({"behaviour": [True, *[0.0] * 31]}, ["field 'vectors.behaviour[0]': True"]),
    ],
)
def test_bad_block_vectors_are_refused_naming_field_value_and_allowed(vectors, needles):
    with pytest.raises(InvalidRequestError) as err:
        validate_document({**DOC, "vectors": vectors}, BEHAVIOUR)
    for needle in needles:
        assert needle in str(err.value), str(err.value)


def test_vectors_need_a_template_with_blocks():
    with pytest.raises(InvalidRequestError, match="template 'products' declares no vector_blocks"):
        validate_document({**DOC, "vectors": {"behaviour": _beh()}}, TEXT_ONLY)


def test_knn_vectors_fuse_text_and_behaviour_by_hand():
    docs = [
        validate_document({**DOC, "vectors": {"behaviour": _beh(1)}}, BEHAVIOUR),
        validate_document({**DOC, "sku": "A-2"}, BEHAVIOUR),  # cold start
        validate_document({**DOC, "sku": "A-3", "popularity": None}, BEHAVIOUR),
    ]
    docs[2]["vectors"] = {"behaviour": _beh(3)}
    text = np.random.default_rng(9).normal(size=(3, 384)).astype(np.float32)
    sources, fused = knn_vectors(docs, text, BEHAVIOUR)
    assert fused.shape == (3, 416)
    assert all("vectors" not in s for s in sources)
    assert sources[0] == {k: v for k, v in docs[0].items() if k != "vectors"}
    unit = text / np.linalg.norm(text, axis=1, keepdims=True)
    np.testing.assert_allclose(fused[:, :384], unit, rtol=1e-6, atol=1e-7)  # text weight 1.0
    b = np.array(_beh(1))
    w = 0.5 / (1 + 5.4 / 1.8) ** 0.25  # the template's weight, guard and reference
    np.testing.assert_allclose(fused[0, 384:], b / np.linalg.norm(b) * w, rtol=1e-5)
    assert not fused[1, 384:].any()  # no behaviour vector: zeros
    b3 = np.array(_beh(3))
    np.testing.assert_allclose(fused[2, 384:], b3 / np.linalg.norm(b3) * 0.5, rtol=1e-5)


def test_without_blocks_the_text_vectors_pass_through():
    docs = [validate_document(DOC, TEXT_ONLY)]
    text = np.ones((1, 384), dtype=np.float32)
    sources, vectors = knn_vectors(docs, text, TEXT_ONLY)
    assert sources == docs and vectors is text


def test_restore_gives_back_the_same_knn_vector():
    doc = validate_document({**DOC, "vectors": {"behaviour": _beh(4)}}, BEHAVIOUR)
    text = np.random.default_rng(2).normal(size=(1, 384)).astype(np.float32)
    (source,), fused = knn_vectors([doc], text, BEHAVIOUR)
    restored = validate_document(restore_block_vectors(source, fused[0], BEHAVIOUR), BEHAVIOUR)
    assert set(restored["vectors"]) == {"behaviour"}
    _, again = knn_vectors([restored], text, BEHAVIOUR)
    np.testing.assert_allclose(again, fused, rtol=1e-6, atol=1e-7)
    # A cold-start product stays one; a template without blocks is left alone.
    (cold,), cold_fused = knn_vectors([validate_document(DOC, BEHAVIOUR)], text, BEHAVIOUR)
    assert "vectors" not in restore_block_vectors(cold, cold_fused[0], BEHAVIOUR)
    assert restore_block_vectors(DOC, np.ones(384), TEXT_ONLY) is DOC
    # Moving from a text-only index (384-d vectors) to the block layout: nothing to carry over.
    assert restore_block_vectors(DOC, np.ones(384), BEHAVIOUR) is DOC


def test_an_image_block_too():
    body = copy.deepcopy(BEHAVIOUR.body)
    body["template"]["mappings"]["properties"]["embedding"]["dimension"] = 416 + 8
    blocks = body["_meta"]["hybrid_search"]["vector_blocks"]
    blocks.insert(1, {"name": "image", "dimension": 8, "weight": 0.25})
    template = parse_template(body, path=Path("img.json"), name="img")
    doc = validate_document({**DOC, "vectors": {"image": [2.0] * 8}}, template)
    text = np.ones((1, 384), dtype=np.float32)
    _, fused = knn_vectors([doc], text, template)
    assert fused.shape == (1, 424)
    np.testing.assert_allclose(fused[0, 384:392], np.full(8, 0.25 / np.sqrt(8)), rtol=1e-6)
    assert not fused[0, 392:].any()  # no behaviour vector
    with pytest.raises(InvalidRequestError, match=r"allowed blocks: \['behaviour', 'image'\]"):
        validate_document({**DOC, "vectors": {"audio": [1.0]}}, template)
