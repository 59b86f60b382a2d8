"""Issue 15, section 3A, on a real OpenSearch: ``reindex`` while searches keep coming.

A reader thread searches through a Searcher without a pause and an alias watcher polls
``GET /_alias`` while the next index version is built and the alias swapped: no search fails or
comes back without its expected hit, the alias always names exactly one index, the new version
holds exactly the documents of the old one, and the old version stays until ``--drop-old``.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from hybrid_search.cli import main
from hybrid_search.config import load_settings
from hybrid_search.ingest import index_documents
from hybrid_search.reembed import reembed
from hybrid_search.searcher import Searcher
from tests.conftest import HashEmbedder, drop_alias, guard_cluster_client, searcher_with

CORPUS = Path(__file__).parents[1] / "data" / "corpus.jsonl"
EMB = HashEmbedder()


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.load(resp)


def _indices(url: str, alias: str) -> set[str]:
    """This alias's versioned indices on the cluster (by listing: a GET takes the wildcard)."""
    rows = _get(f"{url}/_cat/indices/{alias}-v*?format=json&h=index&expand_wildcards=all")
    return {row["index"] for row in rows}


def delete_indices(url: str, alias: str) -> None:
    """Delete this alias's indices one by one: ``action.destructive_requires_name`` (true on the
    test clusters) refuses ``DELETE /<alias>-v*``, so ``drop_alias`` alone leaves them."""
    for index in _indices(url, alias):
        req = urllib.request.Request(f"{url}/{index}", method="DELETE")
        try:
            urllib.request.urlopen(req, timeout=30).close()
        except urllib.error.HTTPError as exc:  # already gone
            if exc.code != 404:
                raise


def products(n: int) -> list[dict[str, Any]]:
    """``n`` products with unique skus and titles (``... no. 17``), cycled from the corpus."""
    base = [json.loads(line) for line in CORPUS.read_text().splitlines() if line]
    docs = []
    for i in range(n):
        doc = dict(base[i % len(base)])
        doc["sku"] = f"{doc['sku']}-{i:05d}"
        doc["title"] = f"{doc['title']} no. {i}"
        docs.append(doc)
    return docs


@dataclass
class Reader:
    """Searches in a loop until stopped; keeps every failure and every wrong answer."""

    search: Callable[[str], list[str]]
    queries: list[tuple[str, str]]  # (query, the sku that must be among the hits)
    done: list[float] = field(default_factory=list)  # when each search finished (monotonic)
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _run(self) -> None:
        i = 0
        while not self._stop.is_set():
            query, expected = self.queries[i % len(self.queries)]
            i += 1
            try:
                ids = self.search(query)
            except Exception as exc:  # every kind counts as a failed search
                self.failures.append(f"{query!r}: {type(exc).__name__}: {exc}")
            else:
                if expected not in ids:
                    self.failures.append(f"{query!r}: {expected} not in {ids}")
            self.done.append(time.monotonic())

    def __enter__(self) -> Reader:
        self._thread = threading.Thread(target=self._run, name="reader", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while len(self.done) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)  # searching before the reindex starts
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(timeout=60)
        assert not self._thread.is_alive(), "the reader did not stop"


@dataclass
class AliasWatcher:
    """Polls ``GET /_alias/<alias>`` and keeps what each answer named, with its time."""

    url: str
    alias: str
    seen: list[tuple[float, tuple[str, ...]]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                names = tuple(sorted(_get(f"{self.url}/_alias/{self.alias}")))
            except urllib.error.HTTPError as exc:  # 404: no index has the alias
                names = (f"HTTP {exc.code}",)
            self.seen.append((time.monotonic(), names))
            time.sleep(0.01)

    def __enter__(self) -> AliasWatcher:
        self._thread = threading.Thread(target=self._run, name="alias-watcher", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(timeout=30)

    def first_time(self, index: str) -> float:
        return next(t for t, names in self.seen if names == (index,))


@pytest.fixture
def reindex_searcher(
    opensearch_url: str, make_settings: Callable[..., Any], lucene_templates_dir: Path
) -> Iterator[Searcher]:
    """A sidecar-mode Searcher (hash embedder) on a fresh alias; every index version it leaves
    is deleted by name afterwards."""
    alias = f"hs-reindex-{uuid.uuid4().hex[:12]}"
    settings = make_settings(
        backend="opensearch",
        templates_dir=lucene_templates_dir,
        opensearch={"url": opensearch_url, "index_alias": alias},
    )
    searcher = searcher_with(settings, EMB)
    guard_cluster_client(searcher.backend)
    yield searcher
    delete_indices(opensearch_url, alias)
    drop_alias(searcher.backend)
    searcher.close()


def test_reindex_under_continuous_search_swaps_atomically_and_loses_nothing(
    reindex_searcher, opensearch_url
):
    searcher = reindex_searcher
    backend: Any = searcher.backend
    alias = backend.alias
    docs = products(3000)
    report = index_documents(
        ((f"doc {i}", d) for i, d in enumerate(docs)),
        template=searcher.template,
        embedder=EMB,
        backend=backend,
    )
    assert report.failed == [] and report.indexed == len(docs)
    v1, v2, v3 = (f"{alias}-v{n}" for n in (1, 2, 3))
    assert _get(f"{opensearch_url}/{v1}/_count")["count"] == len(docs)

    def search(query: str) -> list[str]:
        return [h["id"] for h in searcher.search({"query": query, "k": 5}).hits]

    picks = [docs[i] for i in (7, 444, 1203, 2999)]
    queries = [(f"{d['title']}", d["sku"]) for d in picks]
    assert all(sku in search(q) for q, sku in queries), "the queries find their product"

    def reindex(drop_old: bool) -> Any:
        return reembed(backend, backend.template, EMB, batch_size=250, drop_old=drop_old)

    with AliasWatcher(opensearch_url, alias) as watch, Reader(search, queries) as reader:
        started = time.monotonic()
        first = reindex(drop_old=False)
        after_first = time.monotonic()
        time.sleep(0.3)  # a few searches on the new version before the second swap
        assert _indices(opensearch_url, alias) == {v1, v2}, "the old version is kept"
        v2_count = _get(f"{opensearch_url}/{v2}/_count")["count"]
        second = reindex(drop_old=True)
        time.sleep(0.3)
    assert reader.failures == []

    assert (first.old_version, first.new_version, first.swapped, first.dropped_old) == (
        v1,
        v2,
        True,
        False,
    )
    assert first.source_count == first.ingest.indexed == len(docs)
    assert first.ingest.failed == []
    assert v2_count == len(docs)
    assert (second.old_version, second.new_version, second.swapped, second.dropped_old) == (
        v2,
        v3,
        True,
        True,
    )
    assert second.source_count == second.ingest.indexed == len(docs)
    assert _get(f"{opensearch_url}/{v3}/_count")["count"] == len(docs)
    assert _get(f"{opensearch_url}/{alias}/_count")["count"] == len(docs)
    # --drop-old deletes the version it moved away from, and only that one
    assert _indices(opensearch_url, alias) == {v1, v3}
    assert list(_get(f"{opensearch_url}/_alias/{alias}")) == [v3]

    # The alias named exactly one index at every poll, and moved v1 -> v2 -> v3, never back.
    answers = [names for _, names in watch.seen]
    assert len(answers) > 20
    assert {len(names) for names in answers} == {1}, sorted(set(answers))
    order = [names[0] for i, names in enumerate(answers) if i == 0 or names != answers[i - 1]]
    assert order == [v1, v2, v3]
    # The searches straddled both swaps.
    swap2, swap3 = watch.first_time(v2), watch.first_time(v3)
    assert any(started <= t < swap2 for t in reader.done), "searches while v2 was being built"
    assert any(swap2 < t < swap3 for t in reader.done), "searches between the swaps"
    assert any(t > swap3 for t in reader.done), "searches after the second swap"
    assert after_first <= swap3


@pytest.fixture
def cli_alias(cluster_env: str, opensearch_url: str) -> Iterator[str]:
    """``cluster_env``, and the alias's index versions deleted by name afterwards."""
    yield cluster_env
    delete_indices(opensearch_url, cluster_env)


@pytest.mark.model
def test_cli_reindex_with_the_model_keeps_the_old_version_until_drop_old(
    cli_alias, opensearch_url, tmp_path, capsys
):
    alias = cli_alias
    docs = products(600)
    source = tmp_path / "docs.jsonl"
    source.write_text("".join(json.dumps(d) + "\n" for d in docs))
    assert main(["opensearch", "bootstrap"]) == 0
    assert main(["ingest", str(source)]) == 0
    capsys.readouterr()
    v1, v2, v3 = (f"{alias}-v{n}" for n in (1, 2, 3))

    searcher = Searcher.from_settings(load_settings())  # the real model, as the CLI uses it

    def search(query: str) -> list[str]:
        return [h["id"] for h in searcher.search({"query": query, "k": 5}).hits]

    queries = [(docs[i]["title"], docs[i]["sku"]) for i in (3, 150, 599)]
    try:
        with AliasWatcher(opensearch_url, alias) as watch, Reader(search, queries) as reader:
            assert main(["opensearch", "reindex"]) == 0
            out = capsys.readouterr().out
            assert f"{v1} -> {v2}: {len(docs)} documents read, {len(docs)} indexed, 0 rejected" in (
                out
            )
            assert f"alias {alias} -> {v2}\n" in out
            assert _indices(opensearch_url, alias) == {v1, v2}
            assert main(["opensearch", "reindex", "--drop-old"]) == 0
            out = capsys.readouterr().out
            assert f"alias {alias} -> {v3}, {v2} deleted" in out
    finally:
        searcher.close()
    assert reader.failures == []
    assert len(reader.done) > 3
    assert _indices(opensearch_url, alias) == {v1, v3}
    assert _get(f"{opensearch_url}/{v3}/_count")["count"] == len(docs)
    answers = [names for _, names in watch.seen]
    assert {len(names) for names in answers} == {1}, sorted(set(answers))
