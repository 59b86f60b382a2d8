"""`hybrid-search opensearch bootstrap|reindex|plan`: the cluster side of the OpenSearch backend.

Exit codes: 0 ok, 1 partial (a stale index after bootstrap, documents rejected or the alias not
moved after reindex), 2 usage or configuration error, 3 cluster unreachable.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["register"]


def _out(line: str, *, err: bool = False) -> None:
    (sys.stderr if err else sys.stdout).write(line + "\n")


def _add_connection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url", help="cluster URL(s), comma-separated (HYBRID_SEARCH_OPENSEARCH__URL)"
    )
    parser.add_argument("--alias", help="index alias (HYBRID_SEARCH_OPENSEARCH__INDEX_ALIAS)")


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add this group's subcommands to the top-level parser."""
    group = sub.add_parser("opensearch", help="OpenSearch backend: bootstrap, reindex, plan")
    osub = group.add_subparsers(dest="opensearch_command", required=True)

    boot = osub.add_parser(
        "bootstrap", help="install template, index version + alias, pipelines, script (idempotent)"
    )
    _add_connection(boot)
    boot.add_argument(
        "--wait",
        type=float,
        metavar="SECONDS",
        help="first wait up to SECONDS for cluster health yellow, else exit 3 "
        "(HYBRID_SEARCH_OPENSEARCH__BOOTSTRAP_WAIT_S)",
    )
    boot.set_defaults(handler=_bootstrap)

    re_ = osub.add_parser(
        "reindex",
        help="deprecated alias of `hybrid-search reembed`: re-embed into a new index version, "
        "verify, swap the alias atomically",
    )
    _add_connection(re_)
    re_.add_argument("--drop-old", action="store_true", help="delete the old version after")
    re_.add_argument("--rejects", type=Path, help="write rejected documents here (JSONL)")
    re_.add_argument("--page", type=int, default=500, help="documents per scan page")
    re_.set_defaults(handler=_reindex)

    plan = osub.add_parser("plan", help="write every request body for a query, without a cluster")
    _add_connection(plan)
    plan.add_argument("--query", required=True)
    plan.add_argument("--filter", action="append", default=[], metavar="EXPR")
    plan.add_argument("-k", type=int)
    plan.add_argument("--page", type=int, default=0)
    plan.add_argument("--out", type=Path, required=True, help="directory for the JSON files")
    plan.set_defaults(handler=_plan)


def _settings(args: argparse.Namespace) -> Any:
    from hybrid_search.commands.common import settings_from_args

    overrides: dict[str, Any] = {}
    if args.url:
        overrides["url"] = args.url
    if args.alias:
        overrides["index_alias"] = args.alias
    if getattr(args, "wait", None) is not None:
        overrides["bootstrap_wait_s"] = args.wait
    return settings_from_args(args, backend="opensearch", opensearch=overrides)


def _dimension(backend: Any, embedder: Any) -> int:
    """The knn dimension: the model's, or with vector_blocks the blocks' sum (checked)."""
    from hybrid_search.templates import knn_dimension

    return knn_dimension(backend.template, embedder.dimension)


def _backend(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    from hybrid_search.backends.opensearch.backend import OpenSearchBackend
    from hybrid_search.embedding import create_embedder
    from hybrid_search.templates import load_template

    settings = _settings(args)
    template = load_template(settings.template, settings.templates_dir)
    return OpenSearchBackend(settings, template), create_embedder(settings.embedding), settings


def _bootstrap(args: argparse.Namespace) -> int:
    backend, embedder, settings = _backend(args)
    try:
        wait_s = settings.opensearch.bootstrap_wait_s
        if wait_s > 0:
            backend.bootstrapper.wait_for_cluster(wait_s)
        steps = backend.bootstrapper.run(
            model_id=embedder.model_id, dimension=_dimension(backend, embedder)
        )
    finally:
        backend.close()
    for step in steps:
        detail = f"  ({step.detail})" if step.detail else ""
        _out(f"{step.kind:16} {step.name:32} {step.action}{detail}")
    return 1 if any(step.action == "stale" for step in steps) else 0


def _reindex(args: argparse.Namespace) -> int:
    from hybrid_search.reembed import reembed

    _out("note: `opensearch reindex` is an alias of `hybrid-search reembed`", err=True)
    backend, embedder, settings = _backend(args)
    try:
        report = reembed(
            backend,
            backend.template,
            embedder,
            batch_size=args.page,
            embed_batch_size=settings.embedding.batch_size,
            drop_old=args.drop_old,
        )
    finally:
        backend.close()
    ingest = report.ingest
    _out(
        f"{report.old_version} -> {report.new_version}: {report.source_count} documents read, "
        f"{ingest.indexed} indexed, {len(ingest.failed)} rejected"
    )
    if args.rejects is not None and ingest.failed:
        with args.rejects.open("w", encoding="utf-8") as fh:
            for doc_id, reason in ingest.failed:
                fh.write(json.dumps({"id": doc_id, "reason": reason}, ensure_ascii=False) + "\n")
    if not report.swapped:
        _out(
            f"alias {backend.alias} NOT moved: it stays on {report.old_version}; "
            f"{report.new_version} is left for inspection",
            err=True,
        )
        return 1
    dropped = f", {report.old_version} deleted" if report.dropped_old else ""
    _out(f"alias {backend.alias} -> {report.new_version}{dropped}")
    return 0


def _plan(args: argparse.Namespace) -> int:
    from hybrid_search.backends.opensearch.plan import build_plan, write_plan
    from hybrid_search.commands.common import parse_filter_args
    from hybrid_search.embedding import create_embedder
    from hybrid_search.templates import load_template

    settings = _settings(args)
    template = load_template(settings.template, settings.templates_dir)
    embedder = create_embedder(settings.embedding)
    plan = build_plan(
        settings,
        template,
        query=args.query,
        embedding=template.query_vector(embedder.encode_query(args.query)),
        model_id=embedder.model_id,
        filters=parse_filter_args(args.filter, template),
        k=args.k,
        page=args.page,
    )
    for path in write_plan(plan, args.out):
        _out(str(path))
    return 0
