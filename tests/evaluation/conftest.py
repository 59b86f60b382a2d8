"""A tiny BEIR dataset and an evaluation session over it (hash embedder, no model)."""

from __future__ import annotations

import json

import pytest

from hybrid_search.evaluation.session import open_session
from tests.conftest import HashEmbedder

DOCS = {
    "d1": "red oak dining table",
    "d2": "blue velvet sofa",
    "d3": "white porcelain toilet seat",
    "d4": "cordless power drill",
    "d5": "oak bookshelf with five shelves",
    "d6": "garden hose reel",
}
QUERIES = {
    "q1": "oak table",
    "q2": "sofa",
    "q3": "toilet seat",
    "q4": "drill",
    "q5": "tiolet",  # a typo: no exact term matches
    "q6": "hose",
}
QRELS = {
    "q1": {"d1": 2, "d5": 1},
    "q2": {"d2": 2},
    "q3": {"d3": 2},
    "q4": {"d4": 2},
    "q5": {"d3": 2},
    "q6": {"d6": 2, "d1": 0},
}


@pytest.fixture
def beir(tmp_path):
    root = tmp_path / "tiny"
    root.mkdir()
    (root / "corpus.jsonl").write_text(
        "".join(json.dumps({"_id": k, "title": v}) + "\n" for k, v in DOCS.items())
    )
    (root / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": k, "text": v}) + "\n" for k, v in QUERIES.items())
    )
    rows = [f"{q}\t{d}\t{g}" for q, judged in QRELS.items() for d, g in judged.items()]
    (root / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\n" + "\n".join(rows) + "\n")
    return root


@pytest.fixture
def session(beir, make_settings, tmp_path):
    s = open_session(
        make_settings(),
        beir,
        text_fields=["title"],
        cache_dir=tmp_path / "cache",
        embedder_factory=HashEmbedder,
    )
    yield s
    s.close()
