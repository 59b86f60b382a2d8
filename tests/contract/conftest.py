"""Run the contract suite on every backend: embedded always, OpenSearch when a cluster is set.

A module opts in with ``CONTRACT_BACKENDS = ("embedded", "opensearch")``; its tests that take
``make_searcher`` then run once per backend. The OpenSearch run needs a real cluster with the k-NN
plugin at ``HYBRID_SEARCH_TEST_OPENSEARCH_URL`` (probed once, 5 s timeout), with the knn method on Lucene; without one it is
skipped with the reason, and ``HYBRID_SEARCH_REQUIRE_OPENSEARCH=1`` turns that skip into a failure.
Each OpenSearch test gets its own uuid alias and deletes its indices afterwards (never ``*``):
``make_opensearch_searcher`` in tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from hybrid_search.searcher import Searcher


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    kinds = getattr(metafunc.module, "CONTRACT_BACKENDS", None)
    if kinds and "backend_kind" in metafunc.fixturenames:
        metafunc.parametrize("backend_kind", kinds, indirect=True)


@pytest.fixture
def backend_kind(request: pytest.FixtureRequest) -> str:
    """Which backend this test runs on (embedded unless the module opts in to more)."""
    return str(getattr(request, "param", "embedded"))


@pytest.fixture
def make_searcher(
    make_searcher: Callable[..., Searcher], backend_kind: str, request: pytest.FixtureRequest
) -> Callable[..., Searcher]:
    """The embedded factory from tests/conftest.py, or the OpenSearch one for that backend."""
    if backend_kind == "embedded":
        return make_searcher
    factory: Callable[..., Searcher] = request.getfixturevalue("make_opensearch_searcher")
    return factory
