"""`hybrid-search snapshot|drift|audit|reembed`: catalogue operations (``observability/``).

- ``snapshot --out F.npz [--from-jsonl FILE]``: the catalogue's embeddings now (the index's
  stored vectors, or FILE embedded with the configured model), for ``drift``.
- ``drift A.npz B.npz --out DIR``: ``drift.json`` and ``drift.png``.
- ``audit --query-log F --events F --out report.md``: the relevance audit in markdown.
- ``reembed``: the batch path of cold start, both backends (``hybrid_search/reembed.py``); every
  document re-embedded with the configured model into a new index version, verified, then
  swapped in (OpenSearch: the alias; ``opensearch reindex`` is its deprecated alias).

Exit codes: 0 ok, 1 partial (re-embed not swapped), 2 usage or configuration error,
3 backend unavailable.
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


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``snapshot``, ``drift``, ``audit`` and ``reembed`` to the top-level parser."""
    snap = sub.add_parser("snapshot", help="save the catalogue's embeddings (.npz) for drift")
    snap.add_argument("--out", type=Path, required=True, help="the .npz file to write")
    snap.add_argument("--from-jsonl", type=Path, help="embed this catalogue instead of the index")
    snap.add_argument(
        "--model", help="with --from-jsonl: the model (HYBRID_SEARCH_EMBEDDING__MODEL)"
    )
    snap.set_defaults(handler=_snapshot)

    drift = sub.add_parser("drift", help="compare two embedding snapshots: JSON report + PNG")
    drift.add_argument("before", type=Path)
    drift.add_argument("after", type=Path)
    drift.add_argument("--out", type=Path, required=True, help="folder for drift.json/drift.png")
    drift.add_argument("--top-n", type=int, default=100, help="most popular products to follow")
    drift.add_argument("-k", type=int, default=10, help="neighbours for overlap@k")
    drift.add_argument("--align", choices=["auto", "always", "never"], default="auto")
    drift.set_defaults(handler=_drift)

    audit = sub.add_parser("audit", help="relevance audit from the query log and clicks/purchases")
    audit.add_argument(
        "--query-log", type=Path, help="default: HYBRID_SEARCH_OBSERVABILITY__QUERY_LOG_PATH"
    )
    audit.add_argument("--events", type=Path, required=True, help="JSONL: request_id, id, event")
    audit.add_argument("--out", type=Path, required=True, help="the markdown report")
    audit.add_argument("--low", type=float, default=0.3, help="low-similarity cosine bound")
    audit.add_argument("--high", type=float, default=0.6, help="high-similarity cosine bound")
    audit.add_argument("--sample", type=int, default=20, help="items per section")
    audit.add_argument("--seed", type=int, default=0)
    audit.set_defaults(handler=_audit)

    re_ = sub.add_parser(
        "reembed",
        help="re-embed the catalogue into a new index version, verify, swap (both backends; "
        "OpenSearch: the alias)",
    )
    re_.add_argument("--model", help="the model to embed with (default: the configured one)")
    re_.add_argument("--drop-old", action="store_true", help="delete the old version after")
    re_.add_argument("--rejects", type=Path, help="write rejected documents here (JSONL)")
    re_.set_defaults(handler=_reembed)


def _settings(args: argparse.Namespace) -> Any:
    from hybrid_search.commands.common import settings_from_args

    model = getattr(args, "model", None)
    return settings_from_args(args, **({"embedding": {"model": model}} if model else {}))


def _snapshot(args: argparse.Namespace) -> int:
    from hybrid_search.commands.common import EXIT_OK, EXIT_USAGE
    from hybrid_search.observability.drift import EmbeddingSnapshot, save_snapshot

    settings = _settings(args)
    from hybrid_search.templates import load_template

    template = load_template(settings.template, settings.templates_dir)
    if args.from_jsonl is not None:
        import numpy as np

        from hybrid_search.documents import validate_document
        from hybrid_search.embedding import create_embedder
        from hybrid_search.ingest import embed_documents, read_jsonl
        from hybrid_search.templates import knn_dimension

        docs = []
        for where, raw in read_jsonl(args.from_jsonl):
            if isinstance(raw, Exception):
                _out(f"error: {args.from_jsonl} {where}: {raw}", err=True)
                return EXIT_USAGE
            docs.append(validate_document(raw, template))
        embedder = create_embedder(settings.embedding)
        knn_dimension(template, embedder.dimension)  # a text block of another dimension: refused
        # The same vectors the index stores (fused with the documents' blocks, if any).
        docs, vectors = embed_documents(
            docs, template=template, embedder=embedder, batch_size=settings.embedding.batch_size
        )
        pop = template.commercial_fields.get("popularity")
        snap = EmbeddingSnapshot(
            ids=[str(d[template.id_field]) for d in docs],
            vectors=vectors,
            categories=[str(d.get("category", "")) for d in docs],
            popularity=np.array(
                [float(d[pop]) if pop and d.get(pop) is not None else np.nan for d in docs]
            ),
            model_id=embedder.model_id,
        )
    else:
        if settings.backend != "embedded":
            _out(
                "error: snapshot of a live index needs the embedded backend; use --from-jsonl",
                err=True,
            )
            return EXIT_USAGE
        from hybrid_search.backends.embedded.backend import EmbeddedBackend
        from hybrid_search.observability.catalogue import snapshot_of_index

        backend = EmbeddedBackend(settings.embedded.data_dir, template, settings.embedded)
        try:
            snap = snapshot_of_index(backend, template)
        finally:
            backend.close()
    save_snapshot(snap, args.out)
    _out(json.dumps({"out": str(args.out), "documents": len(snap.ids), "model_id": snap.model_id}))
    return EXIT_OK


def _drift(args: argparse.Namespace) -> int:
    from hybrid_search.commands.common import EXIT_OK
    from hybrid_search.observability.drift import drift_report, load_snapshot, write_drift

    report = drift_report(
        load_snapshot(args.before),
        load_snapshot(args.after),
        top_n=args.top_n,
        k=args.k,
        align=args.align,
    )
    json_path, png_path = write_drift(report, args.out)
    summary = {
        "common": report["common"],
        f"neighbour_overlap@{args.k}": report[f"neighbour_overlap@{args.k}"],
        "top_n_centroid_shift": report["top_n"]["centroid_shift"],
        "aligned": report["aligned"],
        "json": str(json_path),
        "png": str(png_path),
    }
    _out(json.dumps(summary))
    return EXIT_OK


def _audit(args: argparse.Namespace) -> int:
    from hybrid_search.commands.common import EXIT_OK
    from hybrid_search.observability.audit import audit, read_events, render_markdown
    from hybrid_search.observability.querylog import read_query_log
    from hybrid_search.searcher import Searcher

    settings = _settings(args)
    log_path = args.query_log or settings.observability.query_log_path
    events = read_events(args.events)
    searcher = Searcher.from_settings(settings)
    backend = searcher.backend
    backend.health()  # opens the index: the embedded get() reads an id map filled on open
    titles: dict[str, str] = {}

    def title_of(doc_id: str) -> str:
        if doc_id not in titles:
            source = backend.get(doc_id) or {}
            titles[doc_id] = str(source.get("title", ""))
        return titles[doc_id]

    def neighbours(doc_id: str) -> list[tuple[str, str, float]]:
        text = title_of(doc_id)
        if not text:
            return []
        hits = backend.lexical(text, k=4, filters=[])
        found = backend.fetch([h.key for h in hits])
        out = []
        for h in hits:
            if h.key in found and found[h.key][0] != doc_id:
                nid, source = found[h.key]
                out.append((nid, str(source.get("title", "")), float(h.score)))
        return out[:3]

    try:
        report = audit(
            read_query_log(log_path),
            events,
            low=args.low,
            high=args.high,
            sample=args.sample,
            seed=args.seed,
            vector_of=_text_vector_of(backend, searcher.template),
            neighbours=neighbours,
        )
        for item in report.engaged_low + report.ignored_high:
            title_of(item.id)
    finally:
        searcher.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render_markdown(report, titles), encoding="utf-8")
    _out(
        json.dumps(
            {
                "searches": report.searches,
                "engaged_low": report.engaged_low_total,
                "ignored_high": report.ignored_high_total,
                "out": str(args.out),
            }
        )
    )
    return EXIT_OK


def _text_vector_of(backend: Any, template: Any) -> Any:
    """``vector_of`` for the audit: a product's stored vector, or with ``vector_blocks`` its
    text block, which is what the logged (text) query vector is compared with."""
    layout = template.blocks
    if layout is None:
        return backend.vector_of

    def text_block(doc_id: str) -> Any:
        vec = backend.vector_of(doc_id)
        return None if vec is None else layout.split(vec)["text"]

    return text_block


def _reembed(args: argparse.Namespace) -> int:
    from hybrid_search.backends import create_backend
    from hybrid_search.commands.common import EXIT_OK, EXIT_PARTIAL
    from hybrid_search.embedding import create_embedder
    from hybrid_search.reembed import reembed
    from hybrid_search.templates import load_template

    settings = _settings(args)
    template = load_template(settings.template, settings.templates_dir)
    backend = create_backend(settings, template)
    try:
        report = reembed(
            backend,
            template,
            create_embedder(settings.embedding),
            embed_batch_size=settings.embedding.batch_size,
            drop_old=args.drop_old,
        )
    finally:
        backend.close()
    if args.rejects is not None and report.ingest.failed:
        with args.rejects.open("w", encoding="utf-8") as fh:
            for doc_id, reason in report.ingest.failed:
                fh.write(json.dumps({"id": doc_id, "reason": reason}, ensure_ascii=False) + "\n")
    _out(
        json.dumps(
            {
                "old_model": report.old_model,
                "new_model": report.new_model,
                "old_version": report.old_version,
                "version": report.new_version,
                "documents": report.source_count,
                "indexed": report.ingest.indexed,
                "failed": len(report.ingest.failed),
                "swapped": report.swapped,
                "dropped_old": report.dropped_old,
            }
        )
    )
    return EXIT_OK if report.swapped else EXIT_PARTIAL
