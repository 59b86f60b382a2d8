"""A process killed while writing leaves an index that opens to exactly a committed state.

The writer runs in a child process (the real ``EmbeddedBackend``, HashEmbedder vectors) and dies
hard with ``os._exit`` or SIGKILL; the parent reopens the data directory and checks what is there,
that both legs agree, that every row still lines up with its document, and that writing goes on.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from hybrid_search.documents import embedding_text
from hybrid_search.ingest import index_documents
from hybrid_search.searcher import Searcher
from tests.conftest import HashEmbedder

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
ALL_TEXT = "made by hand"

CHILD = r"""
import json, os, sys
sys.path.insert(0, sys.argv[1])
from tests.conftest import HashEmbedder
from hybrid_search.backends.embedded.backend import EmbeddedBackend
from hybrid_search.config import load_settings
from hybrid_search.ingest import index_documents
from hybrid_search.searcher import Searcher

mode, data_dir, docs_path, progress = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
docs = json.loads(open(docs_path).read())
searcher = Searcher.from_settings(load_settings(embedded={"data_dir": data_dir}))
backend, emb = searcher.backend, HashEmbedder()

def write(batch):
    report = index_documents(((d["sku"], d) for d in batch), template=searcher.template,
                             embedder=emb, backend=backend)
    assert report.failed == [], report.failed

write(docs["a"])
original = EmbeddedBackend._commit_meta

def before_commit(self, writer, rows, generation):
    os._exit(1)

def after_commit(self, writer, rows, generation):
    original(self, writer, rows, generation)
    os._exit(1)

if mode == "index-before-commit":
    EmbeddedBackend._commit_meta = before_commit
    write(docs["b"])
elif mode == "index-after-commit":
    EmbeddedBackend._commit_meta = after_commit
    write(docs["b"])
elif mode == "delete-before-commit":
    EmbeddedBackend._commit_meta = before_commit
    backend.delete([d["sku"] for d in docs["a"][:5]])
elif mode == "loop":
    for i, doc in enumerate(docs["b"]):
        write([doc])
        if i % 3 == 2:
            backend.delete([docs["b"][i - 1]["sku"]])
        with open(progress, "w") as fh:
            fh.write(str(i + 1))
            fh.flush()
sys.exit(3)  # a crash mode that did not crash
"""


def _variants(corpus: list[dict[str, Any]], tag: str, n: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        base = corpus[i % len(corpus)]
        out.append({**base, "sku": f"{tag}-{i:04d}", "title": f"{base['title']} {tag}{i}"})
    return out


@pytest.fixture
def child(tmp_path: Path) -> Any:
    script = tmp_path / "child.py"
    script.write_text(CHILD)

    def start(mode: str, a: list[dict[str, Any]], b: list[dict[str, Any]]) -> subprocess.Popen:
        docs = tmp_path / "docs.json"
        docs.write_text(json.dumps({"a": a, "b": b}))
        args = [str(ROOT), mode, str(tmp_path / "index"), str(docs), str(tmp_path / "progress")]
        return subprocess.Popen(
            [sys.executable, str(script), *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    return start


def _open(make_settings: Any) -> Searcher:
    searcher = Searcher.from_settings(make_settings())
    searcher._embedder_factory = lambda: HashEmbedder()
    return searcher


def _check_consistent(searcher: Searcher) -> set[str]:
    """Both legs, fetch and the row files agree; every row's vector belongs to its document."""
    backend, emb = searcher.backend, HashEmbedder()
    count = backend.count()
    lex = backend.lexical(ALL_TEXT, k=10_000, filters=[])
    vec = backend.vector(emb.encode_query("tote"), k=10_000, filters=[])
    assert len(lex) == len(vec) == count
    lex_src, vec_src = backend.fetch([h.key for h in lex]), backend.fetch([h.key for h in vec])
    assert set(lex_src) == {h.key for h in lex} and set(vec_src) == {h.key for h in vec}
    skus = {sku for sku, _ in lex_src.values()}
    assert skus == {sku for sku, _ in vec_src.values()} and len(skus) == count
    for key, (sku, source) in vec_src.items():
        assert source["sku"] == sku and backend.get(sku) == source
        top = backend.vector(
            emb.encode_query(embedding_text(source, searcher.template)), k=1, filters=[]
        )
        assert top[0].key == key and top[0].score == pytest.approx(1.0, abs=1e-5), sku
    rows = backend.health().detail["rows"]
    data = backend.data_dir
    assert (data / "vectors.f32").stat().st_size == rows * 384 * 4
    assert (data / "columns.f64").stat().st_size == rows * 3 * 8
    assert len((data / "docs.jsonl").read_bytes().splitlines()) == rows
    return skus


def _write(searcher: Searcher, docs: list[dict[str, Any]]) -> None:
    report = index_documents(
        ((d["sku"], d) for d in docs),
        template=searcher.template,
        embedder=HashEmbedder(),
        backend=searcher.backend,
    )
    assert report.failed == [] and report.indexed == len(docs)


@pytest.mark.parametrize(
    "mode", ["index-before-commit", "index-after-commit", "delete-before-commit"]
)
def test_crash_between_writes(child, make_settings, corpus, mode):
    batch_a = _variants(corpus, "A", 20)
    # batch B adds new docs and re-writes two of batch A (an upsert must be all or nothing)
    batch_b = [
        *_variants(corpus, "B", 15),
        {**batch_a[0], "title": "Pangolin rucksack"},
        {**batch_a[1], "title": "Pangolin duffel"},
    ]
    proc = child(mode, batch_a, batch_b)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err.decode()[-2000:]

    expected = {d["sku"] for d in batch_a}
    if mode == "index-after-commit":
        expected |= {d["sku"] for d in batch_b}
    searcher = _open(make_settings)
    try:
        assert searcher.backend.count() == len(expected)
        assert _check_consistent(searcher) == expected
        pangolins = searcher.backend.lexical("pangolin", k=10, filters=[])
        assert len(pangolins) == (2 if mode == "index-after-commit" else 0)
        if mode != "index-after-commit":
            assert searcher.backend.get(batch_a[0]["sku"]) == batch_a[0]
        resp = searcher.search({"query": "calfskin tote", "k": 20, "mode": "hybrid"})
        assert resp.hits and {h["id"] for h in resp.hits} <= expected
        _write(searcher, _variants(corpus, "C", 12))
    finally:
        searcher.close()

    again = _open(make_settings)
    try:
        assert again.backend.count() == len(expected) + 12
        assert _check_consistent(again) == expected | {f"C-{i:04d}" for i in range(12)}
    finally:
        again.close()


@pytest.mark.parametrize("after_commits", [4, 11])
def test_kill_9_during_many_small_commits(child, make_settings, corpus, tmp_path, after_commits):
    batch_a = _variants(corpus, "A", 5)
    batch_b = _variants(corpus, "L", 400)
    proc = child("loop", batch_a, batch_b)
    progress = tmp_path / "progress"
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            text = progress.read_text() if progress.exists() else ""
            if text and int(text) >= after_commits:
                break
            time.sleep(0.005)
        assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    reported = int(progress.read_text())

    searcher = _open(make_settings)
    try:
        skus = _check_consistent(searcher)
        loop = sorted(s for s in skus if s.startswith("L-"))
        assert skus - set(loop) == {d["sku"] for d in batch_a}
        # a committed state is a prefix of the loop: docs 0..n-1, minus every third's neighbour
        n = max(int(s[2:]) for s in loop) + 1
        assert n >= reported
        present = set(range(n)) - {i - 1 for i in range(n - 1) if i % 3 == 2}
        states = [present]
        if (n - 1) % 3 == 2:  # the delete that follows doc n-1 may have committed too
            states.append(present - {n - 2})
        assert {int(s[2:]) for s in loop} in states
        _write(searcher, _variants(corpus, "C", 7))
        total = searcher.backend.count()
    finally:
        searcher.close()
    again = _open(make_settings)
    try:
        assert again.backend.count() == total
        assert len(_check_consistent(again)) == total
    finally:
        again.close()
