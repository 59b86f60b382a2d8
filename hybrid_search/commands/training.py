"""``hybrid-search train`` and ``hybrid-search diagnose``: magnitude-aware models.

``train`` fine-tunes a sentence-transformers model on (query, relevant document) pairs under a
normalisation policy (Feng & Watanabe, arXiv 2602.09229) and saves it with its policy; point
``HYBRID_SEARCH_EMBEDDING__MODEL`` at the folder to use it. ``diagnose`` reports whether a
model's document lengths carry relevance (and not just length or popularity) on a BEIR-layout
dataset.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

__all__ = ["register"]

logger = logging.getLogger(__name__)


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``train`` and ``diagnose`` to the top-level parser."""
    from hybrid_search.embedding.magnitude import POLICIES

    t = sub.add_parser("train", help="fine-tune a magnitude-aware embedding model")
    t.add_argument("pairs", type=Path, help="JSONL {query, document[, document_id]} or TSV")
    t.add_argument("--out", type=Path, required=True, help="folder to save the model in")
    t.add_argument("--policy", choices=POLICIES, default="qnorm", help="normalisation policy")
    t.add_argument("--base-model", default="sentence-transformers/all-MiniLM-L6-v2")
    t.add_argument("--epochs", type=int, default=1)
    t.add_argument("--batch-size", type=int, default=32)
    t.add_argument("--learning-rate", type=float, default=2e-5)
    t.add_argument("--magnitude-learning-rate", type=float, default=1e-2)
    t.add_argument("--scale", type=float, default=20.0, help="InfoNCE scale alpha (1/tau)")
    t.add_argument("--max-length", type=int, default=64, help="tokens per text")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", default="auto", help="auto (cuda if present), cpu, cuda, ...")
    t.add_argument("--train-layers", type=int, help="train only the top N transformer layers")
    t.add_argument("--max-steps", type=int, help="stop after N steps")
    t.add_argument(
        "--no-calibrate",
        action="store_true",
        help="keep raw pooled norms (paper-faithful; default scales each side to mean norm 1)",
    )
    t.add_argument("--json", action="store_true", help="print the result as JSON")
    t.set_defaults(handler=_train)

    d = sub.add_parser("diagnose", help="magnitude diagnostics of a model on a BEIR dataset")
    d.add_argument("dataset", type=Path, help="folder with corpus.jsonl, queries.jsonl, qrels")
    d.add_argument("--model", help="model folder or id (default: the configured model)")
    d.add_argument("--text-fields", help="comma-separated corpus fields (default: title,text)")
    d.add_argument("--max-queries", type=int, default=500, help="judged queries sampled")
    d.add_argument("--max-docs", type=int, default=5000, help="documents embedded")
    d.add_argument("--popularity-field", help="corpus field holding popularity")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--json", action="store_true", help="print the report as JSON")
    d.set_defaults(handler=_diagnose)


def _train(args: argparse.Namespace) -> int:
    from hybrid_search.commands.common import EXIT_OK, EXIT_USAGE
    from hybrid_search.errors import ConfigError
    from hybrid_search.training import TrainConfig, read_pairs, train

    config = TrainConfig(
        policy=args.policy,
        base_model=args.base_model,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        magnitude_learning_rate=args.magnitude_learning_rate,
        scale=args.scale,
        max_length=args.max_length,
        calibrate=not args.no_calibrate,
        seed=args.seed,
        device=args.device,
        max_steps=args.max_steps,
        train_layers=args.train_layers,
    )
    try:
        config.check()
        pairs = read_pairs(args.pairs)

        def progress(step: int, total: int, loss: float) -> None:
            if step == 1 or step == total or step % 10 == 0:
                logger.info("step %d/%d loss %.4f", step, total, loss)

        result = train(pairs, args.out, config, on_step=progress)
    except ConfigError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_USAGE
    spec = result.spec
    summary = {
        "out": str(result.out_dir),
        "policy": spec.policy,
        "pairs": result.pairs,
        "steps": result.steps,
        "seconds": round(result.seconds, 1),
        "device": result.device,
        "loss_first": round(result.loss_first, 4),
        "loss_last": round(result.loss_last, 4),
        "gamma_q": spec.gamma_q,
        "gamma_d": spec.gamma_d,
        "keeps_document_magnitude": spec.keeps_document_magnitude,
    }
    if args.json:
        _out(json.dumps(summary, indent=2))
        return EXIT_OK
    _out(
        f"trained {spec.policy} on {result.pairs} pairs: {result.steps} steps in "
        f"{result.seconds:.0f} s on {result.device}, loss {result.loss_first:.3f} -> "
        f"{result.loss_last:.3f}; saved to {result.out_dir}"
    )
    if spec.keeps_document_magnitude:
        _out(
            "document vectors keep their length: index with space_type innerproduct "
            "(HYBRID_SEARCH_TEMPLATE=products-innerproduct, "
            f"HYBRID_SEARCH_EMBEDDING__MODEL={result.out_dir})"
        )
    return EXIT_OK


def _diagnose(args: argparse.Namespace) -> int:
    from hybrid_search.commands.common import EXIT_OK, EXIT_USAGE, settings_from_args
    from hybrid_search.embedding import create_embedder
    from hybrid_search.errors import ConfigError, MissingDependencyError
    from hybrid_search.evaluation.datasets import load_beir
    from hybrid_search.training.diagnose import diagnose_model

    settings = settings_from_args(args)
    embedding = settings.embedding
    if args.model:
        embedding = embedding.model_copy(update={"model": args.model})
    fields = args.text_fields.split(",") if args.text_fields else None
    try:
        dataset = load_beir(args.dataset, text_fields=fields)
        embedder = create_embedder(embedding)
        report = diagnose_model(
            embedder,
            dataset,
            max_queries=args.max_queries,
            max_docs=args.max_docs,
            popularity_field=args.popularity_field,
            seed=args.seed,
        )
    except (ConfigError, ValueError, MissingDependencyError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_USAGE
    if args.json:
        _out(json.dumps(report, indent=2))
        return EXIT_OK
    norm = report["document_norms"]
    _out(
        f"model {report['model']} ({report['policy']}), {report['documents']} documents, "
        f"{report['queries']} queries"
    )
    _out(
        f"document norms: mean {norm['mean']:.4f}, std {norm['std']:.4f}, CV {norm['cv']:.4f}, "
        f"min {norm['min']:.4f}, median {norm['p50']:.4f}, max {norm['max']:.4f}"
    )
    _out(
        f"Cohen's d of norms, relevant vs non-relevant: {report['cohens_d']:.3f} "
        f"({report['relevant_pairs']} vs {report['nonrelevant_pairs']} judged pairs)"
    )
    _out(f"Spearman rho(norm, length in words): {report['spearman_norm_length']:.3f}")
    _out(
        f"Spearman rho(norm, popularity [{report['popularity_source']}]): "
        f"{report['spearman_norm_popularity']:.3f}"
    )
    gap = report["dot_vs_cosine"]
    _out(
        f"nDCG@10 ranked by dot {gap['ndcg@10_dot']:.4f} vs by cosine "
        f"{gap['ndcg@10_cosine']:.4f}: gap {gap['gap']:+.4f}"
    )
    for warning in report["warnings"]:
        _out(f"warning: {warning}")
    return EXIT_OK
