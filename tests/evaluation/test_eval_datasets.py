"""BEIR loading, text fields, query selection and splits, the evaluation template."""

from __future__ import annotations

import json

import pytest

from hybrid_search.documents import embedding_text, validate_document
from hybrid_search.errors import InvalidRequestError
from hybrid_search.evaluation.datasets import (
    EvalDataset,
    eval_documents,
    eval_template,
    load_beir,
    select_queries,
    split_queries,
)


def write_beir(root, *, qrels_header=True, nested=False):
    corpus = [
        {"_id": "d1", "title": "Red oak table", "text": "solid wood", "tags": ["a", "b"]},
        {"_id": "d2", "title": "Blue sofa", "text": "three seats"},
        {"_id": 3, "title": "Lamp"},
    ]
    (root / "corpus.jsonl").write_text("\n".join(json.dumps(d) for d in corpus) + "\n")
    queries = [{"_id": "q1", "text": "oak table"}, {"_id": "q2", "text": "sofa"}]
    (root / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in queries))
    rows = ["q1\td1\t2", "q1\td2\t0", "q2\td2\t1"]
    if qrels_header:
        rows.insert(0, "query-id\tcorpus-id\tscore")
    target = root / "qrels" / "test.tsv" if nested else root / "qrels.tsv"
    target.parent.mkdir(exist_ok=True)
    target.write_text("\n".join(rows) + "\n")
    return root


def test_load_default_text_fields(tmp_path):
    ds = load_beir(write_beir(tmp_path))
    assert ds.text_fields == ("title", "text")
    assert ds.text("d1") == "Red oak table. solid wood"
    assert ds.text("3") == "Lamp"
    assert ds.qrels == {"q1": {"d1": 2, "d2": 0}, "q2": {"d2": 1}}
    assert ds.queries["q2"] == "sofa"


def test_text_fields_choose_and_join_lists(tmp_path):
    ds = load_beir(write_beir(tmp_path, qrels_header=False, nested=True), text_fields=["tags"])
    assert ds.text("d1") == "a, b"
    assert ds.text_fields == ("tags",)
    other = load_beir(tmp_path, text_fields=["title"])
    assert other.digest != ds.digest


def test_unknown_text_field_names_the_choices(tmp_path):
    with pytest.raises(
        InvalidRequestError, match=r"'brand' is not in .*\['tags', 'text', 'title'\]"
    ):
        load_beir(write_beir(tmp_path), text_fields=["brand"])


def test_bad_grade_names_the_line(tmp_path):
    write_beir(tmp_path)
    (tmp_path / "qrels.tsv").write_text("q1\td1\thigh\n")
    with pytest.raises(InvalidRequestError, match="line 1: score 'high'"):
        load_beir(tmp_path)


def test_missing_qrels(tmp_path):
    write_beir(tmp_path)
    (tmp_path / "qrels.tsv").unlink()
    with pytest.raises(InvalidRequestError, match=r"qrels.tsv or qrels/test.tsv"):
        load_beir(tmp_path)


def test_select_and_split_are_seeded_and_disjoint():
    qrels = {f"q{i:03d}": {"d": 1} | ({"e": 1} if i % 2 else {}) for i in range(100)}
    ds = EvalDataset("stub", {}, {q: "text" for q in qrels}, qrels, ("title",), "0")
    two = select_queries(ds, min_judgments=2)
    assert len(two) == 50
    sample = select_queries(ds, sample=10, seed=0)
    assert sample == select_queries(ds, sample=10, seed=0)
    assert sample != select_queries(ds, sample=10, seed=1)
    rest = select_queries(ds, exclude=sample)
    assert len(rest) == 90
    assert not set(rest) & set(sample)
    train, held = split_queries(two, train_fraction=0.6, seed=0)
    assert len(train) == 30
    assert len(held) == 20
    assert sorted(train + held) == sorted(two)
    with pytest.raises(ValueError, match="train_fraction"):
        split_queries(two, train_fraction=1.0)


def test_eval_template_indexes_the_dataset(tmp_path):
    ds = load_beir(write_beir(tmp_path))
    template = eval_template(ds.text_fields, dimension=8, boosts={"title": 2.0})
    assert template.lexical_fields == {"title": 2.0, "text": 1.0}
    docs = [validate_document(d, template) for d in eval_documents(ds)]
    assert [d["doc_id"] for d in docs] == ["3", "d1", "d2"]
    assert embedding_text(docs[1], template) == ds.text("d1")
