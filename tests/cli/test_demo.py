"""What ``hybrid-search demo`` prints for a new user: whole titles, a named breakdown, and one
line (not the exporter's twenty) while the model is exported to ONNX (issue 19, item 8)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hybrid_search.cli import main
from hybrid_search.commands.demo import breakdown_lines, side_by_side
from hybrid_search.demo import load_catalogue

LONG = "Quillon Equinox stainless steel moon-phase watch with a hand-stitched strap"


def _column(rows: list[str], index: int, width: int) -> list[str]:
    """The entries of one column of ``side_by_side`` output, continuation lines joined."""
    entries: list[str] = []
    for row in rows[2:]:
        cell = row[index * (width + 3) : index * (width + 3) + width].strip()
        if not cell:
            continue
        if cell.startswith("(") or (cell[0].isdigit() and ". " in cell[:4]):
            entries.append(cell)
        else:
            entries[-1] += " " + cell
    return entries


def test_side_by_side_wraps_whole_titles_in_their_column():
    columns = [
        ("lexical", ["1. short", f"2. {LONG}"]),
        ("vector", [f"1. {LONG}"]),
        ("hybrid (auto) -> hybrid", ["(no results)"]),
    ]
    rows = side_by_side(columns, 24)
    assert rows[0].startswith("lexical".ljust(24) + " | vector")
    assert all(len(r) <= 3 * 24 + 6 for r in rows)
    assert _column(rows, 0, 24) == ["1. short", f"2. {LONG}"]
    assert _column(rows, 1, 24) == [f"1. {LONG}"]
    assert "..." not in "\n".join(rows)
    assert not any(r.rstrip().endswith("-") for r in rows[2:])  # words are not split


def test_breakdown_lines_name_the_product():
    hit = {
        "rank": 2,
        "id": "LX-BAG-00156",
        "score": 1.05,
        "source": {"title": "Ondrelle sculpted suede shoulder bag"},
        "breakdown": {
            "lexical": 8.578,
            "vector_cosine": 0.375,
            "fused": 0.918,
            "relevance": 0.918,
            "margin": 0.094,
            "freshness": 0.015,
            "popularity": 0.023,
            "exploration": True,
        },
    }
    first, second = breakdown_lines(hit)
    assert first == "  2. Ondrelle sculpted suede shoulder bag (LX-BAG-00156)  (exploration slot)"
    assert second.startswith(
        "     1.050 = relevance 0.918 + margin 0.094 + freshness 0.015 + popularity 0.023"
    )
    assert "lexical 8.578, cosine 0.375, fused 0.918" in second


@pytest.mark.model
def test_demo_prints_whole_titles_and_a_named_breakdown(tmp_path, capsys):
    assert main(["--data-dir", str(tmp_path), "demo"]) == 0
    out = capsys.readouterr().out
    titles = {d["title"] for d in load_catalogue()}
    by_sku = {d["sku"]: d["title"] for d in load_catalogue()}
    lines = out.splitlines()
    tables = [i for i, line in enumerate(lines) if line.startswith("lexical ")]
    assert len(tables) == 4
    width = lines[tables[0]].index(" | ")
    for start in tables:
        end = next(i for i in range(start, len(lines)) if not lines[i].strip() or "#1" in lines[i])
        for index in range(3):
            for entry in _column(lines[start:end], index, width):
                if entry != "(no results)":
                    assert entry.split(". ", 1)[1] in titles, entry
    breakdown = lines[lines.index(next(x for x in lines if x.startswith("commercial breakdown"))) :]
    named = [x for x in breakdown if x.startswith("  ") and "(LX-" in x]
    assert len(named) == 5
    for line in named:
        sku = line.rsplit("(", 1)[1].rstrip(")").split(")")[0]
        assert by_sku[sku] in line


@pytest.mark.model
@pytest.mark.slow
def test_first_run_says_one_line_about_the_onnx_export(tmp_path):
    """A fresh model cache: the demo exports the model and says so once; none of the
    exporter's progress lines, warnings or torch log lines reach the terminal."""
    env = {
        **os.environ,
        "HYBRID_SEARCH_EMBEDDING__CACHE_DIR": str(tmp_path / "cache"),
    }
    code = "import sys; from hybrid_search.cli import main; sys.exit(main(sys.argv[1:]))"
    run = subprocess.run(
        [sys.executable, "-c", code, "--data-dir", str(tmp_path / "data"), "demo"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        cwd=Path(__file__).parent,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert (tmp_path / "cache" / "onnx").is_dir()
    said = run.stdout + run.stderr
    assert said.count("exporting the model to ONNX once (about 10 s)") == 1
    for noise in ("[torch.onnx]", "Warning", "torchvision", "Loading weights"):
        assert noise not in said, noise
    assert not re.search(r"^[IWE]\d{4} ", said, re.MULTILINE)  # torch's glog-style lines
    # The progress bar of the indexing (one line redrawn) and the announcement remain.
    other = [
        line
        for line in run.stderr.splitlines()
        if line.strip() and "indexing" not in line and "exporting the model" not in line
    ]
    assert other == [], other
