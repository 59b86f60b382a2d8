"""The ingest path loses nothing silently: every input is indexed or listed in ``failed`` with a
reason that names the field (or the line, where there is no document to name)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hybrid_search.backends.embedded.backend import META_ID
from hybrid_search.errors import EmbedderError
from hybrid_search.ingest import index_documents, read_jsonl
from tests.conftest import HashEmbedder


class PickyEmbedder(HashEmbedder):
    """Zero vector for 'zerovec', NaN for 'nanvec', fails the whole batch on 'explode'."""

    def encode_documents(self, texts: Any, *, batch_size: int = 64, progress: bool = False) -> Any:
        if any("explode" in t for t in texts):
            raise EmbedderError("the model fell over")
        out = super().encode_documents(texts, batch_size=batch_size)
        for i, text in enumerate(texts):
            if "zerovec" in text:
                out[i] = 0.0
            elif "nanvec" in text:
                out[i, 3] = np.nan
        return out


def _doc(corpus: list[dict[str, Any]], i: int, **changes: Any) -> dict[str, Any]:
    doc = {**corpus[i % len(corpus)], "sku": f"I-{i:03d}", **changes}
    return {k: v for k, v in doc.items() if v is not ...}


def _bad_docs(corpus: list[dict[str, Any]]) -> list[tuple[Any, str, str]]:
    """(item number, input, label it must be reported under, text the reason must contain)."""
    return [
        (10, _doc(corpus, 10, title=5), "I-010", "'title'"),
        (11, _doc(corpus, 11, price="cheap"), "I-011", "'price'"),
        (12, _doc(corpus, 12, price=float("nan")), "I-012", "'price'"),
        (13, _doc(corpus, 13, in_stock="yes"), "I-013", "'in_stock'"),
        (14, _doc(corpus, 14, color=[]), "I-014", "'color'"),
        (15, _doc(corpus, 15, color=["red", 3]), "I-015", "'color'"),
        (
            16,
            _doc(corpus, 16, inventory_received_at="last tuesday"),
            "I-016",
            "'inventory_received_at'",
        ),
        (17, _doc(corpus, 17, colour="red"), "I-017", "'colour'"),
        (18, _doc(corpus, 18, embedding=[0.1] * 384), "I-018", "'embedding'"),
        (19, _doc(corpus, 19, title=...), "I-019", "'title'"),
        (20, _doc(corpus, 20, sku=...), "item 20", "'sku'"),
        (22, _doc(corpus, 22, sku=["A", "B"]), "item 22", "'sku'"),
        (23, _doc(corpus, 23, sku="x" * 513), "x" * 513, "'sku'"),
        (24, _doc(corpus, 24, sku=7), "item 24", "'sku'"),
        (25, _doc(corpus, 25, sku=META_ID), META_ID, "reserved"),
        (26, _doc(corpus, 26, title="zerovec tote"), "I-026", "embedding"),
        (27, _doc(corpus, 27, title="nanvec tote"), "I-027", "embedding"),
        (28, 42, "item 28", "not a JSON object"),
        (29, ["I-029"], "item 29", "not a JSON object"),
        (30, None, "item 30", "not a JSON object"),
    ]


def test_every_input_is_indexed_or_reported(make_searcher, corpus):
    searcher = make_searcher()
    good = [_doc(corpus, i) for i in range(10)]
    bad = _bad_docs(corpus)
    items = [(f"item {i}", d) for i, d in enumerate(good)]
    items += [(f"item {n}", raw) for n, raw, _, _ in bad]
    # an invalid re-write of a good document must not replace it
    items.append(("item 99", {**good[0], "price": -1, "in_stock": "no"}))
    report = index_documents(
        items,
        template=searcher.template,
        embedder=PickyEmbedder(),
        backend=searcher.backend,
        batch_size=4,
    )
    assert report.indexed + len(report.failed) == len(items)
    assert report.indexed == len(good)
    assert report.items == []  # per-item outcomes only when asked (per_item=True)
    reasons = dict(report.failed)
    assert len(reasons) == len(report.failed), "one input reported twice"
    for _, _, label, needle in bad:
        assert label in reasons, label
        assert needle in reasons[label], (label, reasons[label])
    assert "'in_stock'" in reasons["I-000"]
    backend = searcher.backend
    assert backend.count() == len(good)
    assert backend.get("I-000") == good[0]
    for _, raw, _, _ in bad:
        if isinstance(raw, dict) and isinstance(raw.get("sku"), str):
            assert backend.get(raw["sku"]) is None
    assert backend.lexical("zerovec nanvec", k=10, filters=[]) == []


def test_a_failing_batch_is_reported_whole(make_searcher, corpus):
    searcher = make_searcher()
    docs = [_doc(corpus, i) for i in range(6)]
    docs[3] = _doc(corpus, 3, title="explode")
    report = index_documents(
        [(f"line {i}", d) for i, d in enumerate(docs, 1)],
        template=searcher.template,
        embedder=PickyEmbedder(),
        backend=searcher.backend,
        batch_size=2,
    )
    assert report.indexed == 4
    assert sorted(sku for sku, _ in report.failed) == ["I-002", "I-003"]
    assert all("fell over" in reason for _, reason in report.failed)
    assert searcher.backend.count() == 4 and searcher.backend.get("I-002") is None


def test_item_outcomes_follow_the_input_order(make_searcher, corpus):
    # Failures from validation (at once), from the backend (zero vector) and from a whole
    # batch (the embedder) land at their input positions, among the indexed ones.
    searcher = make_searcher()
    docs: list[Any] = [
        _doc(corpus, 0),
        _doc(corpus, 1, title="zerovec tote"),
        _doc(corpus, 2, price="cheap"),
        _doc(corpus, 3),
        _doc(corpus, 4, sku=...),
        _doc(corpus, 5, title="explode"),
        _doc(corpus, 6),
        _doc(corpus, 7),
    ]
    report = index_documents(
        [(f"item {i}", d) for i, d in enumerate(docs)],
        template=searcher.template,
        embedder=PickyEmbedder(),
        backend=searcher.backend,
        batch_size=2,
        per_item=True,
    )
    assert [(o.index, o.id) for o in report.items] == [
        (0, "I-000"),
        (1, "I-001"),
        (2, "I-002"),
        (3, "I-003"),
        (4, None),
        (5, "I-005"),
        (6, "I-006"),
        (7, "I-007"),
    ]
    failed = [o.index for o in report.items if o.reason is not None]
    # 3 waits in a batch with 5 (2 and 4 never reach one) and fails with it, reported at 3
    assert failed == [1, 2, 3, 4, 5]
    reasons = {o.index: o.reason or "" for o in report.items}
    assert "embedding" in reasons[1] and "'price'" in reasons[2] and "'sku'" in reasons[4]
    assert "fell over" in reasons[3] and "fell over" in reasons[5]
    assert report.indexed == 3 == sum(o.reason is None for o in report.items)
    assert len(report.failed) == len(failed)


def test_jsonl_file_errors_name_the_line(make_searcher, corpus, tmp_path: Path):
    searcher = make_searcher()
    lines = [
        json.dumps(_doc(corpus, 0)),
        "{not json",
        "",
        json.dumps(_doc(corpus, 1)),
        "[1, 2, 3]",
        json.dumps(_doc(corpus, 2, price="free")),
        '{"sku": "I-004", "title": "trailing comma",}',
        "   ",
        json.dumps(_doc(corpus, 3, title=...)),
        json.dumps(_doc(corpus, 5)),
    ]
    path = tmp_path / "docs.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = index_documents(
        read_jsonl(path),
        template=searcher.template,
        embedder=HashEmbedder(),
        backend=searcher.backend,
        batch_size=2,
    )
    inputs = sum(1 for line in lines if line.strip())
    assert report.indexed + len(report.failed) == inputs
    assert report.indexed == 3
    reasons = dict(report.failed)
    assert set(reasons) == {"line 2", "line 5", "I-002", "line 7", "I-003"}
    assert "not valid JSON" in reasons["line 2"] and "not valid JSON" in reasons["line 7"]
    assert "not a JSON object" in reasons["line 5"]
    assert "'price'" in reasons["I-002"] and "'title'" in reasons["I-003"]
    assert searcher.backend.count() == 3


def test_unreadable_file_is_an_invalid_request(tmp_path: Path):
    from hybrid_search.errors import InvalidRequestError

    with pytest.raises(InvalidRequestError, match=r"missing\.jsonl"):
        list(read_jsonl(tmp_path / "missing.jsonl"))


def test_empty_id_is_reported_under_its_line(make_searcher, corpus):
    searcher = make_searcher()
    items = [("line 1", _doc(corpus, 0)), ("line 2", _doc(corpus, 1, sku=""))]
    report = index_documents(
        items, template=searcher.template, embedder=HashEmbedder(), backend=searcher.backend
    )
    assert report.indexed == 1
    assert report.failed[0][0] == "line 2" and "'sku'" in report.failed[0][1]


def test_invalid_utf8_line_is_reported_not_fatal(make_searcher, corpus, tmp_path: Path):
    searcher = make_searcher()
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(
        json.dumps(_doc(corpus, 0)).encode()
        + b"\n"
        + b'{"sku": "I-001", "title": "caf\xe9 tote"}\n'
        + json.dumps(_doc(corpus, 2)).encode()
        + b"\n"
    )
    report = index_documents(
        read_jsonl(path),
        template=searcher.template,
        embedder=HashEmbedder(),
        backend=searcher.backend,
    )
    assert report.indexed == 2
    assert [where for where, _ in report.failed] == ["line 2"]


def test_huge_integer_field_is_reported_not_fatal(make_searcher, corpus):
    searcher = make_searcher()
    items = [("line 1", _doc(corpus, 0)), ("line 2", _doc(corpus, 1, price=10**400))]
    report = index_documents(
        items, template=searcher.template, embedder=HashEmbedder(), backend=searcher.backend
    )
    assert report.indexed == 1
    assert report.failed[0][0] == "I-001" and "'price'" in report.failed[0][1]
