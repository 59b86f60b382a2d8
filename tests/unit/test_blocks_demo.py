"""The demo's generated interaction log and behaviour vectors, and ``demo --template
products-behaviour`` end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hybrid_search.config import load_settings
from hybrid_search.demo import demo_settings, load_catalogue
from hybrid_search.demo.behaviour import behaviour_vectors, split_log, with_behaviour
from hybrid_search.documents import validate_document
from hybrid_search.observability.drift import load_snapshot
from hybrid_search.templates import load_template

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


@pytest.fixture(scope="module")
def generated(catalogue):
    return behaviour_vectors(catalogue)


def test_the_demo_vectors_are_the_evaluated_ones(generated, catalogue):
    vectors, log = generated
    committed = load_snapshot(RESULTS / "behaviour-demo-vectors.npz")
    assert committed.ids == [d["sku"] for d in catalogue]
    # Eigenvectors are defined up to sign (and rotation within a repeated eigenvalue), which
    # can differ between LAPACK builds: compare the similarities they give.
    np.testing.assert_allclose(
        vectors @ vectors.T, committed.vectors @ committed.vectors.T, atol=1e-4
    )
    assert vectors.shape == (600, 32)
    has = np.flatnonzero(vectors.any(axis=1))
    assert len(has) == 570 and not set(has) & set(log.new_arrivals)
    assert len(log.train) == 4800 and len(log.test) == 1200 and len(log.new_arrivals) == 30


def test_the_log_is_seeded(catalogue):
    a, b = split_log(catalogue, sessions=200), split_log(catalogue, sessions=200)
    assert a == b
    assert split_log(catalogue, sessions=200, seed=1).sessions != a.sessions
    assert all(1 <= len(s) <= 5 for s in a.sessions)  # an anchor and up to 4 picks
    assert np.mean([len(s) for s in a.sessions]) > 2


def test_the_catalogue_with_behaviour_validates(generated, catalogue):
    vectors, log = generated
    docs = with_behaviour(catalogue, vectors)
    template = load_template("products-behaviour")
    for i, doc in enumerate(docs):
        checked = validate_document(doc, template)
        assert ("vectors" in checked) == (i not in log.new_arrivals)
    assert "vectors" not in catalogue[0]  # the shipped catalogue is not modified


def test_each_template_gets_its_own_demo_index(tmp_path):
    base = load_settings(embedded={"data_dir": tmp_path})
    assert demo_settings(base).embedded.data_dir == tmp_path / "demo"
    other = demo_settings(base.model_copy(update={"template": "products-behaviour"}))
    assert other.embedded.data_dir == tmp_path / "demo-products-behaviour"


@pytest.mark.model
@pytest.mark.slow
def test_demo_with_the_behaviour_template(tmp_path, capsys):
    from hybrid_search.cli import main

    args = ["--data-dir", str(tmp_path), "demo", "--template", "products-behaviour"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "similar items: text only vs text + behaviour" in out
    sections = out.split("\n\n")
    new = next(s for s in sections if "a new arrival: no behaviour vector" in s)
    # Long titles wrap inside their column: continuation lines are indented, entries are not.
    rows = [line.split(" | ") for line in new.splitlines()[3:]]
    assert sum(not a.startswith(" ") for a, _ in rows) == 5
    assert all(a.strip() == b.strip() for a, b in rows)  # text neighbours kept
    clutch = next(s for s in sections if s.startswith("Maison Aurelle soft satin clutch"))
    rows = [line.split(" | ") for line in clutch.splitlines()[3:]]
    assert [a.strip() for a, _ in rows] != [b.strip() for _, b in rows]  # behaviour changes it
    assert (tmp_path / "demo-products-behaviour" / "demo-catalogue.sha").exists()
    assert not (tmp_path / "demo").exists()
