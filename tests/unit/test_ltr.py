"""Learning to rank: the pure features, the model file, training through the request path,
and the re-rank step of the Searcher (embedded backend; OpenSearch in tests/contract)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from hybrid_search.config import load_settings
from hybrid_search.errors import ConfigError, InvalidRequestError, ModelMismatchError
from hybrid_search.evaluation.metrics import holm
from hybrid_search.evaluation.session import QuerySplit, open_session
from hybrid_search.hits import CandidateScores
from hybrid_search.ltr.model import load_model
from hybrid_search.ltr.stage import LtrStage
from hybrid_search.ranking.fusion import fuse
from hybrid_search.ranking.ltr_features import build_features, feature_names
from hybrid_search.templates import load_template
from hybrid_search.training.ltr import train_ltr
from tests.conftest import HashEmbedder

pytest.importorskip("lightgbm")


# ----------------------------------------------------------------------------- features
def _scores(texts, bm25, cosines, fields=("title", "text")):
    return CandidateScores(
        tuple(fields),
        np.asarray(bm25, dtype=float),
        np.asarray(cosines, dtype=float),
        [dict(zip(fields, t, strict=True)) for t in texts],
        [f"d{i}" for i in range(len(texts))],
    )


def test_features_per_field_bm25_coverage_title_match_and_ranks():
    fused = fuse([[(1, 5.0), (2, 3.0)], [(3, 0.9), (1, 0.8)]], weights=(0.7, 0.3))
    assert fused.keys == [1, 3, 2]
    scores = _scores(
        [
            ("red leather boots", "boots for rain, red"),
            ("a red leather boot", ""),
            ("blue boots", "leather"),
        ],
        [[2.0, 1.5], [0.0, 0.0], [1.0, 0.4]],
        [0.8, 0.9, np.nan],
    )
    x = build_features("red leather boots", fused, ["lexical", "vector"], scores, fuzzy=False)
    col = {n: i for i, n in enumerate(feature_names(["title", "text"]))}
    assert x.shape == (3, len(col))
    # every matched field has its own BM25, not only the best one
    assert x[0, col["bm25[title]"]] == 2.0
    assert x[0, col["bm25[text]"]] == 1.5
    assert x[0, col["bm25_sum"]] == 3.5
    assert x[:, col["coverage[title]"]].tolist() == [1.0, 1.0, pytest.approx(1 / 3)]
    assert x[:, col["coverage[text]"]].tolist() == [pytest.approx(2 / 3), 0, pytest.approx(1 / 3)]
    assert x[:, col["length[title]"]].tolist() == [3, 3, 2]  # "a" is a stop word
    # plural "boot"/"boots" agree; the exact title and the phrase
    assert x[:, col["title_exact"]].tolist() == [1.0, 1.0, 0.0]
    assert x[:, col["title_phrase"]].tolist() == [1.0, 1.0, 0.0]
    # leg ranks, normalised scores and NaN for a leg that did not return the candidate
    assert x[[0, 2], col["lexical_rank"]].tolist() == [1, 2]
    assert math.isnan(x[1, col["lexical_rank"]])
    assert x[[0, 1], col["vector_rank"]].tolist() == [2, 1]
    assert math.isnan(x[2, col["vector_normalized"]])
    assert x[:, col["fused_rank"]].tolist() == [1, 2, 3]
    assert x[0, col["cosine_gap"]] == pytest.approx(0.1)
    assert x[0, col["query_tokens"]] == 3
    assert x[0, col["query_is_code"]] == 0.0
    assert x[0, col["typo_terms"]] == 0.0


def test_features_code_flag_and_typo_expansions():
    fused = fuse([[(1, 2.0), (2, 1.0)]])
    scores = _scores([("toilet seat", ""), ("XR-2040 seat", "")], [[1.0, 0], [1.0, 0]], [0.5, 0.4])
    x = build_features("tiolet XR-2040", fused, ["lexical"], scores, fuzzy=True)
    col = {n: i for i, n in enumerate(feature_names(["title", "text"]))}
    assert x[0, col["query_is_code"]] == 1.0
    assert x[0, col["typo_terms"]] == 1.0  # "tiolet" -> "toilet", one transposition
    assert x[:, col["typo_matches"]].tolist() == [1.0, 0.0]
    off = build_features("tiolet XR-2040", fused, ["lexical"], scores, fuzzy=False)
    assert off[0, col["typo_terms"]] == 0.0


def test_window_relative_and_title_features():
    fused = fuse([[(1, 5.0), (2, 3.0), (3, 1.0)]])
    scores = _scores(
        [
            ("Delta 2-handle shower faucet", ""),
            ("Delta faucet valve 2 in.", ""),
            ("Moen insulation kit", ""),
        ],
        [[3.0, 0], [2.0, 0], [4.0, 0]],
        [0.5, np.nan, 0.7],
    )
    x = build_features("delta 2 shower faucet", fused, ["lexical"], scores, fuzzy=False)
    col = {n: i for i, n in enumerate(feature_names(["title", "text"]))}
    # query tokens: delta, 2, shower, faucet
    assert x[:, col["coverage_all"]].tolist() == [1.0, 0.75, 0.0]
    assert x[:, col["coverage_gap"]].tolist() == [0.0, 0.25, 1.0]
    assert x[:, col["missing_terms"]].tolist() == [0, 1, 4]
    assert x[:, col["bm25_rank"]].tolist() == [2, 3, 1]
    assert x[:, col["cosine_rank"]].tolist() == [2, 3, 1]  # NaN ranks last
    # "shower" is held by one candidate of three, the others by two: weighted above them
    w_two, w_one = math.log(4 / 2.5), math.log(4 / 1.5)
    assert x[1, col["rare_coverage"]] == pytest.approx(3 * w_two / (3 * w_two + w_one))
    # bigrams (delta 2) (2 shower) (shower faucet): the first title holds the first and last
    assert x[:, col["title_bigrams"]].tolist() == [pytest.approx(2 / 3), 0.0, 0.0]
    assert x[:, col["title_head"]].tolist() == [1.0, 1.0, 0.0]  # "faucet"
    assert x[:, col["title_lead"]].tolist() == [1.0, 1.0, 0.0]  # "delta" leads the title
    assert x[:, col["number_coverage"]].tolist() == [1.0, 1.0, 0.0]  # "2-handle" holds "2"
    one = build_features("faucet", fused, ["lexical"], scores, fuzzy=False)
    assert np.isnan(one[:, col["title_bigrams"]]).all()
    assert np.isnan(one[:, col["number_coverage"]]).all()
    prefix = build_features("insul kit", fused, ["lexical"], scores, fuzzy=False)
    assert prefix[:, col["prefix_coverage"]].tolist() == [0.0, 0.0, 1.0]
    assert prefix[:, col["coverage_all"]].tolist() == [0.0, 0.0, 0.5]


def test_unknown_lightgbm_parameter_is_refused():
    from hybrid_search.training.ltr import check_params

    check_params({"num_leaves": 31, "learning_rate": 0.1})
    with pytest.raises(InvalidRequestError, match=r"\['num_leavs'\].*allowed: .*num_leaves"):
        check_params({"num_leavs": 31})


def test_features_refuse_misaligned_scores():
    fused = fuse([[(1, 2.0), (2, 1.0)]])
    with pytest.raises(ValueError, match="2 candidates"):
        build_features("x", fused, ["lexical"], _scores([("a", "")], [[0, 0]], [0]), fuzzy=False)


def test_no_commercial_field_is_a_feature():
    names = feature_names(list(load_template().lexical_fields))
    for word in ("margin", "popularity", "fresh", "received", "price"):
        assert not any(word in n for n in names), word


def test_holm_adjusts_in_order_given():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


# ------------------------------------------------------------- a synthetic judged set
TOPICS = 48


def _word(i: int) -> str:
    return "zq" + "".join("bcdfghjklmnprstvw"[int(c)] for c in f"{i:03d}")


@pytest.fixture(scope="module")
def judged_set(tmp_path_factory) -> Path:
    """Per topic word ``w``: the judged-relevant product names ``w`` in its title; a decoy,
    judged irrelevant, repeats ``w`` in its text, so BM25 (and the bag-of-words vectors)
    rank the decoy first."""
    root = tmp_path_factory.mktemp("judged")
    corpus, queries, qrels = [], [], ["query-id\tcorpus-id\tscore"]
    for i in range(TOPICS):
        w = _word(i)
        corpus.append({"_id": f"r{i}", "title": f"{w} gadget", "text": "a fine product"})
        corpus.append({"_id": f"d{i}", "title": "generic item", "text": f"{w} {w} {w} {w} kit"})
        queries.append({"_id": f"q{i:02d}", "text": w})
        qrels += [f"q{i:02d}\tr{i}\t2", f"q{i:02d}\td{i}\t0"]
    for j in range(30):
        corpus.append({"_id": f"f{j}", "title": f"filler {j} gadget", "text": "kit of parts"})
    (root / "corpus.jsonl").write_text("\n".join(json.dumps(c) for c in corpus) + "\n")
    (root / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in queries) + "\n")
    (root / "qrels.tsv").write_text("\n".join(qrels) + "\n")
    return root


SPLIT = QuerySplit(min_judgments=1, sample=12, train_sample=36, seed=0)
SMALL = {"min_data_in_leaf": 5, "bagging_fraction": 1.0, "feature_fraction": 1.0}


@pytest.fixture(scope="module")
def trained(judged_set, tmp_path_factory):
    """A model trained (2-fold CV, then all train queries) on the synthetic set."""
    base = tmp_path_factory.mktemp("ltr")
    settings = load_settings(embedded={"data_dir": base / "data"})
    session = open_session(
        settings,
        judged_set,
        text_fields=["title", "text"],
        cache_dir=base / "cache",
        embedder_factory=HashEmbedder,
    )
    out = base / "model"
    result = train_ltr(session, SPLIT, out, folds=2, params=SMALL, rounds=30)
    yield session, out, result
    session.close()


def _reranking_session(session, model_dir):
    """A Searcher over the same index with the model loaded (``search.ltr_model``)."""
    from hybrid_search.searcher import Searcher

    settings = session.settings.model_copy(
        update={"search": session.settings.search.model_copy(update={"ltr_model": model_dir})}
    )
    backend = session.searcher.backend
    return Searcher(settings, session.searcher.template, backend, HashEmbedder)


def test_trained_model_puts_the_judged_item_first_where_bm25_does_not(trained):
    session, model_dir, _ = trained
    searcher = _reranking_session(session, model_dir)
    held = SPLIT.ids(session.dataset, "heldout")
    assert held and not set(held) & set((model_dir / "train_queries.txt").read_text().split())
    for qid in held:
        text = session.dataset.queries[qid]
        relevant = f"r{int(qid[1:])}"
        bm25 = searcher.search({"query": text, "mode": "lexical", "fuzzy": "off", "k": 3})
        default = searcher.search({"query": text, "k": 3})
        ltr = searcher.search({"query": text, "k": 3, "rerank": "ltr"})
        assert bm25.hits[0]["id"] != relevant, "the set must fool BM25"
        assert default.hits[0]["id"] != relevant, "and the shipped default"
        assert ltr.hits[0]["id"] == relevant
        assert "ltr" in ltr.timings_ms


def test_cv_json_has_the_issue_layout(trained):
    session, model_dir, _ = trained
    cv = json.loads((model_dir / "cv.json").read_text())
    assert set(cv) == {"modes"}
    assert set(cv["modes"]) == {"lexical", "default", "ltr"}
    train = SPLIT.ids(session.dataset, "train")
    for block in cv["modes"].values():
        assert set(block["per_query"]) == set(train)  # every train query, scored once
        assert 0.0 <= block["ndcg@10"] <= 1.0
    modes = cv["modes"]
    # scored by the fold that did not train on it, and still better than BM25 here
    assert modes["ltr"]["ndcg@10"] > modes["lexical"]["ndcg@10"] + 0.2
    report = json.loads((model_dir / "cv-report.json").read_text())
    assert {t["baseline"] for t in report["tests"]} == {"lexical", "default"}
    assert all(t["p_holm"] >= t["p"] for t in report["tests"])
    assert (model_dir / "importance.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_model_file_names_its_features_and_embedding_model(trained):
    _, model_dir, _ = trained
    meta = json.loads((model_dir / "model.json").read_text())
    assert meta["features"] == feature_names(["title", "text"])
    assert meta["embedding_model"] == HashEmbedder.model_id
    assert load_model(model_dir).features == meta["features"]


def test_model_trained_on_other_fields_is_refused(trained):
    _, model_dir, _ = trained
    with pytest.raises(ModelMismatchError) as err:
        LtrStage(model_dir, load_template())  # the products template: other fields
    text = str(err.value)
    assert "bm25[text]" in text and "bm25[sku.text]" in text


def test_model_trained_with_another_embedder_is_refused(trained):
    session, model_dir, _ = trained
    stage = LtrStage(model_dir, session.searcher.template)
    with pytest.raises(ModelMismatchError) as err:
        stage.check_embedding("sentence-transformers/all-MiniLM-L6-v2")
    assert HashEmbedder.model_id in str(err.value)
    assert "all-MiniLM-L6-v2" in str(err.value)


def test_another_feature_set_version_is_refused(trained, tmp_path):
    _, model_dir, _ = trained
    copy = tmp_path / "old"
    copy.mkdir()
    for name in ("model.txt", "model.json"):
        (copy / name).write_bytes((model_dir / name).read_bytes())
    meta = json.loads((copy / "model.json").read_text())
    meta["feature_set_version"] = 0
    (copy / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match="feature set version 0"):
        load_model(copy)
    with pytest.raises(ConfigError, match="HYBRID_SEARCH_SEARCH__LTR_MODEL"):
        load_model(tmp_path / "missing")


def test_explain_carries_the_model_score_and_contributions(trained):
    session, model_dir, _ = trained
    searcher = _reranking_session(session, model_dir)
    text = session.dataset.queries[SPLIT.ids(session.dataset, "heldout")[0]]
    resp = searcher.search({"query": text, "k": 3, "rerank": "ltr", "explain": True})
    hit = resp.hits[0]
    b = hit["breakdown"]
    assert {"ltr", "ltr_normalized", "fused", "ltr_contributions"} <= set(b)
    contributions = b["ltr_contributions"]
    assert len(contributions["top_features"]) == 5
    assert {f["feature"] for f in contributions["top_features"]} <= set(
        feature_names(["title", "text"])
    )
    sizes = [abs(f["contribution"]) for f in contributions["top_features"]]
    assert sizes == sorted(sizes, reverse=True)
    assert hit["explain"]["ltr"]["model"] == model_dir.name
    # the contributions (all of them) add up to the model's score
    model = load_model(model_dir)
    plain = searcher.search({"query": text, "k": 3, "rerank": "ltr"})
    assert "ltr_contributions" not in plain.hits[0]["breakdown"]
    assert plain.hits[0]["breakdown"]["ltr"] == pytest.approx(b["ltr"])
    assert model.booster.num_trees() > 0


def test_rerank_runs_before_the_commercial_stage(trained):
    session, model_dir, _ = trained
    searcher = _reranking_session(session, model_dir)
    text = session.dataset.queries[SPLIT.ids(session.dataset, "heldout")[0]]
    resp = searcher.search(
        {"query": text, "k": 3, "rerank": "ltr", "commercial": {"enabled": True}}
    )
    b = resp.hits[0]["breakdown"]
    assert b["relevance"] == pytest.approx(b["ltr_normalized"])  # the commercial input


def test_rerank_without_a_model_is_a_clear_error(trained):
    session, _, _ = trained
    with pytest.raises(InvalidRequestError, match="HYBRID_SEARCH_SEARCH__LTR_MODEL"):
        session.searcher.search({"query": "gadget", "rerank": "ltr"})
    with pytest.raises(ConfigError, match="HYBRID_SEARCH_SEARCH__LTR_MODEL"):
        load_settings(search={"rerank": "ltr"})


@pytest.mark.parametrize(
    ("value", "message"), [("[1]", "a JSON object is needed"), ("{num_leaves", "not JSON")]
)
def test_ltr_train_params_must_be_a_json_object(value, message, tmp_path, capsys):
    from hybrid_search import cli

    argv = ["ltr", "train", "--dataset", str(tmp_path), "--out", str(tmp_path / "m")]
    with pytest.raises(SystemExit) as exc:
        cli.main([*argv, "--params", value])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
