"""``hybrid-search ltr train``: a LambdaMART re-ranker from a BEIR-layout judged set.

Cross-validated by query on the train split only (the held-out sample is excluded), then one
model on every train query in ``--out`` (see ``training/ltr.py``). Serve it with
``HYBRID_SEARCH_SEARCH__RERANK=ltr HYBRID_SEARCH_SEARCH__LTR_MODEL=MODEL_DIR``; score it on the
held-out queries with ``hybrid-search eval --ltr-model MODEL_DIR``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from hybrid_search.commands.evaluate import _dataset_args, _fields

__all__ = ["register"]


def _out(text: str, *, err: bool = False) -> None:
    (sys.stderr if err else sys.stdout).write(text + "\n")


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``ltr train`` to the top-level parser."""
    ltr = sub.add_parser("ltr", help="learning to rank")
    lsub = ltr.add_subparsers(dest="ltr_command", required=True)
    train = lsub.add_parser("train", help="train a LambdaMART re-ranker on judged queries")
    _dataset_args(train)
    train.add_argument("--folds", type=int, default=5, help="cross-validation folds (by query)")
    train.add_argument("--rounds", type=int, default=200, help="boosting rounds")
    train.add_argument(
        "--params",
        type=_params,
        default={},
        help="LightGBM parameters over the defaults, a JSON object: '{\"num_leaves\": 31}'",
    )
    train.set_defaults(handler=_train)


_EXAMPLE = '{"num_leaves": 31}'


def _params(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        msg = f"--params {text!r}: not JSON ({exc.msg}); give an object like {_EXAMPLE}"
        raise argparse.ArgumentTypeError(msg) from exc
    if not isinstance(value, dict):
        msg = f"--params {text!r}: a JSON object is needed ({_EXAMPLE}), got {type(value).__name__}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _train(args: argparse.Namespace) -> int:
    from hybrid_search.commands.common import EXIT_OK, settings_from_args
    from hybrid_search.evaluation.session import QuerySplit, open_session
    from hybrid_search.training.ltr import train_ltr

    settings = settings_from_args(args)
    settings.search.rerank = "none"
    split = QuerySplit(args.min_judgments, args.sample, args.train_sample, args.seed)
    session = open_session(
        settings, args.dataset, text_fields=_fields(args), cache_dir=args.cache_dir
    )
    try:
        result = train_ltr(
            session,
            split,
            args.out,
            folds=args.folds,
            rounds=args.rounds,
            params=args.params,
            command="hybrid-search " + " ".join(sys.argv[1:]),
            progress=lambda line: _out(line, err=True),
        )
    finally:
        session.close()
    means = {
        m: {k: v for k, v in b.items() if k != "per_query"}
        for m, b in result["cv"]["modes"].items()
    }
    _out(json.dumps({"cv": means, "tests": result["report"]["tests"]}, indent=2))
    return EXIT_OK
