"""The hybrid-search command: exit codes, outputs, rejects file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hybrid_search.cli import main, parse_filter_args

DATA = Path(__file__).parents[1] / "data"


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("HYBRID_SEARCH_EMBEDDED__DATA_DIR", str(tmp_path / "idx"))
    return tmp_path / "idx"


@pytest.mark.model
def test_ingest_search_and_rejects(data_dir, tmp_path, capsys):
    source = tmp_path / "docs.jsonl"
    lines = (DATA / "corpus.jsonl").read_text().splitlines()[:10]
    lines += ['{"sku": "BAD-1", "title": "x", "price": "free"}', "{not json"]
    source.write_text("\n".join(lines) + "\n")
    rejects = tmp_path / "rejects.jsonl"
    assert main(["ingest", str(source), "--rejects", str(rejects)]) == 1
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out == {"indexed": 10, "failed": 2}
    rejected = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert rejected[0]["id"] == "BAD-1" and "price" in rejected[0]["reason"]
    assert rejected[1]["id"] == "line 12" and "JSON" in rejected[1]["reason"]

    assert main(["search", "black tote", "--json", "--filter", "in_stock=true", "-k", "3"]) == 0
    response = json.loads(capsys.readouterr().out)
    assert response["hits"] and all(h["source"]["in_stock"] for h in response["hits"])
    assert main(["search", "tote", "--mode", "lexical"]) == 0
    assert "mode_used: lexical" in capsys.readouterr().out


def test_search_without_index_is_a_usage_error(data_dir, capsys):
    assert main(["search", "tote", "--mode", "lexical"]) == 2
    assert "no index in" in capsys.readouterr().err


def test_bad_filter_expression(data_dir, capsys):
    assert main(["search", "tote", "--filter", "price~5"]) == 2
    assert "expected field=value" in capsys.readouterr().err


def test_parse_filter_args(template):
    assert parse_filter_args(
        ["brand=Maison Aurelle", "color=red,black", "price>=100", "price<500", "in_stock=true"],
        template,
    ) == {
        "brand": "Maison Aurelle",
        "color": ["red", "black"],
        "price": {"gte": 100.0, "lt": 500.0},
        "in_stock": True,
    }


def test_templates_check(capsys):
    assert main(["templates", "check"]) == 0
    assert "valid against the OpenSearch API specification" in capsys.readouterr().out


def test_config_show_masks_secrets(monkeypatch, capsys):
    monkeypatch.setenv("HYBRID_SEARCH_OPENSEARCH__PASSWORD", "hunter2")
    assert main(["config", "show"]) == 0
    out = capsys.readouterr().out
    assert "hunter2" not in out and '"candidates": 200' in out


def test_bad_setting_exit_code(monkeypatch, capsys):
    monkeypatch.setenv("HYBRID_SEARCH_SEARCH__K", "-3")
    assert main(["config", "show"]) == 2
    assert "HYBRID_SEARCH_SEARCH__K" in capsys.readouterr().err


@pytest.mark.model
@pytest.mark.slow
def test_demo(tmp_path, capsys):
    assert main(["--data-dir", str(tmp_path), "demo"]) == 0
    out = capsys.readouterr().out
    assert "embedder: sentence-transformers/all-MiniLM-L6-v2 (onnx-w8)" in out
    assert "fallback: low vector confidence" in out
    assert "commercial breakdown" in out and " + margin " in out
    assert main(["--data-dir", str(tmp_path), "demo"]) == 0  # reuses the built index
    assert "indexing" not in capsys.readouterr().out


def test_ingest_recreate_asks_the_backend_to_drop_its_index(
    data_dir, tmp_path, monkeypatch, capsys
):
    import hybrid_search.searcher as searcher_module
    from tests.conftest import HashEmbedder

    monkeypatch.setattr(searcher_module, "create_embedder", lambda _cfg: HashEmbedder())
    lines = (DATA / "corpus.jsonl").read_text().splitlines()
    big, small = tmp_path / "big.jsonl", tmp_path / "small.jsonl"
    big.write_text("\n".join(lines[:12]) + "\n")
    small.write_text("\n".join(lines[20:23]) + "\n")
    assert main(["ingest", str(big)]) == 0
    assert main(["ingest", str(small)]) == 0  # an upsert: 15 documents
    assert main(["search", "tote", "--json", "--mode", "lexical", "-k", "50"]) == 0
    capsys.readouterr()
    assert main(["ingest", "--recreate", str(small)]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["indexed"] == 3
    from hybrid_search.backends.embedded import EmbeddedBackend
    from hybrid_search.config import load_settings
    from hybrid_search.templates import load_template

    settings = load_settings()
    backend = EmbeddedBackend(data_dir, load_template("products"), settings.embedded)
    try:
        assert backend.count() == 3
    finally:
        backend.close()
