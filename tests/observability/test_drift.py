"""Drift reports on small fixed snapshots with known answers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hybrid_search.errors import InvalidRequestError
from hybrid_search.observability.drift import (
    EmbeddingSnapshot,
    drift_report,
    load_snapshot,
    nearest_neighbours,
    neighbour_overlap,
    save_snapshot,
    write_drift,
)


def _angles(*degrees: float) -> np.ndarray:
    r = np.radians(degrees)
    return np.stack([np.cos(r), np.sin(r)], axis=1)


def test_neighbour_overlap_hand_computed():
    # a: 0, 10, 25, 90 degrees -> nearest: 0->10, 10->0, 25->10, 90->25
    # b: 0, 10, 80, 90 degrees -> nearest: 0->10, 10->0, 80->90, 90->80
    a, b = _angles(0, 10, 25, 90), _angles(0, 10, 80, 90)
    assert nearest_neighbours(a, 1)[:, 0].tolist() == [1, 0, 1, 2]
    assert nearest_neighbours(b, 1)[:, 0].tolist() == [1, 0, 3, 2]
    # Neighbours are products (rows): row 2 changed its neighbour (row 1 -> row 3); row 3's
    # neighbour is row 2 in both, wherever row 2 moved.
    assert neighbour_overlap(a, b, k=1).tolist() == [1.0, 1.0, 0.0, 1.0]


def _clustered(seed: int = 0) -> EmbeddingSnapshot:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, 16))
    cats = ["bags", "shoes", "watches"]
    vecs, labels = [], []
    for c, centre in enumerate(centres):
        vecs.append(centre + 0.3 * rng.normal(size=(20, 16)))
        labels += [cats[c]] * 20
    n = len(labels)
    return EmbeddingSnapshot(
        ids=[f"p{i:02d}" for i in range(n)],
        vectors=np.vstack(vecs).astype(np.float32),
        categories=labels,
        popularity=np.arange(n, dtype=float),  # p59 most popular
        model_id="m1",
    )


def test_identical_snapshots_do_not_drift():
    a = _clustered()
    report = drift_report(a, a, top_n=10)
    assert report["neighbour_overlap@10"] == 1.0
    assert report["all"]["centroid_shift"] == pytest.approx(0.0, abs=1e-9)
    assert report["top_n"]["mean_item_cosine"] == pytest.approx(1.0)
    assert report["top_n"]["ranked_by"] == "popularity"
    assert report["aligned"] is False


def test_rotation_is_no_drift_after_alignment_but_is_raw():
    a = _clustered()
    q, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(16, 16)))
    b = EmbeddingSnapshot(
        a.ids, (a.vectors @ q).astype(np.float32), a.categories, a.popularity, "m2"
    )
    aligned = drift_report(a, b)  # another model id: aligned by Procrustes
    assert aligned["aligned"] is True
    assert aligned["neighbour_overlap@10"] == 1.0  # a rotation keeps every neighbour
    assert aligned["all"]["mean_item_cosine"] == pytest.approx(1.0, abs=1e-5)
    for cat in aligned["categories"].values():
        assert cat["centroid_shift"] == pytest.approx(0.0, abs=1e-6)
    raw = drift_report(a, b, align="never")
    assert raw["neighbour_overlap@10"] == 1.0
    assert raw["all"]["mean_item_cosine"] < 0.9  # the raw vectors did move


def test_one_category_moves_and_is_the_one_reported():
    a = _clustered()
    moved = a.vectors.copy()
    shoes = [i for i, c in enumerate(a.categories) if c == "shoes"]
    moved[shoes] = moved[shoes][::-1]  # shoes swap vectors among themselves
    moved[shoes[:5]] += 5.0 * np.eye(16, dtype=np.float32)[0]  # and five move far
    b = EmbeddingSnapshot(a.ids, moved, a.categories, a.popularity, "m1")
    report = drift_report(a, b, top_n=20)
    cats = report["categories"]
    assert cats["bags"]["centroid_shift"] == pytest.approx(0.0, abs=1e-9)
    assert cats["watches"]["neighbour_overlap"] == 1.0
    assert cats["shoes"]["centroid_shift"] > 0.01
    assert cats["shoes"]["mean_item_cosine"] < 0.9
    assert {m["category"] for m in report["most_moved"][:5]} == {"shoes"}
    # top 20 by popularity are p40..p59 (watches): untouched.
    assert report["top_n"]["centroid_shift"] == pytest.approx(0.0, abs=1e-9)


def test_snapshot_roundtrip_and_report_files(tmp_path):
    a = _clustered()
    save_snapshot(a, tmp_path / "a.npz")
    back = load_snapshot(tmp_path / "a.npz")
    assert back.ids == a.ids
    assert back.categories == a.categories
    assert np.array_equal(back.vectors, a.vectors)
    assert back.model_id == "m1"
    b = EmbeddingSnapshot(a.ids[:30], a.vectors[:30], a.categories[:30], a.popularity[:30], "m1")
    report = drift_report(a, b, top_n=5)
    assert (report["common"], report["only_a"], report["only_b"]) == (30, 30, 0)
    json_path, png_path = write_drift(report, tmp_path / "out")
    assert json.loads(json_path.read_text())["common"] == 30
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_errors_name_the_problem(tmp_path):
    a = _clustered()
    other = EmbeddingSnapshot(["x", "y"], np.eye(2, dtype=np.float32), ["", ""], np.full(2, np.nan))
    with pytest.raises(InvalidRequestError, match="share 0 ids"):
        drift_report(a, other)
    (tmp_path / "bad.npz").write_text("no")
    with pytest.raises(InvalidRequestError, match=r"bad\.npz"):
        load_snapshot(tmp_path / "bad.npz")
