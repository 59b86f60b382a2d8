"""``hybrid-search ltr train``: LambdaMART on a team's graded judgments, cross-validated by query.

1. Every train query goes through ``Searcher.search`` with the shipped settings and
   ``rerank: ltr`` answered by a ``FeatureRecorder``: the features are those the serving step
   computes, over the same window (the top ``search.ltr_window`` of the fused union of both
   legs), and the fused order it returns is the shipped default's ranking.
2. k-fold cross-validation split by query (a seeded permutation of the query ids; no query is
   in both a fold's training and its test part): each query is scored by the model of the fold
   that did not train on it. BM25 (the ``lexical`` mode: no typo tolerance) and the default are
   scored on the same queries, and the paired randomisation tests are Holm-corrected over
   every comparison reported (Holm, "A simple sequentially rejective multiple test procedure",
   Scand. J. Statistics 1979).
3. One model on all train queries is written to ``MODEL_DIR`` with its feature list and the
   embedding model id (``ltr/model.py``), with ``cv.json``, ``cv-report.json``, ``cv.md``,
   ``importance.png`` and ``train_queries.txt`` (so ``eval`` can refuse a held-out query the
   model was trained on).

LightGBM's ``lambdarank`` objective (Burges, MSR-TR-2010-82) with linear gains ``[0, 1, 2]``,
the same gains as the reported nDCG (trec_eval's).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hybrid_search.errors import InvalidRequestError, MissingDependencyError
from hybrid_search.evaluation.metrics import compare, evaluate, holm, mean_metrics
from hybrid_search.evaluation.query_types import query_types
from hybrid_search.evaluation.runner import default_modes, run_mode
from hybrid_search.evaluation.session import EvalSession, QuerySplit
from hybrid_search.ltr.model import LtrModel, save_model
from hybrid_search.ltr.stage import FeatureRecorder, rerank_with
from hybrid_search.ranking.fusion import FusionResult

__all__ = [
    "DEFAULT_PARAMS",
    "TUNABLE",
    "QueryRows",
    "check_params",
    "collect_rows",
    "cross_validate",
    "fit",
    "train_ltr",
]

logger = logging.getLogger(__name__)

DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "lambdarank",
    "metric": "ndcg",
    "eval_at": [10],
    "label_gain": [0.0, 1.0, 2.0, 3.0],
    "lambdarank_truncation_level": 20,
    "num_leaves": 15,
    "learning_rate": 0.05,
    "min_data_in_leaf": 20,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "seed": 0,
    "deterministic": True,
    "force_row_wise": True,
    "num_threads": 2,
    "verbose": -1,
}
ROUNDS = 200
#: What ``ltr train --params`` may set over ``DEFAULT_PARAMS`` (LightGBM would only warn, and
#: with ``verbose: -1`` say nothing, about a misspelt name).
TUNABLE = frozenset(DEFAULT_PARAMS) | {
    "max_depth",
    "lambda_l1",
    "lambda_l2",
    "min_sum_hessian_in_leaf",
    "min_gain_to_split",
    "max_bin",
    "extra_trees",
    "path_smooth",
}
_METRICS = ("ndcg@10", "ndcg@10_judged", "recall@100", "mrr@10")


@dataclass
class QueryRows:
    """One query's window: document ids in fused order, their feature rows, their grades."""

    qid: str
    ids: list[str]
    features: np.ndarray
    labels: np.ndarray


def _lightgbm() -> Any:
    try:
        import lightgbm
    except ImportError as exc:
        msg = 'ltr train needs LightGBM: pip install "lightgbm>=4.0"'
        raise MissingDependencyError(msg) from exc
    return lightgbm


def collect_rows(
    session: EvalSession, qids: Sequence[str], *, k: int = 100
) -> tuple[dict[str, QueryRows], dict[str, list[str]]]:
    """Each query's feature rows through the request path, and the default's ranking.

    Raises:
        InvalidRequestError: a query is not a valid request.
    """
    searcher = session.searcher
    recorder = FeatureRecorder(searcher.template)
    before = searcher.ltr
    searcher.ltr = recorder
    rows: dict[str, QueryRows] = {}
    default_run: dict[str, list[str]] = {}
    qrels = session.dataset.qrels
    started = time.perf_counter()
    try:
        for n, qid in enumerate(qids, start=1):
            recorder.last = None
            text = session.dataset.queries[qid]
            request = {"query": text, "k": k, "rerank": "ltr", "commercial": {"enabled": False}}
            response = searcher.search(request)
            default_run[qid] = [str(h["id"]) for h in response.hits]
            if recorder.last is None:
                continue  # nothing found
            ids, features = recorder.last
            grades = qrels.get(qid, {})
            labels = np.array([max(grades.get(d, 0), 0) for d in ids], dtype=np.float64)
            rows[qid] = QueryRows(qid, ids, features, labels)
            if n % 500 == 0:
                logger.info(
                    "features: %d/%d queries (%.0f s)", n, len(qids), time.perf_counter() - started
                )
    finally:
        searcher.ltr = before
    return rows, default_run


def check_params(params: Mapping[str, Any]) -> None:
    """Refuse a LightGBM parameter name outside ``TUNABLE``.

    Raises:
        InvalidRequestError: a name is unknown (named, with the allowed names).
    """
    unknown = sorted(set(params) - TUNABLE)
    if unknown:
        msg = f"LightGBM parameters {unknown} are not tunable here; allowed: {sorted(TUNABLE)}"
        raise InvalidRequestError(msg)


def fit(
    rows: Sequence[QueryRows],
    features: Sequence[str],
    *,
    params: Mapping[str, Any] | None = None,
    rounds: int = ROUNDS,
) -> Any:
    """A LambdaMART booster on the given queries' rows.

    Raises:
        InvalidRequestError: no query has a row, or none has a relevant candidate.
        MissingDependencyError: LightGBM is not installed.
    """
    lgb = _lightgbm()
    used = [r for r in rows if len(r.ids)]
    if not used or not any(r.labels.max() > 0 for r in used):
        msg = "no training query has a judged-relevant document among its candidates"
        raise InvalidRequestError(msg)
    x = np.vstack([r.features for r in used])
    y = np.concatenate([r.labels for r in used])
    top = int(y.max())
    merged = {**DEFAULT_PARAMS, **(params or {})}
    gains = list(merged["label_gain"])
    if top >= len(gains):  # grades above the gains given: linear gains up to the top grade
        merged["label_gain"] = [float(g) for g in range(top + 1)]
    dataset = lgb.Dataset(
        x,
        y,
        group=[len(r.ids) for r in used],
        feature_name=_safe_names(features),
        free_raw_data=True,
    )
    return lgb.train(merged, dataset, num_boost_round=rounds)


def _safe_names(features: Sequence[str]) -> list[str]:
    """LightGBM refuses JSON characters in feature names: ``bm25[title]`` -> ``bm25_title_``."""
    return ["".join(c if c.isalnum() or c == "_" else "_" for c in f) for f in features]


def _ranked(booster_model: LtrModel, row: QueryRows) -> list[str]:
    n = len(row.ids)
    window = FusionResult(list(range(n)), np.zeros(n), np.zeros((n, 1)), np.zeros((n, 1)))
    result = rerank_with(booster_model, window, row.features)
    return [row.ids[i - 1] for i in result.fused_positions.tolist()]


def _as_model(booster: Any, features: Sequence[str]) -> LtrModel:
    return LtrModel(booster, list(features), "", Path("cv"))


def cross_validate(
    rows: Mapping[str, QueryRows],
    qids: Sequence[str],
    features: Sequence[str],
    *,
    folds: int = 5,
    seed: int = 0,
    params: Mapping[str, Any] | None = None,
    rounds: int = ROUNDS,
) -> tuple[dict[str, list[str]], dict[str, int]]:
    """Each query's ranking by the model of the fold that did not train on it, and its fold.

    Raises:
        InvalidRequestError: fewer queries than folds, or ``folds`` < 2.
    """
    if folds < 2 or len(qids) < folds:
        msg = f"--folds {folds}: needs at least 2 folds and as many queries ({len(qids)} given)"
        raise InvalidRequestError(msg)
    ordered = sorted(qids)
    perm = np.random.default_rng(seed).permutation(len(ordered))
    fold_of = {
        ordered[int(i)]: f for f, part in enumerate(np.array_split(perm, folds)) for i in part
    }
    run: dict[str, list[str]] = {}
    for f in range(folds):
        train = [rows[q] for q in ordered if fold_of[q] != f and q in rows]
        booster = fit(train, features, params=params, rounds=rounds)
        model = _as_model(booster, features)
        for q in ordered:
            if fold_of[q] == f:
                run[q] = _ranked(model, rows[q])[:100] if q in rows else []
        logger.info("fold %d/%d done", f + 1, folds)
    return run, fold_of


def _importance_chart(booster: Any, features: Sequence[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    gain = np.asarray(booster.feature_importance(importance_type="gain"), dtype=np.float64)
    share = gain / gain.sum() if gain.sum() > 0 else gain
    order = np.argsort(share)
    fig, ax = plt.subplots(figsize=(7, max(3.0, 0.28 * len(features))))
    ax.barh([features[i] for i in order], share[order], color="#4C72B0")
    ax.set_xlabel("share of total gain")
    ax.set_title("LTR feature importance (LightGBM gain)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _mode_block(per_query: Mapping[str, Mapping[str, float]]) -> dict[str, Any]:
    block: dict[str, Any] = {m: v for m, v in mean_metrics(per_query).items()}
    block["per_query"] = dict(sorted(per_query["ndcg@10"].items()))
    return block


def _tests(
    per_mode: Mapping[str, Mapping[str, Mapping[str, float]]], system: str, baselines: Sequence[str]
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for base in baselines:
        for metric in _METRICS:
            c = compare(per_mode[base][metric], per_mode[system][metric], metric=metric)
            out.append(
                {
                    "system": system,
                    "baseline": base,
                    "metric": metric,
                    "baseline_mean": c.baseline,
                    "system_mean": c.system,
                    "delta": c.delta,
                    "ci95": [c.ci_low, c.ci_high],
                    "p": c.p_value,
                    "queries": c.queries,
                }
            )
    for test, adjusted in zip(out, holm([float(t["p"]) for t in out]), strict=True):
        test["p_holm"] = adjusted
    return out


def _by_type(
    per_mode: Mapping[str, Mapping[str, Mapping[str, float]]], types: Mapping[str, list[str]]
) -> dict[str, dict[str, Any]]:
    out = {}
    for kind, qids in types.items():
        row: dict[str, Any] = {"queries": len(qids)}
        for mode, per_query in per_mode.items():
            values = [per_query["ndcg@10"][q] for q in qids]
            row[mode] = float(np.mean(values)) if values else None
        out[kind] = row
    return out


def train_ltr(
    session: EvalSession,
    split: QuerySplit,
    out_dir: Path,
    *,
    folds: int = 5,
    params: Mapping[str, Any] | None = None,
    rounds: int = ROUNDS,
    command: str = "",
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Cross-validate, then train on every train query and write ``out_dir``.

    Only the train split is read (``split.ids(dataset, "train")``, which excludes the held-out
    sample); the held-out queries are for ``hybrid-search eval`` with the model.

    Raises:
        InvalidRequestError: the split is empty or has no judged-relevant candidates, or
            ``params`` names a parameter outside ``TUNABLE``.
        MissingDependencyError: LightGBM (or matplotlib, pytrec_eval) is not installed.
    """
    check_params(params or {})
    say = progress or (lambda _line: None)
    qids = split.ids(session.dataset, "train")
    features = list(FeatureRecorder(session.searcher.template).features)
    dataset = session.dataset
    say(f"features of {len(qids)} train queries through the request path")
    rows, default_run = collect_rows(session, qids)
    say(f"{folds}-fold cross-validation by query")
    ltr_run, fold_of = cross_validate(
        rows, qids, features, folds=folds, seed=split.seed, params=params, rounds=rounds
    )
    queries = {q: dataset.queries[q] for q in qids}
    judged = {q: dataset.qrels[q] for q in qids}
    lexical_spec = next(m for m in default_modes(candidates=100) if m.name == "lexical")
    lexical = run_mode(session.searcher, lexical_spec, queries, dataset.qrels)
    per_mode = {
        "lexical": lexical.per_query,
        "default": evaluate(judged, default_run),
        "ltr": evaluate(judged, ltr_run),
    }
    cv = {"modes": {mode: _mode_block(pq) for mode, pq in per_mode.items()}}
    tests = _tests(per_mode, "ltr", ["lexical", "default"])
    types = query_types(dataset, qids)

    say("final model on every train query")
    booster = fit(list(rows.values()), features, params=params, rounds=rounds)
    embedder = session.searcher.embedder
    trained = {
        "dataset": dataset.name,
        "dataset_digest": dataset.digest,
        "split": {
            "min_judgments": split.min_judgments,
            "sample": split.sample,
            "train_sample": split.train_sample,
            "seed": split.seed,
        },
        "train_queries": len(qids),
        "rows": int(sum(len(r.ids) for r in rows.values())),
        "params": {**DEFAULT_PARAMS, **(params or {})},
        "rounds": rounds,
        "folds": folds,
        "command": command,
    }
    save_model(
        booster,
        out_dir,
        features=features,
        embedding_model=embedder.model_id,
        text_fields=list(session.searcher.template.lexical_fields),
        window=session.settings.search.ltr_window,
        trained=trained,
    )
    (out_dir / "train_queries.txt").write_text("\n".join(qids) + "\n", encoding="utf-8")
    (out_dir / "cv.json").write_text(json.dumps(cv, indent=2) + "\n", encoding="utf-8")
    gain = booster.feature_importance(importance_type="gain")
    by_type = _by_type(per_mode, types)
    report: dict[str, Any] = {
        "folds": {q: fold_of[q] for q in sorted(fold_of)},
        "tests": tests,
        "query_types": by_type,
        "importance_gain": dict(zip(features, [float(g) for g in gain], strict=True)),
        "trained": trained,
        "embedder": f"{embedder.model_id} ({embedder.runtime})",
    }
    (out_dir / "cv-report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    _importance_chart(booster, features, out_dir / "importance.png")
    (out_dir / "cv.md").write_text(_markdown(cv, tests, by_type), encoding="utf-8")
    return {"cv": cv, "report": report}


def _markdown(
    cv: Mapping[str, Any], tests: Sequence[Mapping[str, Any]], types: Mapping[str, Any]
) -> str:
    lines = ["| mode | " + " | ".join(_METRICS) + " |", "|---|" + "---|" * len(_METRICS)]
    for mode, block in cv["modes"].items():
        lines.append(f"| `{mode}` | " + " | ".join(f"{block[m]:.4f}" for m in _METRICS) + " |")
    lines += ["", "| ltr vs | metric | Δ | 95 % CI | p | p (Holm) |", "|---|---|---|---|---|---|"]
    for t in tests:
        lo, hi = t["ci95"]
        lines.append(
            f"| `{t['baseline']}` | {t['metric']} | {t['delta']:+.4f} | {lo:+.4f} … {hi:+.4f} "
            f"| {t['p']:.4f} | {t['p_holm']:.4f} |"
        )
    lines += ["", "| query type | queries | lexical | default | ltr |", "|---|---|---|---|---|"]
    for kind, row in types.items():
        cells = " | ".join(
            "" if row[m] is None else f"{row[m]:.4f}" for m in ("lexical", "default", "ltr")
        )
        lines.append(f"| {kind} | {row['queries']} | {cells} |")
    return "\n".join(lines) + "\n"
