"""Fixtures for the OpenSearch backend: the spec validator, settings, and osmem-server.

osmem-server (PyPI, an in-memory OpenSearch-compatible server binary) runs on a free loopback
port for the session; each test gets its own uuid-named alias and deletes its indices at teardown.
It supports bulk, _msearch, BM25 queries, index templates, aliases, mget and a painless subset,
but not knn, hybrid, search pipelines or stored scripts: those are checked by the spec validator
here and by the contract suite against a real cluster (HYBRID_SEARCH_TEST_OPENSEARCH_URL).
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from hybrid_search.backends.opensearch.backend import OpenSearchBackend
from hybrid_search.backends.opensearch.client import Request
from hybrid_search.backends.opensearch.spec import SpecValidator, default_spec_dir
from hybrid_search.config import Settings, load_settings
from hybrid_search.errors import HybridSearchError
from hybrid_search.ingest import index_documents
from hybrid_search.templates import IndexTemplate, parse_template
from tests.conftest import HashEmbedder, running_osmem
from tests.opensearch.validating import Validating


@pytest.fixture(scope="session")
def validator() -> SpecValidator:
    """The spec validator: the packaged subset, or ``$HYBRID_SEARCH_OPENSEARCH_SPEC_DIR``."""
    return SpecValidator(default_spec_dir())


@pytest.fixture
def os_settings() -> Callable[..., Settings]:
    def factory(**opensearch: Any) -> Settings:
        return load_settings(backend="opensearch", opensearch=opensearch)

    return factory


def on_builtin_analyzers(template: IndexTemplate) -> IndexTemplate:
    """The template as osmem can run it: OpenSearch's built-in ``english`` analyzer for the
    template's own chains (osmem accepts a custom analyzer but does not apply it at search
    time: every document scores the same), and without the colour and material text fields
    (osmem scores a keyword's text sub-field above a title match, which Lucene does not). The
    real template is held to real nodes: tests/cluster/test_cluster_analysis.py for the terms,
    the contract suite and tests/cluster/test_cluster_parity.py for the rankings."""
    body = copy.deepcopy(template.body)
    analysis = body["template"]["settings"].get("analysis", {})
    custom = set(analysis.pop("analyzer", {}))
    analysis.pop("filter", None)

    def walk(props: dict[str, Any]) -> None:
        for spec in props.values():
            if spec.get("analyzer") in custom:
                spec["analyzer"] = "english"
            walk(spec.get("fields", {}))

    walk(body["template"]["mappings"]["properties"])
    lexical = body["_meta"]["hybrid_search"]["lexical_fields"]
    for name in ("color.text", "material.text"):
        lexical.pop(name, None)
    return parse_template(body, path=template.path, name=template.name)


@pytest.fixture(scope="session")
def osmem() -> Iterator[Any]:
    """A running osmem-server (session), or a skip that says how to get one."""
    with running_osmem() as server:
        yield server


@pytest.fixture
def osmem_backend(
    osmem: Any,
    os_settings: Callable[..., Settings],
    template: IndexTemplate,
    validator: SpecValidator,
) -> Iterator[Callable[..., OpenSearchBackend]]:
    """Backends on osmem, each with its own uuid alias; their indices are deleted afterwards.

    Every request body they send is validated against the OpenSearch API specification.
    """
    made: list[OpenSearchBackend] = []

    def factory(**opensearch: Any) -> OpenSearchBackend:
        alias = opensearch.pop("index_alias", f"hs-test-{uuid.uuid4().hex[:12]}")
        settings = os_settings(url=osmem.url, index_alias=alias, max_retries=0, **opensearch)
        backend = OpenSearchBackend(settings, on_builtin_analyzers(template))
        client: Any = Validating(backend.client, validator)
        backend.client = client
        backend.bootstrapper.client = client
        made.append(backend)
        return backend

    yield factory
    for backend in made:
        try:
            backend.client.send(
                Request("DELETE", f"/{backend.names.pattern}"), what="teardown", ignore=(404,)
            )
            backend.client.send(
                Request("DELETE", f"/_index_template/{backend.names.template}"),
                what="teardown",
                ignore=(404,),
            )
        except HybridSearchError:
            pass
        backend.close()


@pytest.fixture
def loaded_backend(
    osmem_backend: Callable[..., OpenSearchBackend], corpus: list[dict[str, Any]]
) -> OpenSearchBackend:
    """An osmem backend holding the test corpus (hash embedder)."""
    backend = osmem_backend()
    report = index_documents(
        ((f"doc {i}", d) for i, d in enumerate(corpus)),
        template=backend.template,
        embedder=HashEmbedder(),
        backend=backend,  # type: ignore[arg-type]
    )
    assert report.failed == [] and report.indexed == len(corpus)
    return backend
