"""`hybrid-search eval` and `hybrid-search tune`: relevance on a BEIR-layout dataset.

``eval`` indexes the dataset (vectors cached), runs every mode through the Searcher and writes
``results.json``, ``results.md`` and ``ndcg.png`` to ``--out``. ``tune`` searches the fusion
weights, the gate τ, the normalisation, the candidate depth and the query-adaptive fusion slope
on the train queries only, then reports the best setting and the default on the held-out queries.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["register"]


def _out(text: str, *, err: bool = False) -> None:
    (sys.stderr if err else sys.stdout).write(text + "\n")


def _dataset_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", type=Path, required=True, help="BEIR directory")
    p.add_argument(
        "--text-fields",
        help="comma-separated corpus fields that make the document text (default: title,text)",
    )
    p.add_argument("--min-judgments", type=int, default=1, help="queries with fewer are skipped")
    p.add_argument("--sample", type=int, help="held-out size: a seeded sample of the queries")
    p.add_argument("--train-sample", type=int, help="train size (default: as many as eligible)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--cache-dir", type=Path, help="vectors and index cache (default: DATA_DIR/eval-cache)"
    )
    p.add_argument("--out", type=Path, required=True, help="folder for the results")


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``eval`` and ``tune`` to the top-level parser."""
    ev = sub.add_parser("eval", help="relevance metrics of every mode on a BEIR dataset")
    _dataset_args(ev)
    ev.add_argument(
        "--split",
        choices=["all", "train", "heldout"],
        default="heldout",
        help="which queries (heldout = the --sample; all = every eligible query)",
    )
    ev.add_argument("--modes", help="comma-separated mode names (default: all); see --list-modes")
    ev.add_argument("--list-modes", action="store_true", help="print the mode names and exit")
    ev.add_argument("--baseline", default="lexical", help="mode the others are tested against")
    ev.add_argument("--also-against", default="", help="comma-separated further baseline modes")
    ev.add_argument("--candidates", type=int, default=100, help="window per leg of fixed modes")
    ev.add_argument("--no-chart", action="store_true")
    ev.add_argument(
        "--ltr-model",
        type=Path,
        help="MODEL_DIR from `ltr train`: adds the mode `ltr` (the default, re-ranked by it)",
    )
    ev.set_defaults(handler=_eval)

    tune = sub.add_parser("tune", help="tune fusion on train queries, report held-out")
    _dataset_args(tune)
    tune.add_argument("--candidates", type=int, default=100, help="window per leg to replay")
    tune.set_defaults(handler=_tune)

    bandit = sub.add_parser(
        "tune-commercial", help="Thompson sampling over commercial coefficients on a click log"
    )
    bandit.add_argument("clicks", type=Path, help="JSONL click log (see evaluation/bandit.py)")
    bandit.add_argument("--seed", type=int, default=0)
    bandit.add_argument("--out", type=Path, help="write the posterior of every arm here (JSON)")
    bandit.set_defaults(handler=_tune_commercial)


def _fields(args: argparse.Namespace) -> list[str] | None:
    if not args.text_fields:
        return None
    return [f.strip() for f in args.text_fields.split(",") if f.strip()]


def _eval(args: argparse.Namespace) -> int:
    from hybrid_search.commands.common import EXIT_OK, EXIT_USAGE, settings_from_args
    from hybrid_search.evaluation.runner import ModeSpec, default_modes
    from hybrid_search.evaluation.session import QuerySplit, open_session

    modes = default_modes(candidates=args.candidates)
    if args.ltr_model is not None:
        modes.append(ModeSpec("ltr", {"rerank": "ltr", "commercial": {"enabled": False}}))
    if args.list_modes:
        for spec in modes:
            _out(f"{spec.name}\t{json.dumps(dict(spec.request))}")
        return EXIT_OK
    if args.modes:
        wanted = [m.strip() for m in args.modes.split(",") if m.strip()]
        known = {m.name: m for m in modes}
        unknown = [m for m in wanted if m not in known]
        if unknown:
            _out(f"error: --modes {unknown} unknown; allowed: {sorted(known)}", err=True)
            return EXIT_USAGE
        modes = [known[m] for m in wanted]
    also = [b.strip() for b in args.also_against.split(",") if b.strip()]
    for b in (args.baseline, *also):
        if b not in {m.name for m in modes}:
            names = [m.name for m in modes]
            _out(f"error: baseline {b!r} is not among the modes {names}", err=True)
            return EXIT_USAGE
    settings = settings_from_args(args)
    if args.ltr_model is not None:
        settings.search.ltr_model = args.ltr_model
    split = QuerySplit(args.min_judgments, args.sample, args.train_sample, args.seed)
    session = open_session(
        settings, args.dataset, text_fields=_fields(args), cache_dir=args.cache_dir
    )
    try:
        qids = split.ids(session.dataset, args.split)
        if args.ltr_model is not None:
            seen = _trained_on(args.ltr_model) & set(qids)
            if seen:
                _out(
                    f"error: the LTR model {args.ltr_model} was trained on {len(seen)} of these "
                    f"{args.split} queries (e.g. {sorted(seen)[:3]}): score it on queries it "
                    "has not seen",
                    err=True,
                )
                return EXIT_USAGE
        results = session.run(modes, qids)
        embedder = session.searcher.embedder
        meta = {
            "split": args.split,
            "queries": len(qids),
            "min_judgments": args.min_judgments,
            "sample": args.sample,
            "seed": args.seed,
            "embedder": f"{embedder.model_id} ({embedder.runtime})",
            "command": "hybrid-search " + " ".join(sys.argv[1:]),
        }
        paths = session.report(
            results,
            args.out,
            baseline=args.baseline,
            meta=meta,
            chart=not args.no_chart,
            also=also,
        )
    finally:
        session.close()
    _out(paths["markdown"].read_text(encoding="utf-8"))
    return EXIT_OK


def _trained_on(model_dir: Path) -> set[str]:
    """The query ids an LTR model was trained on (``train_queries.txt``; empty if absent)."""
    path = model_dir / "train_queries.txt"
    if not path.is_file():
        return set()
    return {line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()}


def _tune(args: argparse.Namespace) -> int:
    from hybrid_search.commands.common import EXIT_OK, settings_from_args
    from hybrid_search.evaluation.session import QuerySplit, open_session
    from hybrid_search.evaluation.tuning import tune

    settings = settings_from_args(args)
    split = QuerySplit(args.min_judgments, args.sample, args.train_sample, args.seed)
    session = open_session(
        settings, args.dataset, text_fields=_fields(args), cache_dir=args.cache_dir
    )
    try:
        report = tune(session, split, candidates=args.candidates)
    finally:
        session.close()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "tune.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    _out(json.dumps(report["best"], indent=2))
    return EXIT_OK


def _tune_commercial(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from hybrid_search.commands.common import EXIT_OK, settings_from_args
    from hybrid_search.evaluation.bandit import arm_grid, load_click_log, replay_thompson
    from hybrid_search.ranking.commercial import CommercialParams

    settings = settings_from_args(args)
    arms = arm_grid(CommercialParams.from_settings(settings.commercial))
    result = replay_thompson(load_click_log(args.clicks), arms, seed=args.seed)
    means = result.posterior_means()
    report = {
        "matched_impressions": result.matched,
        "best": asdict(arms[result.best]),
        "arms": [
            {"params": asdict(a), "pulls": n, "clicks": c, "posterior_mean": round(m, 6)}
            for a, n, c, m in zip(arms, result.pulls, result.successes, means, strict=True)
        ],
    }
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    _out(json.dumps({"matched_impressions": result.matched, "best": report["best"]}, indent=2))
    return EXIT_OK
