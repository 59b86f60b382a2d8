"""Run the contract suite on every backend: embedded always, OpenSearch when a cluster is set.

A module opts in with ``CONTRACT_BACKENDS = ("embedded", "opensearch")``; its tests that take
``make_searcher`` then run once per backend. The OpenSearch run needs a real cluster with the k-NN
plugin at ``HYBRID_SEARCH_TEST_OPENSEARCH_URL`` (probed once, 5 s timeout), with the knn method on Lucene; without one it is
skipped with the reason, and ``HYBRID_SEARCH_REQUIRE_OPENSEARCH=1`` turns that skip into a failure.
Each OpenSearch test gets its own uuid alias and deletes its indices afterwards (never ``*``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hybrid_search.backends.opensearch.spec import SpecValidator, default_spec_dir
from hybrid_search.config import Settings
from hybrid_search.searcher import Searcher
from hybrid_search.templates import knn_dimension
from tests.conftest import HashEmbedder, index_all, refuse_native_engine, searcher_with
from tests.opensearch.validating import Validating


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    kinds = getattr(metafunc.module, "CONTRACT_BACKENDS", None)
    if kinds and "backend_kind" in metafunc.fixturenames:
        metafunc.parametrize("backend_kind", kinds, indirect=True)


@pytest.fixture
def backend_kind(request: pytest.FixtureRequest) -> str:
    """Which backend this test runs on (embedded unless the module opts in to more)."""
    return str(getattr(request, "param", "embedded"))


@pytest.fixture
def make_opensearch_searcher(
    opensearch_url: str, make_settings: Callable[..., Settings], lucene_templates_dir: Path
) -> Iterator[Callable[..., Searcher]]:
    """Searchers over fresh uuid aliases on the test cluster, on the shipped templates with the
    knn method on Lucene (``lucene_templates_dir``); everything deleted afterwards."""
    made: list[Searcher] = []

    def factory(
        docs: list[dict[str, Any]] | None = None, embedder: Any = None, **overrides: Any
    ) -> Searcher:
        alias = f"hs-contract-{uuid.uuid4().hex[:12]}"
        opensearch = {"url": opensearch_url, "index_alias": alias}
        opensearch.update(overrides.pop("opensearch", {}))
        overrides.setdefault("templates_dir", lucene_templates_dir)
        settings = make_settings(backend="opensearch", opensearch=opensearch, **overrides)
        emb = embedder or HashEmbedder()
        searcher = searcher_with(settings, emb)
        spec_dir = default_spec_dir()
        # Every body sent to the cluster is checked against the spec, and none maps faiss.
        backend: Any = searcher.backend
        backend.client = backend.bootstrapper.client = Validating(
            backend.client,
            SpecValidator(spec_dir) if spec_dir is not None else None,
            guard=refuse_native_engine,
        )
        made.append(searcher)
        dimension = knn_dimension(searcher.template, emb.dimension)  # vector_blocks: their sum
        searcher.backend.ensure_index(model_id=emb.model_id, dimension=dimension)
        if docs is not None:
            index_all(searcher, docs, emb)
        return searcher

    yield factory
    from hybrid_search.backends.opensearch.client import Request

    for searcher in made:
        backend: Any = searcher.backend
        names = backend.names
        for path in (
            f"/{names.pattern}",
            f"/_index_template/{names.template}",
            f"/_search/pipeline/{names.minmax_pipeline}",
            f"/_search/pipeline/{names.rrf_pipeline}",
            f"/_scripts/{names.script}",
        ):
            backend.client.send(Request("DELETE", path), what="teardown", ignore=(400, 404))
        searcher.close()


@pytest.fixture
def make_searcher(
    make_searcher: Callable[..., Searcher], backend_kind: str, request: pytest.FixtureRequest
) -> Callable[..., Searcher]:
    """The embedded factory from tests/conftest.py, or the OpenSearch one for that backend."""
    if backend_kind == "embedded":
        return make_searcher
    factory: Callable[..., Searcher] = request.getfixturevalue("make_opensearch_searcher")
    return factory
