"""User text never becomes query syntax or painless code: it only ever travels as a value.

Every request the OpenSearch backend would send for a search (both legs, the commercial stage,
fetches) is built with hostile text, filter values and document ids; each hostile string must
sit at a value position (``multi_match.query``, a ``term``/``terms``/``ids`` value), never in a
``query_string``, a script ``source`` or a key. The painless source is the same whatever the
input, and its ``params`` are numbers. Then the same text goes to a real server (osmem) and to
the embedded engine, which must answer it as words.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest

from hybrid_search.backends.opensearch.backend import OpenSearchBackend
from hybrid_search.config import load_settings
from hybrid_search.documents import parse_filters
from hybrid_search.ranking.commercial import CommercialParams
from tests.conftest import HashEmbedder, running_osmem

MARK = "ZQX"  # tags every hostile string so it can be found in the bodies
HOSTILE = [
    f"{MARK}\"'); System.exit(0); //",
    f"{MARK} title:secret OR 1=1",
    f"{MARK}*",
    f'{MARK}" }}, "script": {{"source": "ctx.op=\'delete\'"',
    f"{MARK} params.a + doc['margin'].value",
    f"{MARK}\\u0022 \\\\",
    f"{MARK} {{{{ 7*7 }}}} ${{jndi:ldap://x}}",
]
# (parent key, key) pairs where a user string may legitimately appear
VALUE_SLOTS = {("multi_match", "query"), ("term", "brand"), ("terms", "color"), ("ids", "values")}


def _strings(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            assert MARK not in str(key).upper(), f"user text became a key at {path}"
            yield from _strings(value, (*path, str(key)))
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item, path)
    elif isinstance(node, str):
        yield path, node


def _check_body(body: Any) -> int:
    lines = body if isinstance(body, list) else [body]
    found = 0
    for line in lines:
        text = json.dumps(line)
        assert "query_string" not in text, "no query-string parsing of anything"
        for path, value in _strings(line):
            if MARK not in value.upper():  # keyword filter values arrive lowercased
                continue
            found += 1
            assert tuple(path[-2:]) in VALUE_SLOTS, f"user text at {'.'.join(path)}: {value!r}"
            assert "source" not in path and "script" not in path
    return found


@pytest.fixture
def backend(template) -> OpenSearchBackend:
    return OpenSearchBackend(load_settings(backend="opensearch"), template)


@pytest.mark.parametrize("text", HOSTILE)
def test_search_requests_carry_user_text_as_values_only(backend, template, text):
    filters = parse_filters({"brand": text, "color": [text, "red"]}, template)
    vec = HashEmbedder().encode_query(text)
    found = 0
    for fuzzy in (False, True):
        found += _check_body(backend.lexical_request(text, k=5, filters=filters, fuzzy=fuzzy).body)
        found += _check_body(backend.legs_request(text, vec, k=5, filters=filters).body)
    assert found >= 8, "the hostile text did reach the requests (the test is not vacuous)"


def test_painless_source_is_constant_and_params_are_numbers(backend):
    now = datetime(2026, 11, 1, tzinfo=timezone.utc)
    sources = set()
    for ids in (["benign-1", "benign-2"], HOSTILE):
        stats, stage = backend.rerank_requests(
            ids,
            [0.9 - 0.1 * i for i in range(len(ids))],
            CommercialParams(),
            now=now,
            max_margin=1.0,
            max_popularity=5.0,
        )
        assert _check_body(stats.body) == (len(ids) if ids is HOSTILE else 0)
        assert _check_body(stage.body) == (len(ids) if ids is HOSTILE else 0)
        for line in stage.body if isinstance(stage.body, list) else [stage.body]:
            script = line.get("query", {}).get("script_score", {}).get("script")
            if script is None:
                continue
            sources.add(script["source"])
            assert all(type(v) is float for v in script["params"].values()), script["params"]
    assert len(sources) == 1, "the painless source never depends on the input"
    assert MARK not in next(iter(sources))


@pytest.mark.parametrize("text", HOSTILE)
def test_embedded_engine_searches_hostile_text_as_words(make_searcher, corpus, text):
    searcher = make_searcher([*corpus, {"sku": "Z-1", "title": text}])
    for mode in ("lexical", "hybrid"):
        hits = searcher.search({"query": text, "mode": mode, "k": 3}).hits
        assert hits[0]["id"] == "Z-1"  # found by its words, nothing else happened
    assert searcher.backend.count() == len(corpus) + 1


def test_osmem_answers_hostile_text_as_words(template, corpus):
    """The same hostile strings against a running OpenSearch-compatible server."""
    from hybrid_search.backends.opensearch.client import Request
    from hybrid_search.ingest import index_documents
    from tests.opensearch.conftest import on_builtin_analyzers

    with running_osmem() as server:
        settings = load_settings(
            backend="opensearch", opensearch={"url": server.url, "index_alias": "hs-inject"}
        )
        template = on_builtin_analyzers(template)  # what osmem can run
        backend = OpenSearchBackend(settings, template)
        try:
            docs = [*corpus[:5], *({"sku": f"Z-{i}", "title": t} for i, t in enumerate(HOSTILE))]
            report = index_documents(
                ((d["sku"], d) for d in docs),
                template=template,
                embedder=HashEmbedder(),
                backend=backend,  # type: ignore[arg-type]
            )
            assert report.failed == []
            for i, text in enumerate(HOSTILE):
                hits = backend.lexical(text, k=3, filters=parse_filters({"brand": text}, template))
                assert hits == [], "a filter value is matched as a value, not as syntax"
                keys = [h.key for h in backend.lexical(text, k=3, filters=[])]
                assert keys and keys[0] == f"Z-{i}"
            assert backend.count() == len(docs)
            backend.client.send(Request("DELETE", f"/{backend.names.pattern}"), ignore=(404,))
        finally:
            backend.close()
