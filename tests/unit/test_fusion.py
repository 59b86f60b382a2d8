"""Fusion against hand-computed values, with OpenSearch's rules for missing documents."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hybrid_search.ranking.fusion import fuse, normalize

LEX = [("a", 3.0), ("b", 1.0)]
VEC = [("b", 0.9), ("c", 0.5)]


def scores(result):
    return dict(zip(result.keys, result.scores.tolist()))


def test_min_max_edges():
    assert normalize([3.0, 1.0, 2.0], "min_max").tolist() == [1.0, 0.001, 0.5]
    assert normalize([7.0], "min_max").tolist() == [1.0]
    assert normalize([2.0, 2.0], "min_max").tolist() == [1.0, 1.0]
    assert normalize([], "min_max").size == 0


def test_l2():
    assert normalize([3.0, 4.0], "l2").tolist() == pytest.approx([0.6, 0.8])
    assert normalize([0.0, 0.0], "l2").tolist() == [0.001, 0.001]


def test_z_score_matches_neural_search():
    # mean 2.5, sample std 1.2910; values <= 0 become 0.001
    out = normalize([1.0, 2.0, 3.0, 4.0], "z_score")
    assert out.tolist() == pytest.approx([0.001, 0.001, 0.5 / 1.290994, 1.5 / 1.290994])
    assert normalize([2.0], "z_score").tolist() == [2.0]  # score == mean -> max raw score
    assert normalize([2.0, 2.0], "z_score").tolist() == [2.0, 2.0]


def test_unknown_technique():
    with pytest.raises(ValueError, match="min_max"):
        normalize([1.0], "minmax")


def test_arithmetic_mean_counts_missing_as_zero():
    result = fuse([LEX, VEC], weights=[0.5, 0.5])
    # a: lex 1.0, vec missing -> (0.5*1 + 0.5*0)/1; b: lex 0.001, vec 1.0; c: vec 0.001
    assert scores(result) == pytest.approx({"a": 0.5, "b": 0.5005, "c": 0.0005})
    assert result.keys == ["b", "a", "c"]
    assert math.isnan(result.raw[1, 1]) and result.raw[1, 0] == 3.0


def test_weights_are_normalised():
    assert scores(fuse([LEX, VEC], weights=[2.0, 2.0])) == scores(
        fuse([LEX, VEC], weights=[0.5, 0.5])
    )


def test_geometric_mean_skips_missing():
    result = scores(fuse([LEX, VEC], combination="geometric_mean", weights=[0.5, 0.5]))
    assert result["a"] == pytest.approx(1.0)  # found by one leg only: not penalised
    assert result["b"] == pytest.approx(math.sqrt(0.001))
    assert result["c"] == pytest.approx(0.001)


def test_harmonic_mean_skips_missing():
    result = scores(fuse([LEX, VEC], combination="harmonic_mean", weights=[0.3, 0.7]))
    assert result["a"] == pytest.approx(1.0)
    assert result["b"] == pytest.approx(1.0 / (0.3 / 0.001 + 0.7 / 1.0))


def test_rrf():
    result = scores(fuse([LEX, VEC], combination="rrf", weights=[0.5, 0.5], rank_constant=60))
    assert result["a"] == pytest.approx(0.5 / 61)
    assert result["b"] == pytest.approx(0.5 / 62 + 0.5 / 61)
    assert result["c"] == pytest.approx(0.5 / 62)


def test_constant_and_single_scores():
    result = scores(fuse([[("a", 5.0), ("b", 5.0)], [("a", 0.2)]], weights=[0.5, 0.5]))
    assert result == pytest.approx({"a": 1.0, "b": 0.5})


def test_empty_legs():
    assert len(fuse([[], []])) == 0
    only = fuse([[], VEC], weights=[0.5, 0.5])
    assert scores(only) == pytest.approx({"b": 0.5, "c": 0.0005})


def test_ties_keep_first_seen_order():
    result = fuse([[("x", 1.0), ("y", 1.0), ("z", 1.0)]])
    assert result.keys == ["x", "y", "z"]


def test_inputs_not_modified():
    lex = list(LEX)
    fuse([lex, VEC])
    assert lex == LEX


def test_z_score_refuses_geometric_like_opensearch():
    with pytest.raises(ValueError, match="arithmetic_mean"):
        fuse([LEX, VEC], normalization="z_score", combination="geometric_mean")


@pytest.mark.parametrize("weights", [[1.0], [-1.0, 2.0], [0.0, 0.0], [float("nan"), 1.0]])
def test_bad_weights(weights):
    with pytest.raises(ValueError, match="weight"):
        fuse([LEX, VEC], weights=weights)


def test_head():
    result = fuse([LEX, VEC]).head(2)
    assert len(result) == 2 and result.scores.shape == (2,) and result.raw.shape == (2, 2)
    assert np.all(np.diff(result.scores) <= 0)
    limited = fuse([LEX, VEC], limit=2)
    assert limited.keys == result.keys
    np.testing.assert_array_equal(limited.scores, result.scores)
    np.testing.assert_array_equal(limited.raw, result.raw)
    np.testing.assert_array_equal(limited.normalized, result.normalized)


@pytest.mark.parametrize("combination", ["arithmetic_mean", "geometric_mean", "rrf"])
def test_integer_and_string_keys_fuse_alike(combination):
    # Row numbers (the embedded engine) are joined in numpy, other keys through a dict.
    rng = np.random.default_rng(7)
    legs = []
    for _ in range(2):
        keys = rng.choice(60, size=40, replace=False)
        scores = np.sort(rng.random(40))[::-1]
        legs.append([(int(k), float(s)) for k, s in zip(keys, scores)])
    legs.append([])
    as_str = [[(f"d{k}", s) for k, s in leg] for leg in legs]
    a = fuse(legs, combination=combination, weights=[0.5, 0.3, 0.2])
    b = fuse(as_str, combination=combination, weights=[0.5, 0.3, 0.2])
    assert [f"d{k}" for k in a.keys] == b.keys
    assert all(type(k) is int for k in a.keys)
    np.testing.assert_array_equal(a.scores, b.scores)
    np.testing.assert_array_equal(np.isnan(a.raw), np.isnan(b.raw))


@pytest.mark.parametrize("combination", ["arithmetic_mean", "geometric_mean", "rrf"])
def test_hit_columns_fuse_like_hit_lists(combination):
    from hybrid_search.hits import Hit, HitColumns

    lex = HitColumns(np.array([7, 3, 9]), np.array([12.0, 8.5, 1.0]), "lexical")
    vec = HitColumns(np.array([3, 4]), np.array([0.9, 0.8]), "vector")
    as_lists = [[Hit(7, 12.0, "lexical"), Hit(3, 8.5, "lexical"), Hit(9, 1.0, "lexical")]]
    as_lists.append([Hit(3, 0.9, "vector"), Hit(4, 0.8, "vector")])
    assert list(lex) == as_lists[0] and lex == as_lists[0] and lex[1] == as_lists[0][1]
    assert lex[:2] == as_lists[0][:2] and len(lex[5:]) == 0
    a = fuse([lex, vec], combination=combination, weights=[0.6, 0.4])
    b = fuse(as_lists, combination=combination, weights=[0.6, 0.4])
    assert a.keys == b.keys and set(a.keys) == {3, 4, 7, 9}
    np.testing.assert_array_equal(a.scores, b.scores)
    np.testing.assert_array_equal(a.raw, b.raw)
    with pytest.raises(ValueError, match="same length"):
        HitColumns(np.array([1, 2]), np.array([1.0]), "lexical")


def test_a_key_repeated_within_a_leg_joins_like_string_keys():
    legs = [[(5, 3.0), (3, 2.0), (5, 1.0), (9, 0.5)], [(9, 0.9), (1, 0.8), (1, 0.7), (7, 0.1)]]
    as_str = [[(f"d{k}", s) for k, s in leg] for leg in legs]
    a, b = fuse(legs, weights=[0.6, 0.4]), fuse(as_str, weights=[0.6, 0.4])
    assert [f"d{k}" for k in a.keys] == b.keys
    np.testing.assert_array_equal(a.scores, b.scores)
    np.testing.assert_array_equal(a.raw, b.raw)
