"""The relevance audit: known selections on fixed records, and the CLI over a real index."""

from __future__ import annotations

import json

import pytest

from hybrid_search.cli import main
from hybrid_search.errors import InvalidRequestError
from hybrid_search.observability.audit import audit, read_events, render_markdown


def _hit(doc_id, rank, cosine):
    return {"id": doc_id, "rank": rank, "score": 1.0 / rank, "vector_cosine": cosine}


RECORDS = [
    {
        "request_id": "r1",
        "query": "q1",
        "vector": None,
        "hits": [_hit("A", 1, 0.9), _hit("B", 2, 0.2), _hit("C", 3, None), _hit("D", 4, 0.7)],
    },
    # No event at all in r2: an abandoned search says nothing about E.
    {"request_id": "r2", "query": "q2", "vector": None, "hits": [_hit("E", 1, 0.95)]},
    # r3's hits were not scored by the vector leg: cosines come from the stored vectors.
    {
        "request_id": "r3",
        "query": "q3",
        "vector": [1.0, 0.0],
        "hits": [_hit("F", 1, None), _hit("G", 2, None)],
    },
]
EVENTS = {"r1": {"B": {"purchase"}}, "r3": {"F": {"click"}}}
STORED = {"F": [0.0, 2.0], "G": [3.0, 0.0]}


def test_known_selection():
    report = audit(RECORDS, EVENTS, low=0.3, high=0.6, vector_of=STORED.get)
    assert [(i.id, i.events) for i in report.engaged_low] == [("B", ["purchase"]), ("F", ["click"])]
    assert [i.id for i in report.ignored_high] == ["A", "D", "G"]
    assert report.engaged_low[1].similarity == pytest.approx(0.0)
    assert report.ignored_high[2].similarity == pytest.approx(1.0)
    assert report.unscored == 1  # C: no cosine and r1 logged no vector
    assert (report.searches, report.joined_searches, report.events) == (3, 2, 2)


def test_sampling_is_seeded_and_bounded_and_explained():
    calls = []

    def neighbours(doc_id):
        calls.append(doc_id)
        return [(f"{doc_id}-n{i}", f"title {i}", 5.0 - i) for i in range(4)]

    one = audit(RECORDS, EVENTS, sample=2, seed=7, vector_of=STORED.get, neighbours=neighbours)
    two = audit(RECORDS, EVENTS, sample=2, seed=7, vector_of=STORED.get)
    assert one.ignored_high_total == 3
    assert len(one.ignored_high) == 2
    assert [i.id for i in one.ignored_high] == [i.id for i in two.ignored_high]
    assert all(len(i.neighbours) == 3 for i in one.engaged_low + one.ignored_high)
    assert sorted(calls) == sorted(i.id for i in one.engaged_low + one.ignored_high)
    text = render_markdown(one, {"B": "Blue | bag"})
    assert "B Blue \\| bag" in text  # the pipe is escaped in the table
    assert "B-n0 title 0 (5.00)" in text


def test_bad_bounds_and_bad_events(tmp_path):
    with pytest.raises(InvalidRequestError, match=r"low=0\.7 is above high=0\.6"):
        audit(RECORDS, EVENTS, low=0.7, high=0.6)
    path = tmp_path / "events.jsonl"
    path.write_text(
        '{"request_id": "r1", "id": "A", "event": "click"}\n{"request_id": "r1", "id": "A", "event": "view"}\n'
    )
    with pytest.raises(InvalidRequestError, match=r"line 2: field 'event' is 'view'"):
        read_events(path)


def test_audit_command_over_the_query_log(make_client, tmp_path, capsys):
    log = tmp_path / "q.jsonl"
    client = make_client(
        observability={"query_log_enabled": True, "query_log_path": log, "hash_queries": False}
    )
    ids = []
    for n, query in enumerate(["black tote", "navy clutch", "red ankle boots"]):
        resp = client.post(
            "/v1/search", json={"query": query, "k": 5}, headers={"x-request-id": f"req{n}"}
        )
        ids.append([h["id"] for h in resp.json()["hits"]])
    # The shopper bought the 5th result of every search and nothing else.
    events = tmp_path / "events.jsonl"
    events.write_text(
        "".join(
            json.dumps({"request_id": f"req{n}", "id": got[-1], "event": "purchase"}) + "\n"
            for n, got in enumerate(ids)
        )
    )
    out = tmp_path / "audit.md"
    client.__exit__(None, None, None)  # release the index before the command opens it
    data_dir = client.app.state.settings.embedded.data_dir
    code = main(
        [
            "--data-dir",
            str(data_dir),
            "audit",
            "--query-log",
            str(log),
            "--events",
            str(events),
            "--out",
            str(out),
            "--low",
            "0.99",
            "--high",
            "0.99",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["searches"] == 3
    assert summary["engaged_low"] == 3  # every bought result has cosine < 0.99 (hash embedder)
    text = out.read_text()
    assert "black tote" in text
    assert "# Relevance audit" in text
    bought = ids[0][-1]
    row = next(line for line in text.splitlines() if f"| {bought} " in line and "purchase" in line)
    assert row.count(";") >= 2  # three lexical neighbours
    assert f"{bought} " not in row.split("|")[7]  # never itself
