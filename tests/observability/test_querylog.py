"""The opt-in query log: record contents, hashing, rotation, reading back in order."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hybrid_search.errors import InvalidRequestError
from hybrid_search.observability.querylog import (
    QueryLog,
    decode_vector,
    encode_vector,
    query_hash,
    read_query_log,
)


def test_off_by_default_writes_nothing(make_client, tmp_path):
    client = make_client(observability={"query_log_path": tmp_path / "q.jsonl"})
    assert client.post("/v1/search", json={"query": "black tote"}).status_code == 200
    assert not (tmp_path / "q.jsonl").exists()


def test_search_record_hashed_with_vector_ids_and_scores(make_client, tmp_path):
    path = tmp_path / "q.jsonl"
    client = make_client(
        observability={"query_log_enabled": True, "query_log_path": path, "hash_salt": "pepper"}
    )
    body = {"query": " Black Tote ", "filters": {"in_stock": True}, "mode": "hybrid", "k": 3}
    resp = client.post("/v1/search", json=body, headers={"x-request-id": "req-1"})
    assert resp.status_code == 200
    (record,) = [json.loads(line) for line in path.read_text().splitlines()]
    assert "query" not in record
    assert record["query_sha256"] == query_hash("black tote", "pepper")
    assert record["query_sha256"] != query_hash("black tote")  # salted
    assert record["request_id"] == "req-1"
    assert record["filters"] == {"in_stock": True}
    assert record["mode_requested"] == "hybrid"
    assert record["mode_used"] == resp.json()["mode_used"]
    hits = resp.json()["hits"]
    assert [h["id"] for h in record["hits"]] == [h["id"] for h in hits]
    assert [h["score"] for h in record["hits"]] == pytest.approx([h["score"] for h in hits])
    # The logged vector is the query vector the search used (hash embedder, deterministic).
    searcher = client.app.state.searcher
    expected = searcher.embedder.encode_query("Black Tote")
    assert np.array_equal(decode_vector(record["vector"]), expected)  # exact: float32 bytes
    assert not {"client", "ip", "user", "session"} & set(record)


def test_no_configured_salt_means_a_random_one_never_a_bare_hash(make_client, tmp_path, caplog):
    # sha256 of a short query without a salt is reversed by guessing (an e-mail address).
    path = tmp_path / "q.jsonl"
    client = make_client(observability={"query_log_enabled": True, "query_log_path": path})
    assert "random salt" in caplog.text
    assert client.post("/v1/search", json={"query": "ann@example.com"}).status_code == 200
    (record,) = [json.loads(line) for line in path.read_text().splitlines()]
    assert record["query_sha256"] != query_hash("ann@example.com")
    assert "ann@example.com" not in path.read_text()


def test_plain_text_only_when_configured(make_client, tmp_path):
    path = tmp_path / "q.jsonl"
    client = make_client(
        observability={
            "query_log_enabled": True,
            "query_log_path": path,
            "hash_queries": False,
            "log_vectors": False,
        }
    )
    client.post("/v1/search", json={"query": "navy clutch"})
    record = json.loads(path.read_text())
    assert record["query"] == "navy clutch"
    assert "query_sha256" not in record
    assert record["vector"] is None


def test_rotation_keeps_backups_and_reads_oldest_first(tmp_path):
    path = tmp_path / "q.jsonl"
    log = QueryLog(path, max_bytes=1024, backups=2)
    for i in range(100):  # 41-42 bytes each: 4.1 KB, more than three 1 KiB files hold
        log.write({"i": i, "pad": "x" * 30})
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["q.jsonl", "q.jsonl.1", "q.jsonl.2"]
    assert all(p.stat().st_size <= 1024 for p in tmp_path.iterdir())
    seen = [r["i"] for r in read_query_log(path)]
    assert seen == sorted(seen)  # oldest first, across the rotated files
    assert seen[-1] == 99
    assert seen[0] > 0  # the oldest file was dropped (two backups only)


def test_read_errors_name_file_and_line(tmp_path):
    with pytest.raises(InvalidRequestError, match="does not exist"):
        list(read_query_log(tmp_path / "missing.jsonl"))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"a": 1}\nnot json\n')
    with pytest.raises(InvalidRequestError, match="line 2"):
        list(read_query_log(bad))


def test_lexical_search_logs_no_vector_and_runs_no_model(make_client, tmp_path):
    path = tmp_path / "q.jsonl"
    client = make_client(observability={"query_log_enabled": True, "query_log_path": path})
    encoder = client.app.state.searcher.encoder
    misses = encoder.misses
    client.post("/v1/search", json={"query": "navy clutch", "mode": "lexical"})
    assert json.loads(path.read_text())["vector"] is None
    assert encoder.misses == misses  # the log did not embed the query itself


def test_concurrent_writers_never_interleave_lines(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / "q.jsonl"
    log = QueryLog(path, max_bytes=4096, backups=1000)

    def write(worker):
        for i in range(50):
            log.write({"worker": worker, "i": i, "pad": "y" * 40})

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, range(8)))
    records = list(read_query_log(path))  # every line parses: no torn or interleaved writes
    assert len(records) == 400
    for worker in range(8):
        assert [r["i"] for r in records if r["worker"] == worker] == list(range(50))


def test_vector_encoding_roundtrip_and_errors():
    vec = np.array([0.1, -2.5, 3e-8], dtype=np.float32)
    assert np.array_equal(decode_vector(encode_vector(vec)), vec)
    assert decode_vector([1.0, 0.0]).tolist() == [1.0, 0.0]  # hand-written records
    assert decode_vector(None) is None
    with pytest.raises(InvalidRequestError, match="not base64"):
        decode_vector("***")
    with pytest.raises(InvalidRequestError, match="whole number of float32"):
        decode_vector("AAA=")
    with pytest.raises(InvalidRequestError, match="got dict"):
        decode_vector({"x": 1})
