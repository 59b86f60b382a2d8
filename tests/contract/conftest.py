"""Run the contract suite on every backend: embedded always, OpenSearch when a cluster is set.

A module opts in with ``CONTRACT_BACKENDS = ("embedded", "opensearch")``; its tests that take
``make_searcher`` then run once per backend. The OpenSearch run needs a real cluster with the k-NN
plugin at ``HYBRID_SEARCH_TEST_OPENSEARCH_URL`` (probed once, 2 s timeout); without one it is
skipped with the reason, and ``HYBRID_SEARCH_REQUIRE_OPENSEARCH=1`` turns that skip into a failure.
Each OpenSearch test gets its own uuid alias and deletes its indices afterwards (never ``*``).
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from hybrid_search.backends.opensearch.spec import SpecValidator, default_spec_dir
from hybrid_search.config import Settings
from hybrid_search.searcher import Searcher
from hybrid_search.templates import knn_dimension
from tests.conftest import HashEmbedder, index_all, searcher_with
from tests.opensearch.validating import Validating

URL_ENV = "HYBRID_SEARCH_TEST_OPENSEARCH_URL"
REQUIRE_ENV = "HYBRID_SEARCH_REQUIRE_OPENSEARCH"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    kinds = getattr(metafunc.module, "CONTRACT_BACKENDS", None)
    if kinds and "backend_kind" in metafunc.fixturenames:
        metafunc.parametrize("backend_kind", kinds, indirect=True)


@pytest.fixture
def backend_kind(request: pytest.FixtureRequest) -> str:
    """Which backend this test runs on (embedded unless the module opts in to more)."""
    return str(getattr(request, "param", "embedded"))


def _probe(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            resp.read()
    except (OSError, urllib.error.URLError) as exc:
        return f"OpenSearch at {url} is not reachable ({exc})"
    return None


@pytest.fixture(scope="session")
def opensearch_url() -> str:
    """The test cluster's URL, or a skip (a failure with HYBRID_SEARCH_REQUIRE_OPENSEARCH=1)."""
    url = os.environ.get(URL_ENV, "").strip()
    problem = _probe(url) if url else f"{URL_ENV} is not set"
    if problem is None:
        return url
    reason = (
        f"{problem}: start one with `docker compose up -d opensearch` and "
        f"export {URL_ENV}=http://localhost:9200"
    )
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{REQUIRE_ENV}=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture
def make_opensearch_searcher(
    opensearch_url: str, make_settings: Callable[..., Settings]
) -> Iterator[Callable[..., Searcher]]:
    """Searchers over fresh uuid aliases on the test cluster; everything deleted afterwards."""
    made: list[Searcher] = []

    def factory(
        docs: list[dict[str, Any]] | None = None, embedder: Any = None, **overrides: Any
    ) -> Searcher:
        alias = f"hs-contract-{uuid.uuid4().hex[:12]}"
        opensearch = {"url": opensearch_url, "index_alias": alias}
        opensearch.update(overrides.pop("opensearch", {}))
        settings = make_settings(backend="opensearch", opensearch=opensearch, **overrides)
        emb = embedder or HashEmbedder()
        searcher = searcher_with(settings, emb)
        spec_dir = default_spec_dir()
        if spec_dir is not None:  # every body sent to the cluster is checked against the spec
            backend: Any = searcher.backend
            backend.client = backend.bootstrapper.client = Validating(
                backend.client, SpecValidator(spec_dir)
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
