"""``hybrid-search train`` and ``diagnose`` end to end on the tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hybrid_search.cli import main

pytest.importorskip("torch")


def _beir(folder: Path, training_pairs) -> Path:
    folder.mkdir()
    corpus = [{"_id": f"p{i}", "title": d} for i, (_, d) in enumerate(training_pairs)]
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps(c) for c in corpus) + "\n")
    queries = [{"_id": f"q{i}", "text": q} for i, (q, _) in enumerate(training_pairs)]
    (folder / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in queries) + "\n")
    n = len(training_pairs)
    rows = ["query-id\tcorpus-id\tscore"]
    for i in range(n):
        rows += [f"q{i}\tp{i}\t2", f"q{i}\tp{(i + 1) % n}\t0", f"q{i}\tp{(i + 2) % n}\t1"]
    (folder / "qrels.tsv").write_text("\n".join(rows) + "\n")
    return folder


def test_train_then_diagnose(tiny_model, pairs_file, training_pairs, tmp_path, capsys):
    out = tmp_path / "model"
    argv = ["train", str(pairs_file), "--out", str(out), "--base-model", str(tiny_model)]
    argv += ["--policy", "qnorm", "--max-steps", "2", "--batch-size", "4", "--json"]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["policy"] == "qnorm"
    assert summary["steps"] == 2
    assert summary["keeps_document_magnitude"] is True
    assert (out / "magnitude.json").exists()

    data = _beir(tmp_path / "beir", training_pairs)
    argv = ["--embedding-backend", "torch", "diagnose", str(data), "--model", str(out), "--json"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["policy"] == "qnorm"
    assert report["documents"] == len(training_pairs)
    assert report["relevant_pairs"] == len(training_pairs)
    assert report["nonrelevant_pairs"] == len(training_pairs)
    assert report["document_norms"]["std"] > 0
    for key in ("cohens_d", "spearman_norm_length", "spearman_norm_popularity"):
        assert isinstance(report[key], float)
    gap = report["dot_vs_cosine"]
    assert gap["gap"] == pytest.approx(gap["ndcg@10_dot"] - gap["ndcg@10_cosine"])


def test_train_usage_errors(tmp_path, capsys):
    missing = tmp_path / "nope.jsonl"
    assert main(["train", str(missing), "--out", str(tmp_path / "m")]) == 2
    assert "nope.jsonl does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["train", str(missing), "--out", str(tmp_path / "m"), "--policy", "angular"])
    assert exc.value.code == 2
