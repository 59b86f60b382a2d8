"""Block fusion (weights, inverse popularity, query side) and co-occurrence embeddings."""

from __future__ import annotations

import numpy as np
import pytest

from hybrid_search.blocks import parse_blocks
from hybrid_search.embedding.cooccurrence import cooccurrence_counts, item_embeddings, ppmi
from hybrid_search.errors import TemplateError

LAYOUT = [
    {"name": "text", "dimension": 2, "weight": 1.0},
    {"name": "behaviour", "dimension": 2, "weight": 0.5},
]


def test_documents_are_weighted_normalised_blocks():
    layout = parse_blocks(LAYOUT)
    assert layout.dimension == 4
    docs = layout.documents(
        {
            "text": np.array([[3.0, 4.0], [1.0, 0.0]]),
            "behaviour": np.array([[0.0, 2.0], [0.0, 0.0]]),
        }
    )
    assert np.allclose(docs, [[0.6, 0.8, 0.0, 0.5], [1.0, 0.0, 0.0, 0.0]])
    # A missing block is zeros (a product nobody has bought yet).
    only_text = layout.documents({"text": np.array([[0.0, 2.0]])})
    assert only_text.tolist() == [[0.0, 1.0, 0.0, 0.0]]
    assert layout.query(np.array([5.0, 0.0])).tolist() == [1.0, 0.0, 0.0, 0.0]


def test_inverse_popularity_shrinks_best_sellers_behaviour_weight():
    layout = parse_blocks([LAYOUT[0], {**LAYOUT[1], "inverse_popularity": 1.0}])
    docs = layout.documents(
        {"text": np.ones((3, 2)), "behaviour": np.array([[1.0, 0.0]] * 3)},
        popularity=[1.0, 3.0, 0.0],
    )
    # median of positive popularity = 2: weights 0.5/(1+1/2), 0.5/(1+3/2), 0.5/(1+0)
    assert docs[:, 2].tolist() == pytest.approx([1 / 3, 0.2, 0.5])


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ([], "non-empty list"),
        ([{"name": "text", "dimension": 0}], r"/0/dimension: expected an integer >= 1, got 0"),
        ([{"name": "text", "dimension": 2, "weight": -1}], r"/0/weight: expected a number >= 0"),
        ([{"name": "image", "dimension": 2}], "a block named 'text' is required"),
        ([{"name": "text", "dimension": 2}, {"name": "text", "dimension": 2}], "unique"),
    ],
)
def test_layout_errors_name_the_pointer(raw, needle):
    with pytest.raises(TemplateError, match=needle):
        parse_blocks(raw)


def test_cooccurrence_known_counts_and_vectors():
    sessions = [[0, 1], [0, 1, 1], [2, 3]]
    counts = cooccurrence_counts(sessions, 5)
    assert counts[0, 1] == counts[1, 0] == 2
    assert counts[2, 3] == 1
    assert counts.sum() == 6
    assert (ppmi(counts) >= 0).all()
    vecs = item_embeddings(sessions, 5, dimension=4)
    unit = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
    assert unit[0] @ unit[1] == pytest.approx(1.0)  # bought together: same direction
    assert unit[0] @ unit[2] == pytest.approx(0.0, abs=1e-6)  # never together
    assert not vecs[4].any()  # never seen: empty behaviour block
    with pytest.raises(ValueError, match=r"outside 0\.\.4"):
        cooccurrence_counts([[0, 5]], 5)
