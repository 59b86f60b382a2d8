"""Batch re-embed (versioned, verified, atomic swap), index snapshots, and drift between them."""

from __future__ import annotations

import json

import numpy as np

from hybrid_search.backends.embedded import EmbeddedBackend
from hybrid_search.backends.embedded.versions import versions_dir
from hybrid_search.cli import main
from hybrid_search.documents import embedding_text, validate_document
from hybrid_search.observability.drift import load_snapshot
from hybrid_search.reembed import reembed as reembed_backend
from hybrid_search.searcher import Searcher
from hybrid_search.templates import load_template
from tests.conftest import HashEmbedder


def reembed(settings, template, embedder):
    """Re-embed the embedded index of ``settings`` (the live backend opened and closed here)."""
    live = EmbeddedBackend(settings.embedded.data_dir, template, settings.embedded)
    try:
        return reembed_backend(live, template, embedder)
    finally:
        live.close()


class HashEmbedderV2(HashEmbedder):
    """Another model version: the same bag of words, the vector space rotated."""

    model_id = "test/hash-embedder-v2"
    _rotation = np.linalg.qr(np.random.default_rng(3).normal(size=(384, 384)))[0].astype(np.float32)

    def _one(self, text):
        return super()._one(text) @ self._rotation


class ZeroFor(HashEmbedder):
    """A model that fails one document (an all-zero vector is refused by the index)."""

    model_id = "test/broken"

    def encode_documents(self, texts, *, batch_size=64, progress=False):
        vecs = super().encode_documents(texts)
        vecs[0] = 0.0
        return vecs


def test_reembed_swaps_to_a_verified_new_version(make_searcher, corpus):
    first = make_searcher(corpus)
    settings = first.settings
    data_dir = settings.embedded.data_dir
    first.close()
    report = reembed(settings, first.template, HashEmbedderV2())
    assert report.swapped
    assert (report.source_count, report.ingest.indexed) == (40, 40)
    assert data_dir.is_symlink()
    assert data_dir.resolve() == (versions_dir(data_dir) / "v2-hash-embedder-v2").resolve()
    history = json.loads((versions_dir(data_dir) / "versions.json").read_text())["versions"]
    assert [(v["version"], v["model_id"], v["active"]) for v in history] == [
        (1, "test/hash-embedder", False),
        (2, "test/hash-embedder-v2", True),
    ]
    # The swapped-in index serves the new model (and refuses the old one).
    searcher = Searcher.from_settings(settings)
    searcher._embedder_factory = HashEmbedderV2
    try:
        searcher.check_model()
        title = corpus[3]["title"]
        assert searcher.search({"query": title, "mode": "vector"}).hits[0]["id"] == corpus[3]["sku"]
        assert searcher.backend.count() == 40
    finally:
        searcher.close()
    # A second cycle: v3, the symlink replaced in place, v2 kept for rollback.
    again = reembed(settings, first.template, HashEmbedder())
    assert again.swapped and again.new_version == "v3-hash-embedder"
    assert again.old_version == "v2-hash-embedder-v2"
    assert data_dir.resolve().name == "v3-hash-embedder"
    assert (versions_dir(data_dir) / "v2-hash-embedder-v2").is_dir()


def test_reembed_with_a_failure_does_not_swap(make_searcher, corpus):
    first = make_searcher(corpus)
    settings = first.settings
    first.close()
    report = reembed(settings, first.template, ZeroFor())
    assert not report.swapped
    assert len(report.ingest.failed) == 1
    data_dir = settings.embedded.data_dir
    assert not data_dir.is_symlink()  # still the original index
    searcher = Searcher.from_settings(settings)
    try:
        assert searcher.backend.info().model_id == "test/hash-embedder"
    finally:
        searcher.close()


def test_snapshot_reembed_drift_chain(make_searcher, corpus, tmp_path, capsys):
    first = make_searcher(corpus)
    settings = first.settings
    data_dir = str(settings.embedded.data_dir)
    first.close()
    assert main(["--data-dir", data_dir, "snapshot", "--out", str(tmp_path / "a.npz")]) == 0
    reembed(settings, first.template, HashEmbedderV2())
    assert main(["--data-dir", data_dir, "snapshot", "--out", str(tmp_path / "b.npz")]) == 0
    a = load_snapshot(tmp_path / "a.npz")
    assert len(a.ids) == 40
    assert a.model_id == "test/hash-embedder"
    assert set(a.categories) == {d["category"] for d in corpus}
    capsys.readouterr()
    out = tmp_path / "drift"
    assert (
        main(
            [
                "drift",
                str(tmp_path / "a.npz"),
                str(tmp_path / "b.npz"),
                "--out",
                str(out),
                "-k",
                "5",
            ]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out)
    # v2 is v1 rotated: every neighbour kept, no movement once aligned.
    assert summary["aligned"] is True
    assert summary["common"] == 40
    assert summary["neighbour_overlap@5"] == 1.0
    assert abs(summary["top_n_centroid_shift"]) < 1e-5
    assert (out / "drift.png").exists()


def test_reembed_cli_with_drop_old(make_searcher, corpus, capsys, monkeypatch):
    import hybrid_search.embedding as embedding

    first = make_searcher(corpus)
    data_dir = first.settings.embedded.data_dir
    first.close()
    monkeypatch.setattr(embedding, "create_embedder", lambda _cfg: HashEmbedderV2())
    capsys.readouterr()
    assert main(["--data-dir", str(data_dir), "reembed"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["version"], out["documents"], out["swapped"]) == ("v2-hash-embedder-v2", 40, True)
    monkeypatch.setattr(embedding, "create_embedder", lambda _cfg: HashEmbedder())
    assert main(["--data-dir", str(data_dir), "reembed", "--drop-old"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["old_version"], out["version"], out["dropped_old"]) == (
        "v2-hash-embedder-v2",
        "v3-hash-embedder",
        True,
    )
    root = versions_dir(data_dir)
    assert not (root / "v2-hash-embedder-v2").exists() and (root / "v1-hash-embedder").is_dir()
    history = json.loads((root / "versions.json").read_text())["versions"]
    assert [(v["version"], v["active"]) for v in history] == [(1, False), (3, True)]


def test_snapshot_from_jsonl_keeps_zero_popularity(tmp_path, corpus, monkeypatch):
    import hybrid_search.embedding as embedding

    monkeypatch.setattr(embedding, "create_embedder", lambda _cfg: HashEmbedder())
    src = tmp_path / "catalogue.jsonl"
    src.write_text("".join(json.dumps(d) + "\n" for d in corpus[:5]))
    assert main(["snapshot", "--from-jsonl", str(src), "--out", str(tmp_path / "s.npz")]) == 0
    snap = load_snapshot(tmp_path / "s.npz")
    assert snap.ids == [d["sku"] for d in corpus[:5]]
    assert snap.popularity.tolist() == [d["popularity"] for d in corpus[:5]]
    assert corpus[0]["popularity"] == 0.0  # the case a falsy check would turn into NaN
    template = load_template()
    expected = HashEmbedder().encode_documents(
        [embedding_text(validate_document(d, template), template) for d in corpus[:5]]
    )
    assert np.allclose(snap.vectors, expected)
