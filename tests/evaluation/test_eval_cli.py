"""`hybrid-search eval` and `tune` from the command line on the tiny BEIR set."""

from __future__ import annotations

import json

import pytest

from hybrid_search import cli


def test_list_modes_and_unknown_mode(capsys, beir, tmp_path):
    assert cli.main(["eval", "--dataset", str(beir), "--out", str(tmp_path), "--list-modes"]) == 0
    names = [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()]
    assert names[:2] == ["lexical", "vector"]
    assert {"hybrid-rrf", "default", "lexical+typo", "default+commercial"} <= set(names)
    code = cli.main(["eval", "--dataset", str(beir), "--out", str(tmp_path), "--modes", "nope"])
    assert code == 2
    assert "--modes ['nope'] unknown" in capsys.readouterr().err


def test_missing_dataset_is_a_usage_error(capsys, tmp_path):
    code = cli.main(
        [
            "--data-dir",
            str(tmp_path),
            "eval",
            "--dataset",
            str(tmp_path / "nope"),
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 2
    assert "not a directory" in capsys.readouterr().err


@pytest.mark.model
def test_eval_and_tune_end_to_end(capsys, beir, tmp_path):
    out = tmp_path / "out"
    args = ["--data-dir", str(tmp_path / "data"), "eval", "--dataset", str(beir)]
    args += ["--text-fields", "title", "--split", "all", "--out", str(out)]
    args += ["--modes", "lexical,vector,hybrid-rrf,default", "--candidates", "10"]
    assert cli.main(args) == 0
    doc = json.loads((out / "results.json").read_text())
    assert set(doc["modes"]) == {"lexical", "vector", "hybrid-rrf", "default"}
    assert doc["modes"]["default"]["zero_result"] == 0.0
    assert (out / "ndcg.png").is_file()
    assert "| `default` |" in capsys.readouterr().out

    tune_out = tmp_path / "tune"
    args = ["--data-dir", str(tmp_path / "data"), "tune", "--dataset", str(beir)]
    args += ["--sample", "3", "--train-sample", "3", "--candidates", "10", "--out", str(tune_out)]
    assert cli.main(args) == 0
    report = json.loads((tune_out / "tune.json").read_text())
    assert report["queries"] == {"train": 3, "heldout": 3}
    assert set(report["heldout"]) == {"lexical", "default", "tuned"}
    assert report["train"]["tuned"]["ndcg@10"] >= report["train"]["default"]["ndcg@10"] - 1e-9
