"""bootstrap, templates check and the CLI ingest on a real OpenSearch (real MiniLM model)."""

from __future__ import annotations

import json
import math
import shutil
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from hybrid_search.cli import main
from hybrid_search.config import load_settings

pytestmark = pytest.mark.model

CORPUS = Path(__file__).parents[1] / "data" / "corpus.jsonl"


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.load(resp)


def _steps(out: str) -> dict[str, str]:
    """``kind name action`` lines of `opensearch bootstrap` -> {"kind name": action}."""
    steps = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] in (
            "index_template",
            "create_index",
            "search_pipeline",
            "script",
        ):
            steps[f"{parts[0]} {parts[1]}"] = parts[2]
    return steps


def test_bootstrap_is_idempotent_then_reports_a_stale_index(
    cluster_env, opensearch_url, lucene_templates_dir, tmp_path, monkeypatch, capsys
):
    alias = cluster_env
    assert main(["opensearch", "bootstrap"]) == 0
    first = _steps(capsys.readouterr().out)
    assert first[f"index_template {alias}"] in ("created", "updated")
    assert first[f"create_index {alias}-v1"] == "created"
    assert {a for k, a in first.items() if k.startswith("search_pipeline")} == {"created"}
    assert {a for k, a in first.items() if k.startswith("script")} == {"created"}
    index = _get(f"{opensearch_url}/{alias}-v1/_mapping")[f"{alias}-v1"]["mappings"]
    knn = index["properties"]["embedding"]
    assert knn["dimension"] == 384 and knn["method"]["engine"] == "lucene"
    assert list(_get(f"{opensearch_url}/_alias/{alias}")) == [f"{alias}-v1"]

    assert main(["opensearch", "bootstrap"]) == 0
    again = _steps(capsys.readouterr().out)
    assert set(again) == set(first)
    assert set(again.values()) == {"unchanged"}

    edited = tmp_path / "edited"
    shutil.copytree(lucene_templates_dir, edited)
    body = json.loads((edited / "products.json").read_text())
    body["_meta"]["hybrid_search"]["lexical_fields"]["description"] = 1.5
    (edited / "products.json").write_text(json.dumps(body))
    monkeypatch.setenv("HYBRID_SEARCH_TEMPLATES_DIR", str(edited))
    assert main(["opensearch", "bootstrap"]) == 1
    out = capsys.readouterr().out
    stale = _steps(out)
    assert stale[f"index_template {alias}"] == "updated"
    assert stale[f"create_index {alias}-v1"] == "stale"
    assert "hybrid-search opensearch reindex" in out


def test_templates_check_against_the_live_cluster(cluster_env, opensearch_url, capsys):
    assert main(["templates", "check", "--cluster", opensearch_url]) == 0
    out = capsys.readouterr().out
    assert "_index_template/_simulate" in out and "accepted" in out


def test_templates_check_reports_what_the_cluster_refuses(
    cluster_env, opensearch_url, lucene_templates_dir, tmp_path, monkeypatch, capsys
):
    edited = tmp_path / "bad"
    shutil.copytree(lucene_templates_dir, edited)
    body = json.loads((edited / "products.json").read_text())
    method = body["template"]["mappings"]["properties"]["embedding"]["method"]
    method["parameters"]["ef_search"] = 100  # Lucene HNSW refuses ef_search in the mapping
    (edited / "products.json").write_text(json.dumps(body))
    monkeypatch.setenv("HYBRID_SEARCH_TEMPLATES_DIR", str(edited))
    assert main(["templates", "check", "--cluster", opensearch_url]) == 1
    err = capsys.readouterr().err
    assert "ef_search" in err


def _products(n: int) -> list[dict[str, Any]]:
    base = [json.loads(line) for line in CORPUS.read_text().splitlines() if line]
    docs = []
    for i in range(n):
        doc = dict(base[i % len(base)])
        doc["sku"] = f"{doc['sku']}-{i:05d}"
        doc["title"] = f"{doc['title']} no. {i}"
        docs.append(doc)
    return docs


def test_cli_ingest_of_5000_documents_accounts_for_every_one(
    cluster_env, opensearch_url, tmp_path, capsys
):
    alias = cluster_env
    docs = _products(5000)
    lines = [json.dumps(d) for d in docs]
    bad = {
        "BAD-TYPE": {"sku": "BAD-TYPE", "title": "a bag", "price": "free"},
        "BAD-NAN": {"sku": "BAD-NAN", "title": "a bag", "margin": math.nan},
        "BAD-FIELD": {"sku": "BAD-FIELD", "title": "a bag", "colour_typo": "black"},
        "BAD-DATE": {"sku": "BAD-DATE", "title": "a bag", "inventory_received_at": "yesterday"},
        "BAD-VECTOR": {"sku": "BAD-VECTOR", "title": "a bag", "embedding": [0.1] * 385},
    }
    lines += [json.dumps(d) for d in bad.values()]  # NaN as the JSON5 literal json.dumps writes
    lines.insert(100, "{not json")
    source = tmp_path / "docs.jsonl"
    source.write_text("\n".join(lines) + "\n")
    rejects = tmp_path / "rejects.jsonl"
    assert main(["ingest", str(source), "--rejects", str(rejects)]) == 1
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary == {"indexed": 5000, "failed": len(bad) + 1}
    rejected = {r["id"]: r["reason"] for r in map(json.loads, rejects.read_text().splitlines())}
    assert set(rejected) == {*bad, "line 101"}
    assert "price" in rejected["BAD-TYPE"]
    assert "margin" in rejected["BAD-NAN"]
    assert "colour_typo" in rejected["BAD-FIELD"]
    assert "inventory_received_at" in rejected["BAD-DATE"]
    assert "embedding" in rejected["BAD-VECTOR"]

    count = _get(f"{opensearch_url}/{alias}/_count")["count"]
    assert count == 5000
    settings = load_settings()
    assert settings.opensearch.index_alias == alias
    assert main(["search", "calfskin tote no. 4321", "--json", "-k", "3"]) == 0
    response = json.loads(capsys.readouterr().out)
    assert response["hits"]
    assert not response["degraded"]


def test_ingest_recreate_drops_the_cluster_index_not_a_local_directory(
    cluster_env, opensearch_url, tmp_path, monkeypatch, capsys
):
    import hybrid_search.searcher as searcher_module
    from tests.conftest import HashEmbedder

    monkeypatch.setattr(searcher_module, "create_embedder", lambda _cfg: HashEmbedder())
    alias = cluster_env
    local = tmp_path / "unused-embedded"  # cluster_env's HYBRID_SEARCH_EMBEDDED__DATA_DIR
    local.mkdir()
    (local / "keep").write_text("not the backend's")
    docs = [json.dumps(d) for d in _products(30)]
    big, small = tmp_path / "big.jsonl", tmp_path / "small.jsonl"
    big.write_text("\n".join(docs) + "\n")
    small.write_text("\n".join(docs[:4]) + "\n")
    assert main(["ingest", str(big)]) == 0
    assert _get(f"{opensearch_url}/{alias}/_count")["count"] == 30
    assert main(["ingest", "--recreate", str(small)]) == 0
    assert _get(f"{opensearch_url}/{alias}/_count")["count"] == 4
    assert (local / "keep").read_text() == "not the backend's"
