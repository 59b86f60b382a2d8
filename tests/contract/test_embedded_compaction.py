"""Merging the embedded lexical index into one segment (``optimize`` / ``compact_lexical``):
the same answers before and after, writes and reopen still work, leftovers are cleaned up."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hybrid_search.errors import BackendError
from hybrid_search.ingest import index_documents
from hybrid_search.searcher import Searcher
from tests.conftest import HashEmbedder

QUERIES = ["black calfskin tote", "navy suede shoes", "silk scarf", "made by hand"]


def _load_in_batches(searcher: Searcher, docs: list[dict[str, Any]], batch: int) -> None:
    report = index_documents(
        ((f"line {i}", d) for i, d in enumerate(docs)),
        template=searcher.template,
        embedder=HashEmbedder(),
        backend=searcher.backend,
        batch_size=batch,
    )
    assert report.failed == []


def _answers(searcher: Searcher) -> dict[str, Any]:
    """Lexical hits as ``(id, score)`` and hybrid result ids (row keys differ between indexes)."""
    backend = searcher.backend
    out: dict[str, Any] = {"count": backend.count()}
    for q in QUERIES:
        hits = backend.lexical(q, k=50, filters=[], fuzzy=True)
        found = backend.fetch([h.key for h in hits])
        out[q] = [(found[h.key][0], round(h.score, 5)) for h in hits]
        out[f"search {q}"] = [h["id"] for h in searcher.search({"query": q, "k": 20}).hits]
    return out


def _lexical_dirs(searcher: Searcher) -> list[str]:
    return sorted(p.name for p in searcher.backend.data_dir.glob("tantivy*"))


def test_compaction_answers_like_an_index_built_in_one_go(make_searcher, make_settings, corpus):
    searcher = make_searcher()
    _load_in_batches(searcher, corpus, batch=7)  # several commits: several segments
    gone = {corpus[0]["sku"], corpus[5]["sku"]}
    searcher.backend.delete(sorted(gone))
    backend = searcher.backend
    assert backend._open().searcher.num_segments > 1
    before = _answers(searcher)
    assert backend.compact_lexical() is True
    assert backend._open().searcher.num_segments == 1
    after = _answers(searcher)
    # Deleted documents no longer weigh in BM25's statistics (as after OpenSearch's force
    # merge), so scores move: they equal those of the live documents indexed in one commit.
    fresh = make_searcher(embedded={"data_dir": backend.data_dir.parent / "fresh"})
    _load_in_batches(fresh, [d for d in corpus if d["sku"] not in gone], batch=1000)
    assert fresh.backend._open().searcher.num_segments == 1
    assert after == _answers(fresh)
    for q in QUERIES:  # the same documents match
        assert {i for i, _ in after[q]} == {i for i, _ in before[q]}
    assert backend.get(corpus[0]["sku"]) is None  # deleted stays deleted
    (name,) = _lexical_dirs(searcher)
    manifest = json.loads((backend.data_dir / "manifest.json").read_text())
    assert manifest["tantivy_dir"] == name != "tantivy"
    assert backend.compact_lexical() is False  # already one segment


def test_writes_and_reopen_after_compaction(make_searcher, make_settings, corpus):
    searcher = make_searcher()
    _load_in_batches(searcher, corpus[:20], batch=5)
    searcher.backend.optimize()  # HNSW upkeep (none due here) and the merge
    assert searcher.backend._open().searcher.num_segments == 1
    _load_in_batches(searcher, corpus[20:], batch=50)  # the writer reopens on the new index
    changed = {**corpus[3], "title": "Vantier emerald velvet opera cape"}
    _load_in_batches(searcher, [changed], batch=1)
    after = _answers(searcher)
    searcher.close()
    reopened = Searcher.from_settings(make_settings())
    reopened._embedder_factory = lambda: HashEmbedder()
    try:
        assert _answers(reopened) == after
        (hit,) = reopened.backend.lexical("emerald velvet opera cape", k=5, filters=[])
        assert reopened.backend.fetch([hit.key])[hit.key][0] == corpus[3]["sku"]
    finally:
        reopened.close()


def test_an_interrupted_compaction_is_ignored_then_removed(make_searcher, make_settings, corpus):
    searcher = make_searcher()
    _load_in_batches(searcher, corpus, batch=9)
    searcher.backend.optimize()
    _load_in_batches(searcher, corpus[:9], batch=3)  # more segments after the first merge
    before = _answers(searcher)
    data_dir = searcher.backend.data_dir
    searcher.close()
    # A crash after writing part of a new directory, before the manifest switch.
    stray = data_dir / "tantivy-0123456789ab"
    stray.mkdir()
    (stray / "meta.json").write_text("{not json")
    reopened = Searcher.from_settings(make_settings())
    reopened._embedder_factory = lambda: HashEmbedder()
    try:
        assert _answers(reopened) == before  # the manifest still names the old index
        assert reopened.backend.compact_lexical() is True
        assert not stray.exists()
        assert len(_lexical_dirs(reopened)) == 1
        after = _answers(reopened)
        assert {q: {i for i, _ in after[q]} for q in QUERIES} == {
            q: {i for i, _ in before[q]} for q in QUERIES
        }
    finally:
        reopened.close()


def test_compaction_needs_the_writer_lock(make_searcher, make_settings, corpus):
    searcher = make_searcher()
    _load_in_batches(searcher, corpus, batch=9)  # this one holds the writer now
    other = Searcher.from_settings(make_settings())  # a second process, as far as tantivy knows
    other._embedder_factory = lambda: HashEmbedder()
    try:
        with pytest.raises(BackendError, match="another process"):
            other.backend.compact_lexical()
        assert len(_lexical_dirs(other)) == 1  # nothing was started
    finally:
        other.close()


def test_a_failed_compaction_keeps_the_old_index(make_searcher, corpus, monkeypatch):
    searcher = make_searcher()
    _load_in_batches(searcher, corpus, batch=9)
    backend = searcher.backend
    before, dirs = _answers(searcher), _lexical_dirs(searcher)
    calls = {"n": 0}
    real = backend.lex.to_tantivy

    def failing(doc_id, key, doc):
        calls["n"] += 1
        if calls["n"] > 5:
            raise OSError("disk full")
        return real(doc_id, key, doc)

    monkeypatch.setattr(backend.lex, "to_tantivy", failing)
    with pytest.raises(BackendError, match=r"merging the lexical index .* disk full"):
        backend.compact_lexical()
    monkeypatch.setattr(backend.lex, "to_tantivy", real)
    assert _lexical_dirs(searcher) == dirs  # the partial directory was removed
    assert _answers(searcher) == before
    _load_in_batches(searcher, corpus[:3], batch=3)  # the writer still works
    assert backend.compact_lexical() is True


def test_small_writes_after_a_merge_do_not_rewrite_the_index(make_searcher, corpus):
    searcher = make_searcher()
    _load_in_batches(searcher, corpus, batch=9)
    backend = searcher.backend
    assert backend.compact_lexical() is True
    _load_in_batches(searcher, corpus[:2], batch=1)  # 2 rows: under a tenth of the documents
    assert backend._open().searcher.num_segments > 1
    assert backend.compact_lexical() is False
    backend.optimize()  # the CLI's ingest path: no rewrite for a handful of upserts
    assert backend._open().searcher.num_segments > 1
    assert backend.compact_lexical(force=True) is True
    assert backend._open().searcher.num_segments == 1
    _load_in_batches(searcher, corpus[:6], batch=2)  # 6 more rows: over a tenth of 40
    assert backend.compact_lexical() is True
