"""End to end on a tiny BEIR set: index, every mode through the Searcher, report files."""

from __future__ import annotations

import json

import pytest

from hybrid_search.evaluation.runner import ModeSpec, default_modes
from hybrid_search.evaluation.session import QuerySplit, open_session
from tests.conftest import HashEmbedder
from tests.evaluation.conftest import QUERIES


def test_every_mode_runs_and_the_report_has_the_documented_shape(session, tmp_path):
    qids = QuerySplit().ids(session.dataset, "all")
    assert qids == sorted(QUERIES)
    modes = default_modes(candidates=10)
    results = session.run(modes, qids, k=10)
    by_name = {r.spec.name: r for r in results}
    assert by_name["lexical"].run["q4"][0] == "d4"
    assert by_name["lexical"].per_query["ndcg@10"]["q2"] == pytest.approx(1.0)
    paths = session.report(
        results, tmp_path / "out", baseline="lexical", meta={"seed": 0}, also=["vector"]
    )
    doc = json.loads(paths["json"].read_text())
    assert doc["significance_vs"]["vector"]["lexical"]["ndcg@10"]["queries"] == len(QUERIES)
    per_query = json.loads(paths["per_query"].read_text())
    position = per_query["queries"].index("q2")
    assert per_query["modes"]["lexical"]["ndcg@10"][position] == pytest.approx(1.0)
    assert "against further baselines" in paths["markdown"].read_text()
    assert set(doc["modes"]) == {m.name for m in modes}
    assert set(doc["modes"]["lexical"]) >= {"ndcg@10", "recall@100", "mrr@10", "zero_result"}
    assert doc["significance"]["vector"]["ndcg@10"]["queries"] == len(QUERIES)
    assert "| `hybrid-rrf` |" in paths["markdown"].read_text()
    assert paths["chart"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_report_has_holm_p_values_and_query_types(session, tmp_path):
    qids = QuerySplit().ids(session.dataset, "all")
    modes = [m for m in default_modes(candidates=10) if m.name in {"lexical", "vector", "default"}]
    results = session.run(modes, qids, k=10)
    paths = session.report(
        results, tmp_path / "out", baseline="lexical", meta={}, also=["default"], chart=False
    )
    doc = json.loads(paths["json"].read_text())
    tests = [
        *(t for per in doc["significance"].values() for t in per.values()),
        *(t for b in doc["significance_vs"].values() for per in b.values() for t in per.values()),
    ]
    # one family: 2 modes x 4 metrics against lexical, 2 modes x 2 metrics against default
    assert len(tests) == 12
    smallest = min(tests, key=lambda t: t["p_value"])
    assert smallest["p_holm"] == pytest.approx(min(1.0, 12 * smallest["p_value"]), abs=1e-6)
    assert all(t["p_holm"] >= t["p_value"] for t in tests)
    types = doc["query_types"]
    assert set(types) == {"code", "brand", "paraphrase", "other"}
    assert sum(row["queries"] for row in types.values()) >= len(qids)
    by_name = {r.spec.name: r for r in results}
    for row in types.values():
        assert set(row["ndcg@10"]) == {"lexical", "vector", "default"}
        assert "lexical" not in row["delta_vs_baseline"]
    other = [q for q in qids if q in _type_ids(session, qids)["other"]]
    if other:
        want = sum(by_name["vector"].per_query["ndcg@10"][q] for q in other) / len(other)
        assert types["other"]["ndcg@10"]["vector"] == pytest.approx(want, abs=1e-6)
    text = paths["markdown"].read_text()
    assert "p (Holm)" in text
    assert "| query type | queries |" in text


def _type_ids(session, qids):
    from hybrid_search.evaluation.query_types import query_types

    return query_types(session.dataset, qids)


def test_hybrid_never_returns_zero_results(session):
    qids = sorted(QUERIES)
    for spec in (ModeSpec("default", {}), ModeSpec("hybrid", {"mode": "hybrid"})):
        (result,) = session.run([spec], qids, k=10)
        assert result.means["zero_result"] == 0.0, spec.name


def test_queries_bm25_cannot_parse_still_get_results(session):
    # Only stop words, only punctuation, an unknown word: the lexical leg finds nothing.
    for query in ("the", "???", "xqzvw"):
        response = session.searcher.search({"query": query, "k": 5})
        assert response.hits, query
        assert response.mode_used == "vector", query


def test_the_index_is_reused(beir, make_settings, tmp_path):
    cache = tmp_path / "cache"
    first = open_session(
        make_settings(), beir, text_fields=["title"], cache_dir=cache, embedder_factory=HashEmbedder
    )
    first.close()
    built = sorted(p.name for p in cache.iterdir())
    again = open_session(
        make_settings(), beir, text_fields=["title"], cache_dir=cache, embedder_factory=HashEmbedder
    )
    again.close()
    assert sorted(p.name for p in cache.iterdir()) == built
    assert any(name.startswith("vectors-test-hash-embedder") for name in built)


def test_an_index_of_another_layout_is_rebuilt_not_refused(
    beir, make_settings, tmp_path, monkeypatch
):
    """An index built by an older analysis (another schema digest) is not reused."""
    import hybrid_search.backends.embedded.snapshot as snapshot

    cache = tmp_path / "cache"
    first = open_session(
        make_settings(), beir, text_fields=["title"], cache_dir=cache, embedder_factory=HashEmbedder
    )
    first.close()
    before = {p.name for p in cache.iterdir() if p.name.startswith("index-")}
    monkeypatch.setattr(snapshot, "schema_digest", lambda _template: "f" * 16)
    again = open_session(
        make_settings(), beir, text_fields=["title"], cache_dir=cache, embedder_factory=HashEmbedder
    )
    try:
        assert again.searcher.search({"query": "red", "k": 3}).hits is not None
    finally:
        again.close()
    after = {p.name for p in cache.iterdir() if p.name.startswith("index-")}
    assert len(after - before) == 1
    assert next(iter(after - before)).endswith("-ffffffff")


def test_train_and_heldout_are_disjoint(session):
    split = QuerySplit(min_judgments=1, sample=3, train_sample=2, seed=0)
    held = split.ids(session.dataset, "heldout")
    train = split.ids(session.dataset, "train")
    assert len(held) == 3
    assert len(train) == 2
    assert not set(held) & set(train)


def test_only_the_embedded_backend_is_evaluated(beir, make_settings, tmp_path):
    from hybrid_search.errors import ConfigError

    with pytest.raises(ConfigError, match="HYBRID_SEARCH_BACKEND='opensearch'"):
        open_session(
            make_settings(backend="opensearch"),
            beir,
            cache_dir=tmp_path / "c",
            embedder_factory=HashEmbedder,
        )
