"""Embedded engine state on disk: answers survive a reopen, a failed commit leaves nothing
behind, and a missing, damaged or foreign index is refused with an error that names the path."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from hybrid_search.backends.embedded.backend import EmbeddedBackend
from hybrid_search.documents import parse_filters
from hybrid_search.errors import (
    BackendError,
    IndexCorruptError,
    IndexNotFoundError,
    InvalidRequestError,
    ModelMismatchError,
)
from hybrid_search.ingest import index_documents
from hybrid_search.searcher import Searcher
from tests.conftest import HashEmbedder


class OtherModel(HashEmbedder):
    model_id = "test/another-model"


def _skus(backend: Any, hits: list[Any]) -> list[str]:
    found = backend.fetch([h.key for h in hits])
    assert set(found) == {h.key for h in hits}, "a leg returned a row fetch does not know"
    return [found[h.key][0] for h in hits]


def _upsert(searcher: Searcher, docs: list[dict[str, Any]]) -> Any:
    items = [(f"line {i}", d) for i, d in enumerate(docs, 1)]
    return index_documents(
        items, template=searcher.template, embedder=HashEmbedder(), backend=searcher.backend
    )


# --------------------------------------------------------------------------------- persistence
def _reopen(make_settings: Any, **overrides: Any) -> Searcher:
    searcher = Searcher.from_settings(make_settings(**overrides))
    searcher._embedder_factory = lambda: HashEmbedder()
    return searcher


QUERIES = ["black calfskin tote", "navy suede shoes", "silk scarf", "titanium watch"]


def _snapshot(searcher: Searcher) -> dict[str, Any]:
    backend, emb = searcher.backend, HashEmbedder()
    gold = parse_filters({"color": "gold"}, searcher.template)
    out: dict[str, Any] = {"count": backend.count()}
    for q in QUERIES:
        out[q] = (
            [(h.key, h.score) for h in backend.lexical(q, k=20, filters=[])],
            [(h.key, h.score) for h in backend.vector(emb.encode_query(q), k=20, filters=gold)],
            [(h["id"], h["score"]) for h in searcher.search({"query": q, "k": 10}).hits],
        )
    return out


def test_reopen_gives_same_answers(make_searcher, make_settings, corpus):
    searcher = make_searcher(corpus)
    assert searcher.backend.delete(["T-WAT-006", "T-SCA-007"]) == 2
    _upsert(searcher, [{**corpus[2], "title": "Oskarsson red suede chelsea boots"}])
    before = _snapshot(searcher)
    searcher.close()

    again = _reopen(make_settings)
    try:
        after = _snapshot(again)
        assert after.keys() == before.keys()
        assert after["count"] == before["count"] == len(corpus) - 2
        for q in QUERIES:
            for leg_before, leg_after in zip(before[q], after[q]):
                assert [key for key, _ in leg_after] == [key for key, _ in leg_before], q
                got, want = [s for _, s in leg_after], [s for _, s in leg_before]
                assert got == pytest.approx(want, rel=1e-6), q
        assert again.backend.get("T-WAT-006") is None
        assert again.backend.get("T-SHO-002")["title"].endswith("chelsea boots")
        extra = {**corpus[0], "sku": "T-NEW-100", "title": "Kinkajou backpack"}
        assert _upsert(again, [extra]).indexed == 1
    finally:
        again.close()

    third = _reopen(make_settings)
    try:
        # get() before any other call: it opens the index itself.
        assert third.backend.get("T-NEW-100")["title"] == "Kinkajou backpack"
        assert third.backend.count() == len(corpus) - 1
        assert _skus(third.backend, third.backend.lexical("kinkajou", k=5, filters=[])) == [
            "T-NEW-100"
        ]
    finally:
        third.close()


def test_sources_come_back_exactly_across_reopen(make_searcher, make_settings, corpus):
    """Stored rows are read back with orjson: the same values, floats to the last bit."""
    extras = {"margin": 0.1 + 0.2, "attributes": 'caf\u00e9 \U0001f45c, "quoted" \\ back'}
    doc = {**corpus[0], "sku": "T-RAW-001", "title": "Raw row tote", **extras}
    searcher = make_searcher([*corpus, doc])
    assert searcher.backend.get("T-RAW-001") == doc
    searcher.close()
    again = _reopen(make_settings)
    try:
        assert again.backend.get("T-RAW-001") == doc
        assert again.backend.get(corpus[1]["sku"]) == corpus[1]
    finally:
        again.close()


def test_rows_json_orjson_refuses_still_reads():
    from hybrid_search.backends.embedded.rows import _loads

    line = json.dumps(["x", {"n": 10**30, "f": float("nan")}]).encode()
    doc_id, source = _loads(line)
    assert doc_id == "x" and source["n"] == 10**30 and source["f"] != source["f"]


# ------------------------------------------------------------------------------------- errors
def test_missing_index_names_the_path(make_settings, tmp_path):
    searcher = _reopen(make_settings)
    try:
        with pytest.raises(
            IndexNotFoundError, match=re.escape(str((tmp_path / "index").resolve()))
        ):
            searcher.search({"query": "tote"})
        with pytest.raises(IndexNotFoundError):
            searcher.backend.count()
        assert searcher.backend.health().ok is False
    finally:
        searcher.close()


def _damage(data_dir: Path, what: str) -> str:
    """Damage one file of a closed index; returns the path the error must name."""
    target = data_dir / what
    if what == "manifest.json":
        target.unlink()
    elif what == "manifest-garbage":
        target = data_dir / "manifest.json"
        target.write_text("{not json")
    elif what == "docs.jsonl":
        lines = target.read_bytes().splitlines(keepends=True)
        target.write_bytes(b"".join(lines[:-3]))
    else:
        row = 384 * 4 if what == "vectors.f32" else 3 * 8
        target.write_bytes(target.read_bytes()[: -2 * row])
    return str(target)


@pytest.mark.parametrize(
    "what", ["manifest.json", "manifest-garbage", "vectors.f32", "columns.f64", "docs.jsonl"]
)
def test_damaged_index_is_corrupt_and_names_the_path(make_searcher, make_settings, corpus, what):
    searcher = make_searcher(corpus)
    data_dir = searcher.backend.data_dir
    searcher.close()
    path = _damage(data_dir, what)
    again = _reopen(make_settings)
    try:
        with pytest.raises(IndexCorruptError, match=re.escape(path)):
            again.search({"query": "tote"})
        with pytest.raises(IndexCorruptError):
            again.backend.count()
        assert again.backend.health().ok is False
    finally:
        again.close()


def test_other_model_is_refused(make_searcher, make_settings, corpus):
    make_searcher(corpus).close()
    searcher = _reopen(make_settings)
    searcher._embedder_factory = OtherModel
    try:
        for mode in ("hybrid", "vector", "auto"):
            with pytest.raises(ModelMismatchError, match="test/another-model"):
                searcher.search({"query": "tote", "mode": mode})
        with pytest.raises(ModelMismatchError, match="test/hash-embedder"):
            searcher.backend.ensure_index(model_id=OtherModel.model_id, dimension=384)
        with pytest.raises(ModelMismatchError):
            index_documents(
                [("line 1", corpus[0])],
                template=searcher.template,
                embedder=OtherModel(),
                backend=searcher.backend,
            )
        with pytest.raises(InvalidRequestError, match="768"):
            searcher.backend.ensure_index(model_id=HashEmbedder.model_id, dimension=768)
        assert searcher.backend.count() == len(corpus)
    finally:
        searcher.close()


def test_changed_template_layout_is_refused(
    make_searcher, make_settings, corpus, template, tmp_path
):
    make_searcher(corpus).close()
    body = json.loads(template.path.read_text())
    body["template"]["mappings"]["properties"]["description"]["analyzer"] = "standard"
    tdir = tmp_path / "changed"
    tdir.mkdir()
    (tdir / "products.json").write_text(json.dumps(body))
    searcher = _reopen(make_settings, templates_dir=tdir)
    try:
        with pytest.raises(ModelMismatchError, match="template"):
            searcher.search({"query": "tote"})
    finally:
        searcher.close()


# ------------------------------------------------------------------------- failed commits
@pytest.mark.parametrize("op", ["index", "delete"])
def test_failed_commit_leaves_nothing_behind(make_searcher, make_settings, corpus, monkeypatch, op):
    searcher = make_searcher(corpus)
    backend, emb = searcher.backend, HashEmbedder()
    rows = backend.health().detail["rows"]
    okapi = {**corpus[0], "title": "Okapi hammock"}  # an upsert whose delete must roll back
    tapir = {**corpus[1], "sku": "NEW-1", "title": "Tapir hammock"}

    def boom(self: Any, writer: Any, rows: int, generation: int) -> None:
        raise RuntimeError("disk full")

    with monkeypatch.context() as m:
        m.setattr(EmbeddedBackend, "_commit_meta", boom)
        write = {
            "index": lambda: backend.index([okapi, tapir], emb.encode_documents(["O", "T"])),
            "delete": lambda: backend.delete([corpus[0]["sku"], corpus[2]["sku"]]),
        }[op]
        with pytest.raises(BackendError, match="disk full"):
            write()

    def check(s: Searcher, extra: int) -> None:
        b = s.backend
        assert b.count() == len(corpus) + extra
        assert b.get(corpus[0]["sku"]) == corpus[0] and b.get(corpus[2]["sku"]) == corpus[2]
        assert b.get("NEW-1") is None
        assert b.lexical("okapi tapir", k=10, filters=[]) == []
        assert "T-BAG-000" in _skus(b, b.lexical("black calfskin tote", k=50, filters=[]))
        n = b.health().detail["rows"]
        assert (b.data_dir / "vectors.f32").stat().st_size == n * 384 * 4
        assert len((b.data_dir / "docs.jsonl").read_bytes().splitlines()) == n

    check(searcher, 0)
    assert backend.health().detail["rows"] == rows
    # the next commit must not carry the rolled-back adds or deletes with it
    assert _upsert(searcher, [{**corpus[3], "sku": "NEW-2", "title": "Zorilla hammock"}]).indexed
    check(searcher, 1)
    assert [h.key for h in backend.lexical("zorilla", k=5, filters=[])] == [rows]
    searcher.close()
    again = _reopen(make_settings)
    try:
        check(again, 1)
        assert _skus(again.backend, again.backend.lexical("zorilla", k=5, filters=[])) == ["NEW-2"]
    finally:
        again.close()
