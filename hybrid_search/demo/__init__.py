"""Demo luxury-fashion product catalogue shipped with the package.

``catalogue.jsonl`` holds 600 fictional products (invented houses, prose and numbers) whose
fields match the ``products`` index template, minus the embedding. It is the output of
:func:`hybrid_search.demo.generate.generate`; rebuild it with
``python -m hybrid_search.demo.generate``. With a template that declares a ``behaviour``
vector block (``products-behaviour``), the products also carry the behaviour vectors of a
generated interaction log (:mod:`hybrid_search.demo.behaviour`).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hybrid_search.config import Settings
    from hybrid_search.hits import IngestReport
    from hybrid_search.searcher import Searcher
    from hybrid_search.templates import IndexTemplate

__all__ = ["catalogue_path", "demo_settings", "load_catalogue", "open_demo_index"]


def catalogue_path() -> Path:
    """Return the filesystem path of the shipped ``catalogue.jsonl``.

    Returns:
        Path to the JSON Lines file inside the installed ``hybrid_search.demo`` package.
    """
    return Path(str(files("hybrid_search.demo") / "catalogue.jsonl"))


def load_catalogue() -> list[dict[str, Any]]:
    """Load the shipped demo catalogue.

    Returns:
        One dict per product, in file order.
    """
    with catalogue_path().open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def demo_settings(settings: Settings) -> Settings:
    """The same settings with the embedded index moved to ``<data_dir>/demo`` (another
    template than ``products``: ``<data_dir>/demo-<template>``)."""
    name = "demo" if settings.template == "products" else f"demo-{settings.template}"
    data_dir = Path(settings.embedded.data_dir) / name
    embedded = settings.embedded.model_copy(update={"data_dir": data_dir})
    return settings.model_copy(update={"embedded": embedded})


def open_demo_index(
    settings: Settings,
    *,
    rebuild: bool = False,
    progress: bool = True,
    announce: Callable[[str], None] | None = None,
) -> tuple[Searcher, IngestReport | None]:
    """Open the demo index in ``settings.embedded.data_dir``, building it first if needed.

    The index is rebuilt when ``rebuild`` is set or the shipped catalogue changed since it was
    built (a digest is kept beside it). ``announce`` is told before a build starts.

    Returns:
        The Searcher over the demo index (the caller closes it) and the ingest report of the
        build, or None when the index was already there. A report with failures leaves the
        index unmarked, so the next call rebuilds it.

    Raises:
        HybridSearchError: the model or the index could not be opened.
    """
    from hybrid_search.ingest import index_documents
    from hybrid_search.searcher import Searcher
    from hybrid_search.templates import load_template

    data_dir = Path(settings.embedded.data_dir)
    template = load_template(settings.template, settings.templates_dir)
    content = catalogue_path().read_bytes()
    if template.blocks is not None:  # the behaviour vectors follow the template's layout
        content += template.digest.encode()
    digest = hashlib.sha256(content).hexdigest()[:16]
    marker = data_dir / "demo-catalogue.sha"
    stale = rebuild or not marker.exists() or marker.read_text().strip() != digest
    if stale and data_dir.exists():
        shutil.rmtree(data_dir)
    searcher = Searcher.from_settings(settings)
    if marker.exists():
        return searcher, None
    try:
        catalogue = _with_blocks(load_catalogue(), template)
        if announce is not None:
            announce(f"indexing {len(catalogue)} demo products into {data_dir} ...")
        report = index_documents(
            ((f"item {i}", d) for i, d in enumerate(catalogue)),
            template=searcher.template,
            embedder=searcher.embedder,
            backend=searcher.backend,
            progress=progress,
        )
    except BaseException:
        searcher.close()
        raise
    if report.ok:
        marker.write_text(digest)
    return searcher, report


def _with_blocks(catalogue: list[dict[str, Any]], template: IndexTemplate) -> list[dict[str, Any]]:
    """The catalogue with generated behaviour vectors when the template has a behaviour block."""
    if template.blocks is None:
        return catalogue
    block = next((b for b in template.blocks.blocks if b.name == "behaviour"), None)
    if block is None:
        return catalogue
    from hybrid_search.demo.behaviour import behaviour_vectors, with_behaviour

    vectors, _ = behaviour_vectors(catalogue, dimension=block.dimension)
    return with_behaviour(catalogue, vectors, block.name)
