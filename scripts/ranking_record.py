"""Record the rankings of a fixed request set over the demo catalogue, to prove a refactoring
changes no answer (issue 16: "identical rankings before and after").

The catalogue is indexed with the real all-MiniLM-L6-v2 (ONNX fp32 on both sides, pinned so
another change of the shipped embedder default does not show up as a ranking change), then
every request of ``REQUESTS`` is run through ``Searcher.search`` and its ids, order,
``mode_used``, ``fallback_reason`` and scores (rounded to 1e-6) are written as JSON. ``--compare``
diffs a new run against a record and exits 1 on any difference.

Backends:
  embedded    (default) a temporary embedded index.
  opensearch  a uuid alias on ``--url`` with the shipped templates mapped on Lucene (the local
              Maven node has no faiss); everything it installed is deleted afterwards. With
              ``--native`` the same requests in native mode (hybrid query + search pipeline).

Usage::

    python scripts/ranking_record.py --out /tmp/before-embedded.json
    python scripts/ranking_record.py --backend opensearch --url http://127.0.0.1:9200 \
        --out /tmp/before-os.json
    python scripts/ranking_record.py --compare /tmp/before-embedded.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from hybrid_search.backends import create_backend
from hybrid_search.config import Settings, load_settings
from hybrid_search.demo import catalogue_path
from hybrid_search.errors import EmbedderError
from hybrid_search.ingest import index_documents
from hybrid_search.searcher import Searcher
from hybrid_search.templates import default_templates_dir, load_template, with_knn_engine

_QUERIES = (
    "black leather ankle boots",
    "tiny sparkly purse",
    "evening bag for a gala",
    "cashmere scarf",
    "silk dress",
    "gold necklace with pendant",
    "something warm for winter",
    "blak lether boots",  # typos
    "sneakers",
    "watch",
    "red",
    "men's wool coat",
    "a gift for my wife",
    "zzzz qqqq",  # nothing matches
)

_NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)  # freshness is relative to the clock

_FILTERS: tuple[dict[str, Any] | None, ...] = (
    None,
    {"in_stock": True, "price": {"lte": 3000}},
)


def requests(sku: str) -> list[dict[str, Any]]:
    """The fixed request set: the shipped default for every query and filter, then each mode,
    combination, normalization, fuzzy policy, gate, weight and paging variant on a few."""
    out: list[dict[str, Any]] = []
    for q in (*_QUERIES, sku):
        for f in _FILTERS:
            out.append({"query": q, "filters": f})
    for q in ("black leather ankle boots", "tiny sparkly purse", sku, "blak lether boots"):
        for mode in ("lexical", "vector", "hybrid", "auto"):
            out.append({"query": q, "mode": mode, "commercial": {"enabled": False}})
        for comb in ("arithmetic_mean", "geometric_mean", "harmonic_mean", "rrf"):
            out.append({"query": q, "mode": "hybrid", "combination": comb})
        for norm in ("min_max", "l2", "z_score"):
            out.append({"query": q, "mode": "hybrid", "normalization": norm})
        for fuzzy in ("off", "on_empty", "always"):
            out.append({"query": q, "fuzzy": fuzzy})
        out.append({"query": q, "min_vector_cosine": 0.9})
        out.append({"query": q, "min_vector_cosine": 0.0})
        out.append({"query": q, "lexical_weight": 0.0, "vector_weight": 1.0})
        out.append({"query": q, "lexical_weight": 0.8, "vector_weight": 0.2})
        out.append({"query": q, "adaptive_fusion": False})
        out.append({"query": q, "adaptive_fusion": True})
        out.append({"query": q, "page": 1, "k": 5})
        out.append({"query": q, "candidates": 20})
        out.append({"query": q, "mode": "hybrid", "combination": "rrf", "rank_constant": 10})
    return out


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {k: _round(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [_round(v) for v in value]
    return value


def _answer(searcher: Searcher, request: dict[str, Any]) -> dict[str, Any]:
    try:
        resp = searcher.search({"k": 10, "explain": True, **request})
    except Exception as exc:  # a refused request is part of the record
        return {"error": f"{type(exc).__name__}: {exc}"}
    return {
        "mode_used": resp.mode_used,
        "fallback_reason": resp.fallback_reason,
        "degraded": resp.degraded,
        "warnings": resp.warnings,
        "candidates": resp.candidates,
        "top_vector_cosine": _round(resp.top_vector_cosine),
        "hits": [
            {"id": h["id"], "score": _round(h["score"]), "breakdown": _round(h["breakdown"])}
            for h in resp.hits
        ],
    }


class _BrokenEmbedder(EmbedderError):
    pass


def _settings(args: argparse.Namespace, work: Path, templates: Path | None) -> Settings:
    overrides: dict[str, Any] = {
        "embedding": {"backend": "onnx"},  # fp32 both sides: pinned (see the module docstring)
        "embedded": {"data_dir": work / "index"},
    }
    if templates is not None:
        overrides["templates_dir"] = templates
    if args.backend == "opensearch":
        overrides["backend"] = "opensearch"
        overrides["opensearch"] = {
            "url": args.url,
            "index_alias": f"hs-record-{uuid.uuid4().hex[:12]}",
            **({"mode": "native"} if args.native else {}),
        }
    return load_settings(**overrides)


def _lucene_templates(work: Path) -> Path:
    out = work / "templates"
    out.mkdir()
    for path in sorted(default_templates_dir().glob("*.json")):
        lucene = with_knn_engine(load_template(path.stem, path.parent), "lucene")
        (out / path.name).write_text(json.dumps(lucene.body, indent=2), encoding="utf-8")
    for extra in default_templates_dir().iterdir():
        if extra.suffix != ".json" and extra.is_file():
            (out / extra.name).write_bytes(extra.read_bytes())
    return out


def _drop(searcher: Searcher) -> None:
    from hybrid_search.backends.opensearch.client import Request

    backend: Any = searcher.backend
    names = backend.names
    backend.bootstrapper.drop_indices()  # every version, by name
    for path in (
        f"/_index_template/{names.template}",
        f"/_search/pipeline/{names.minmax_pipeline}",
        f"/_search/pipeline/{names.rrf_pipeline}",
        f"/_scripts/{names.script}",
    ):
        backend.client.send(Request("DELETE", path), what="teardown", ignore=(400, 404))


def record(args: argparse.Namespace) -> dict[str, Any]:
    """Index the catalogue, run every request, return the record."""
    catalogue = Path(args.catalogue)
    docs = [json.loads(line) for line in catalogue.read_text("utf-8").splitlines() if line]
    work = Path(tempfile.mkdtemp(prefix="ranking-record-"))
    try:
        templates = _lucene_templates(work) if args.backend == "opensearch" else None
        settings = _settings(args, work, templates)
        template = load_template(settings.template, settings.templates_dir)
        searcher = Searcher(
            settings, template, create_backend(settings, template), clock=lambda: _NOW
        )
        try:
            report = index_documents(
                ((f"item {i}", d) for i, d in enumerate(docs)),
                template=searcher.template,
                embedder=searcher.embedder,
                backend=searcher.backend,
                progress=False,
            )
            if report.failed:
                msg = f"catalogue rejected documents: {report.failed[:3]}"
                raise SystemExit(msg)
            sku = str(docs[41]["sku"])
            answers = [{"request": r, **_answer(searcher, r)} for r in requests(sku)]
            # The embedder-down fallback: a factory that fails, on a second Searcher.
            broken = Searcher(
                settings,
                searcher.template,
                searcher.backend,
                embedder_factory=lambda: (_ for _ in ()).throw(_BrokenEmbedder("down")),
                clock=lambda: _NOW,
            )
            for q in ("black leather ankle boots", sku):
                for mode in ("auto", "vector", "hybrid"):
                    r = {"query": q, "mode": mode, "_embedder": "down"}
                    body = {k: v for k, v in r.items() if not k.startswith("_")}
                    answers.append({"request": r, **_answer(broken, body)})
            embedder = f"{searcher.embedder.model_id} ({searcher.embedder.runtime})"
        finally:
            if args.backend == "opensearch":
                _drop(searcher)
            searcher.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "backend": args.backend + (" native" if args.native else ""),
        "catalogue_sha256": hashlib.sha256(catalogue.read_bytes()).hexdigest(),
        "embedder": embedder,
        "answers": answers,
    }


def compare(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Every difference between two records, one line each."""
    diffs = [
        f"{key}: {old.get(key)!r} -> {new.get(key)!r}"
        for key in ("backend", "catalogue_sha256", "embedder")
        if old.get(key) != new.get(key)
    ]
    if len(old["answers"]) != len(new["answers"]):
        diffs.append(f"answers: {len(old['answers'])} -> {len(new['answers'])}")
    for a, b in zip(old["answers"], new["answers"], strict=False):
        if a != b:
            keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            diffs.append(f"{json.dumps(a['request'])}: differs in {keys}")
    return diffs


def main(argv: list[str] | None = None) -> int:
    """Record, or record and compare."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--backend", choices=("embedded", "opensearch"), default="embedded")
    p.add_argument("--url", default="http://127.0.0.1:9200")
    p.add_argument("--native", action="store_true", help="opensearch native mode")
    p.add_argument("--catalogue", default=str(catalogue_path()))
    p.add_argument("--out", type=Path)
    p.add_argument("--compare", type=Path, help="a record to diff against (exit 1 if any)")
    args = p.parse_args(argv)
    rec = record(args)
    if args.out is not None:
        args.out.write_text(json.dumps(rec, indent=1) + "\n", encoding="utf-8")
    n = len(rec["answers"])
    errors = sum("error" in a for a in rec["answers"])
    sys.stdout.write(f"{rec['backend']}: {n} requests ({errors} refused), {rec['embedder']}\n")
    if args.compare is not None:
        diffs = compare(json.loads(args.compare.read_text("utf-8")), rec)
        for line in diffs:
            sys.stdout.write(line + "\n")
        sys.stdout.write(f"{len(diffs)} differences against {args.compare}\n")
        return 1 if diffs else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
