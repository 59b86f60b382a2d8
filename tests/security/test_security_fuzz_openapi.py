"""The HTTP API fuzzed from its own OpenAPI schema with schemathesis: no 5xx for any request.

Every operation gets schema-conforming and schema-violating requests (wrong types, missing
fields, odd strings, huge numbers); each must be answered without a server error, with the
error contract on refusals. Bounded for CI: few examples per operation, derandomized (the same
requests every run). ``HYPOTHESIS_PROFILE=explore`` (tests/properties) is not used here;
raise ``FUZZ_EXAMPLES`` to search longer.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable

from hybrid_search.api import create_app
from hybrid_search.config import load_settings
from hybrid_search.ingest import index_documents
from hybrid_search.searcher import Searcher
from tests.conftest import HashEmbedder

KEY = "fuzz-key"
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))


@pytest.fixture(scope="module")
def app(tmp_path_factory, corpus) -> Iterator[Any]:
    settings_ = load_settings(
        embedded={"data_dir": tmp_path_factory.mktemp("fuzz") / "index"}, api={"api_key": KEY}
    )
    searcher = Searcher.from_settings(settings_)
    searcher._embedder_factory = HashEmbedder
    report = index_documents(
        ((d["sku"], d) for d in corpus),
        template=searcher.template,
        embedder=HashEmbedder(),
        backend=searcher.backend,
    )
    assert report.failed == []
    application = create_app(settings_, searcher=searcher, warm_up=False)
    with TestClient(application):  # run the lifespan once (readiness)
        yield application
    searcher.close()


@pytest.fixture(scope="module")
def api_schema(app):
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def test_no_request_gets_a_server_error(api_schema):
    # schemathesis' own pytest integration (``from_fixture``) does not run on pytest 9, so each
    # operation's hypothesis strategy is driven here.
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 7, [op.label for op in operations]
    statuses: dict[int, int] = {}
    for operation in operations:
        for mode in schemathesis.GenerationMode:  # valid requests, then schema violations
            try:
                _fuzz(operation, mode, statuses)
            except Unsatisfiable:  # nothing to violate (no parameters, no body): fine
                assert mode == schemathesis.GenerationMode.NEGATIVE, operation.label
    # not vacuous: requests were sent, and both answers and refusals came back
    assert sum(statuses.values()) >= len(operations) * min(EXAMPLES, 10), statuses
    assert statuses.get(200) and any(code >= 400 for code in statuses), statuses


def _fuzz(operation: Any, mode: Any, statuses: dict[int, int]) -> None:
    @given(case=operation.as_strategy(mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        # Writes carry the key, so the write path itself gets fuzzed, not only the 401.
        if case.method.upper() in ("POST", "DELETE") and "documents" in case.path:
            case.headers = {**(case.headers or {}), "X-API-Key": KEY}
        response = case.call()
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        assert response.status_code < 500, (
            f"{case.method} {case.formatted_path} -> {response.status_code}: "
            f"{response.text[:500]}\n{case.as_curl_command()}"
        )
        if response.status_code >= 400:
            body = response.json()
            assert set(body) == {"error"} and {"type", "message", "detail"} == set(body["error"])

    run()
