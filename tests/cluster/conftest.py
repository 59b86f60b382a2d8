"""Fixtures for the tests that run on a real OpenSearch (``scripts/opensearch-local.sh start``).

Everything here needs ``HYBRID_SEARCH_TEST_OPENSEARCH_URL`` (skipped with the reason otherwise,
a failure with ``HYBRID_SEARCH_REQUIRE_OPENSEARCH=1``, as in CI). Each test gets its own uuid
alias and deletes what it installed afterwards. The templates are the shipped ones with the knn
method on Lucene (``lucene_templates_dir``): the Maven Central k-NN build has no faiss.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hybrid_search.backends.opensearch.backend import OpenSearchBackend
from hybrid_search.config import Settings, load_settings
from hybrid_search.templates import load_template
from tests.conftest import drop_alias, guard_cluster_client


@pytest.fixture
def cluster_env(
    opensearch_url: str,
    lucene_templates_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[str]:
    """Environment for the CLI (``hybrid_search.cli.main``) on the test cluster: backend
    opensearch, a fresh uuid alias (returned), the Lucene templates. Cleaned up afterwards."""
    alias = f"hs-cli-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("HYBRID_SEARCH_BACKEND", "opensearch")
    monkeypatch.setenv("HYBRID_SEARCH_OPENSEARCH__URL", opensearch_url)
    monkeypatch.setenv("HYBRID_SEARCH_OPENSEARCH__INDEX_ALIAS", alias)
    monkeypatch.setenv("HYBRID_SEARCH_TEMPLATES_DIR", str(lucene_templates_dir))
    monkeypatch.setenv("HYBRID_SEARCH_EMBEDDED__DATA_DIR", str(tmp_path / "unused-embedded"))
    yield alias
    settings = load_settings(
        backend="opensearch",
        templates_dir=lucene_templates_dir,
        opensearch={"url": opensearch_url, "index_alias": alias},
    )
    backend = OpenSearchBackend(settings, load_template(settings.template, lucene_templates_dir))
    drop_alias(backend)
    backend.close()


@pytest.fixture
def cluster_settings(opensearch_url: str, lucene_templates_dir: Path) -> Callable[..., Settings]:
    """``cluster_settings(template="products", **opensearch)`` -> Settings on a fresh alias."""

    def factory(template: str = "products", **opensearch: Any) -> Settings:
        opensearch.setdefault("index_alias", f"hs-test-{uuid.uuid4().hex[:12]}")
        return load_settings(
            backend="opensearch",
            template=template,
            templates_dir=lucene_templates_dir,
            opensearch={"url": opensearch_url, **opensearch},
        )

    return factory


@pytest.fixture
def make_cluster_backend(
    cluster_settings: Callable[..., Settings],
) -> Iterator[Callable[..., OpenSearchBackend]]:
    """Guarded ``OpenSearchBackend`` objects on fresh aliases; what they installed is deleted."""
    made: list[OpenSearchBackend] = []

    def factory(template: str = "products", **opensearch: Any) -> OpenSearchBackend:
        settings = cluster_settings(template, **opensearch)
        backend = OpenSearchBackend(
            settings, load_template(settings.template, settings.templates_dir)
        )
        guard_cluster_client(backend)
        made.append(backend)
        return backend

    yield factory
    for backend in made:
        drop_alias(backend)
        backend.close()
