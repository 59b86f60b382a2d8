"""The ``hybrid-search`` command: thin wrappers over the Searcher, ingest and template checks.

Exit codes: 0 ok, 1 partial failure (some documents rejected), 2 usage or configuration error,
3 backend unavailable. Results go to stdout, logs to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hybrid_search.commands.common import (
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    parse_filter_args,
    settings_from_args,
)
from hybrid_search.errors import (
    BackendUnavailableError,
    HybridSearchError,
    IndexNotFoundError,
)

__all__ = [
    "EXIT_OK",
    "EXIT_PARTIAL",
    "EXIT_UNAVAILABLE",
    "EXIT_USAGE",
    "main",
    "parse_filter_args",
    "settings_from_args",
]

logger = logging.getLogger("hybrid_search.cli")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hybrid-search", description=__doc__.splitlines()[0])
    p.add_argument(
        "--data-dir", type=Path, help="embedded index directory (HYBRID_SEARCH_EMBEDDED__DATA_DIR)"
    )
    p.add_argument("--embedding-backend", choices=["auto", "onnx", "onnx-int8", "torch"])
    p.add_argument("-v", "--verbose", action="store_true", help="log INFO to stderr")
    sub = p.add_subparsers(dest="command", required=True)

    ingest = sub.add_parser("ingest", help="index a JSONL file of documents")
    ingest.add_argument("file", type=Path)
    ingest.add_argument("--rejects", type=Path, help="write rejected documents here (JSONL)")
    ingest.add_argument(
        "--recreate",
        action="store_true",
        help="delete the index first (embedded: data_dir; OpenSearch: every version behind the "
        "alias)",
    )
    ingest.add_argument("--batch-size", type=int, default=512)

    search = sub.add_parser("search", help="search the index")
    search.add_argument("query")
    search.add_argument("--mode", choices=["auto", "hybrid", "lexical", "vector"])
    search.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="EXPR",
        help="field=value[,value] | field>=N | field<=N | field>N | field<N (repeatable)",
    )
    search.add_argument("-k", type=int)
    search.add_argument("--page", type=int, default=0)
    search.add_argument("--no-commercial", action="store_true")
    search.add_argument("--json", action="store_true", help="print the full response as JSON")

    templates = sub.add_parser("templates", help="index template tools")
    tsub = templates.add_subparsers(dest="templates_command", required=True)
    check = tsub.add_parser("check", help="validate the template against the OpenSearch API spec")
    check.add_argument(
        "--spec-dir",
        type=Path,
        help="full opensearch-api-specification spec/ folder (default: the packaged subset)",
    )
    check.add_argument(
        "--cluster",
        metavar="URL",
        help="also simulate the template on this cluster (POST _index_template/_simulate)",
    )

    config = sub.add_parser("config", help="settings")
    csub = config.add_subparsers(dest="config_command", required=True)
    csub.add_parser("show", help="print the merged settings (secrets masked)")

    for module in _command_modules():
        module.register(sub)
    return p


def _command_modules() -> tuple[Any, ...]:
    """Command groups that live beside their rooms; each has ``register(subparsers)``.

    A group's parsers set ``handler=`` (a function of the parsed args returning the exit code).
    """
    from hybrid_search.commands import demo, evaluate, ltr, observe, opensearch, serve, training

    return (demo, serve, opensearch, evaluate, training, ltr, observe)


def _ingest(args: argparse.Namespace) -> int:
    from hybrid_search.backends import create_backend
    from hybrid_search.ingest import index_documents, read_jsonl
    from hybrid_search.searcher import Searcher
    from hybrid_search.templates import load_template

    settings = settings_from_args(args)
    if args.recreate:  # the configured backend drops its own index
        template = load_template(settings.template, settings.templates_dir)
        backend = create_backend(settings, template)
        try:
            backend.drop_index()
        finally:
            backend.close()
    searcher = Searcher.from_settings(settings)
    try:
        report = index_documents(
            read_jsonl(args.file),
            template=searcher.template,
            embedder=searcher.embedder,
            backend=searcher.backend,
            batch_size=args.batch_size,
            embed_batch_size=settings.embedding.batch_size,
            progress=True,
        )
        build = searcher.backend.capabilities.background_build
        if build is not None:
            build.optimize()  # wait for the HNSW graph so the next search finds it built and saved
    finally:
        searcher.close()
    if args.rejects is not None:
        with args.rejects.open("w", encoding="utf-8") as fh:
            for doc_id, reason in report.failed:
                fh.write(json.dumps({"id": doc_id, "reason": reason}, ensure_ascii=False) + "\n")
    print(json.dumps({"indexed": report.indexed, "failed": len(report.failed)}))
    for doc_id, reason in report.failed[:10]:
        print(f"rejected {doc_id}: {reason}", file=sys.stderr)
    if len(report.failed) > 10:
        print(f"... and {len(report.failed) - 10} more", file=sys.stderr)
    return EXIT_PARTIAL if report.failed else EXIT_OK


def _search(args: argparse.Namespace) -> int:
    from hybrid_search.searcher import Searcher

    searcher = Searcher.from_settings(settings_from_args(args))
    try:
        request: dict[str, Any] = {
            "query": args.query,
            "filters": parse_filter_args(args.filter, searcher.template) or None,
            "page": args.page,
            "mode": args.mode,
            "k": args.k,
        }
        if args.no_commercial:
            request["commercial"] = {"enabled": False}
        response = searcher.search(request)
    finally:
        searcher.close()
    if args.json:
        print(response.model_dump_json(indent=2))
        return EXIT_OK
    print(f"mode_used: {response.mode_used}  embedder: {response.embedder}")
    if response.fallback_reason:
        print(f"fallback: {response.fallback_reason}")
    for hit in response.hits:
        title = hit["source"].get("title", "")
        print(f"{hit['rank']:>3}. {hit['score']:.4f}  {hit['id']}  {title}")
    return EXIT_OK


def _templates_check(args: argparse.Namespace) -> int:
    from hybrid_search.backends.opensearch.spec import SpecValidator, default_spec_dir
    from hybrid_search.templates import load_template

    settings = settings_from_args(args)
    template = load_template(settings.template, settings.templates_dir)
    print(
        f"{template.path}: field roles OK (vector {template.vector.name} "
        f"{template.vector.dimension}-d {template.vector.space_type}, "
        f"{len(template.lexical_fields)} lexical fields, {len(template.filter_fields)} filters)"
    )
    if template.blocks is not None:
        parts = [
            f"{b.name} {b.dimension}-d weight {b.weight:g}"
            + (
                f" / (1 + popularity/{b.popularity_reference:g})^{b.inverse_popularity:g}"
                if b.inverse_popularity
                else ""
            )
            for b in template.blocks.blocks
        ]
        print(f"{template.path}: vector blocks {' + '.join(parts)}")
    spec_dir = Path(args.spec_dir) if args.spec_dir else default_spec_dir()
    errors = SpecValidator(spec_dir).validate("index_template", template.body)
    if errors:
        for err in errors:
            print(f"spec: {err}", file=sys.stderr)
        return EXIT_USAGE
    print(f"{template.path}: valid against the OpenSearch API specification in {spec_dir}")
    return _simulate_on_cluster(settings, template, args.cluster) if args.cluster else EXIT_OK


def _simulate_on_cluster(settings: Any, template: Any, url: str) -> int:
    """What the cluster makes of the template: ``POST _index_template/_simulate`` resolves it
    (mappings, analyzers, knn method) without creating anything. Exit 1 if it is refused."""
    from hybrid_search.backends.opensearch.admin import template_body
    from hybrid_search.backends.opensearch.backend import OpenSearchBackend
    from hybrid_search.backends.opensearch.client import Request
    from hybrid_search.errors import BackendError

    settings = settings.model_copy(
        update={"opensearch": settings.opensearch.model_copy(update={"url": url})}
    )
    backend = OpenSearchBackend(settings, template)
    req = Request("POST", "/_index_template/_simulate", template_body(template, backend.names))
    try:
        resolved = backend.client.send(req, what="simulate the index template")
    except BackendError as exc:
        print(f"{url}: the cluster refuses {template.path}: {exc}", file=sys.stderr)
        return EXIT_PARTIAL
    finally:
        backend.close()
    props = resolved.get("template", {}).get("mappings", {}).get("properties", {})
    knn = props.get(template.vector.name, {})
    method = knn.get("method", {})
    print(
        f"{url}: _index_template/_simulate accepted {template.path}: {len(props)} fields, "
        f"{template.vector.name} {knn.get('dimension')}-d {method.get('engine')} "
        f"{method.get('space_type')}"
    )
    for other in resolved.get("overlapping", []):
        print(
            f"{url}: note: template {other.get('name')!r} also matches "
            f"{other.get('index_patterns')} (the higher priority wins)"
        )
    return EXIT_OK


def _config_show(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    print(settings.model_dump_json(indent=2))
    return EXIT_OK


class _PlainStderr(logging.Handler):
    """The message alone, to whatever ``sys.stderr`` is when the record comes."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:  # logging's own contract: a handler never raises
            self.handleError(record)


def _say_onnx_export() -> None:
    """The first run exports the model to ONNX (about 10 s): say so in one plain line on
    stderr, without --verbose (the exporter's own output is captured by embedding/onnx.py)."""
    onnx_log = logging.getLogger("hybrid_search.embedding.onnx")
    if not any(isinstance(h, _PlainStderr) for h in onnx_log.handlers):
        onnx_log.addHandler(_PlainStderr())
    onnx_log.setLevel(logging.INFO)
    onnx_log.propagate = False


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not args.verbose:
        _say_onnx_export()
    handlers = {
        "ingest": _ingest,
        "search": _search,
        "templates": _templates_check,
        "config": _config_show,
    }
    handler = getattr(args, "handler", None) or handlers[args.command]
    try:
        return int(handler(args))
    except BackendUnavailableError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except (IndexNotFoundError, HybridSearchError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
