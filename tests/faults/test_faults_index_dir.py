"""A damaged, wiped or misplaced index directory: a clear error naming the path, never a silent
empty index, no data destroyed on the way, and service back once the directory is restored.

Builds on ``tests/contract/test_embedded_persistence.py`` (manifest, row files and docs.jsonl
damaged) and ``tests/contract/test_crash_recovery.py`` (kill -9 during writes): here the tantivy
directory itself, a data directory that is a file, and what the HTTP API answers meanwhile.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hybrid_search.api import create_app
from hybrid_search.errors import ConfigError, IndexCorruptError
from hybrid_search.ingest import index_documents
from hybrid_search.searcher import Searcher
from tests.conftest import HashEmbedder


def _built(make_searcher, corpus) -> Path:
    searcher = make_searcher(corpus)
    data_dir = searcher.backend.data_dir
    searcher.close()
    return data_dir


def _reopen(make_settings) -> Searcher:
    searcher = Searcher.from_settings(make_settings())
    searcher._embedder_factory = HashEmbedder
    return searcher


def _sizes(data_dir: Path) -> dict[str, int]:
    return {n: (data_dir / n).stat().st_size for n in ("vectors.f32", "columns.f64", "docs.jsonl")}


@pytest.mark.parametrize("damage", ["emptied", "removed", "meta-garbage", "replaced-by-file"])
def test_a_damaged_tantivy_directory_is_refused_and_nothing_is_cut(
    make_searcher, make_settings, corpus, damage
):
    data_dir = _built(make_searcher, corpus)
    tdir = data_dir / "tantivy"
    before = _sizes(data_dir)
    if damage == "meta-garbage":
        (tdir / "meta.json").write_text("{garbage")
    else:
        shutil.rmtree(tdir)
        if damage == "emptied":
            tdir.mkdir()
        elif damage == "replaced-by-file":
            tdir.write_text("not a directory")
    searcher = _reopen(make_settings)
    try:
        with pytest.raises(IndexCorruptError, match=str(tdir)):
            searcher.search({"query": "tote"})
        health = searcher.backend.health()
        assert not health.ok and str(tdir) in health.detail["error"]
        # A write must not paper over it with a fresh empty index either.
        with pytest.raises(IndexCorruptError):
            index_documents(
                [("line 1", corpus[0])],
                template=searcher.template,
                embedder=HashEmbedder(),
                backend=searcher.backend,
            )
    finally:
        searcher.close()
    assert _sizes(data_dir) == before, "the committed rows were not cut back"


def test_api_answers_503_naming_the_path_and_recovers_after_a_restore(
    make_searcher, make_settings, corpus, tmp_path
):
    data_dir = _built(make_searcher, corpus)
    backup = tmp_path / "backup"
    shutil.copytree(data_dir / "tantivy", backup)
    shutil.rmtree(data_dir / "tantivy")
    (data_dir / "tantivy").mkdir()
    searcher = _reopen(make_settings)
    with TestClient(create_app(searcher.settings, searcher=searcher, warm_up=False)) as client:
        r = client.post("/v1/search", json={"query": "black calfskin tote"})
        assert r.status_code == 503, r.text
        error = r.json()["error"]
        assert error["type"] == "index_corrupt" and str(data_dir / "tantivy") in error["message"]
        ready = client.get("/readyz")
        assert ready.status_code == 503 and str(data_dir / "tantivy") in ready.text
        assert client.get("/healthz").status_code == 200
        # The operator restores the directory: the running sidecar opens it on the next request.
        shutil.rmtree(data_dir / "tantivy")
        shutil.copytree(backup, data_dir / "tantivy")
        r = client.post("/v1/search", json={"query": "black calfskin tote"})
        assert r.status_code == 200 and r.json()["hits"][0]["id"] == "T-BAG-000"
        assert client.get("/v1/info").json()["documents"] == len(corpus)
    searcher.close()


def test_a_data_dir_that_is_a_file_is_a_clear_error(make_settings, tmp_path, corpus):
    target = tmp_path / "index"
    target.write_text("oops, a file")
    searcher = _reopen(make_settings)
    try:
        assert not searcher.backend.health().ok
        with pytest.raises(ConfigError, match=f"{target}.*HYBRID_SEARCH_EMBEDDED__DATA_DIR"):
            searcher.backend.ensure_index(model_id=HashEmbedder.model_id, dimension=384)
        with TestClient(create_app(searcher.settings, searcher=searcher, warm_up=False)) as client:
            r = client.post("/v1/documents", json={"documents": corpus[:2]})
            assert r.status_code == 500 and r.json()["error"]["type"] == "config_error"
            assert str(target) in r.json()["error"]["message"]
    finally:
        searcher.close()
    assert target.read_text() == "oops, a file"
