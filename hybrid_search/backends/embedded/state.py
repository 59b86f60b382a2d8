"""The embedded engine's index state: the data directory, its manifest, and the open snapshot.

``WritePath`` (writes.py) builds on this state and ``EmbeddedBackend`` (backend.py) on both: a
line of three complete classes (state, writes, reads), so neither half declares the other's
methods as stubs. Opening reads the manifest, checks the template's schema digest, opens the
tantivy index, cuts the rows back to the committed count and loads the cached HNSW graph.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np
import tantivy

from hybrid_search.backends.base import IndexInfo
from hybrid_search.backends.embedded.lexical import ID_FIELD, KEY_FIELD, SOURCE_FIELD, LexicalSchema
from hybrid_search.backends.embedded.rows import RowStore
from hybrid_search.backends.embedded.snapshot import Snapshot, make_snapshot, schema_digest
from hybrid_search.backends.embedded.vectors import load_hnsw
from hybrid_search.config import EmbeddedSettings
from hybrid_search.errors import IndexCorruptError, IndexNotFoundError, ModelMismatchError
from hybrid_search.templates import IndexTemplate

__all__ = ["META_ID", "META_KEY", "IndexState"]

logger = logging.getLogger(__name__)

META_ID = "__hybrid_search_meta__"
META_KEY = 2**63 - 1


class IndexState:
    """One data directory's state, opened on first use (the constructor does no I/O)."""

    def __init__(self, data_dir: Path, template: IndexTemplate, settings: EmbeddedSettings) -> None:
        self.data_dir = Path(data_dir)
        self.template = template
        self.settings = settings
        self.lex = LexicalSchema(template)
        self._lock = threading.RLock()
        self._index: Any = None
        self._writer: Any = None
        self._rows = RowStore(self.data_dir, template.vector.dimension)
        self._snap: Snapshot | None = None
        self._manifest: dict[str, Any] | None = None
        self._id_to_key: dict[str, int] = {}
        self._rebuild: threading.Thread | None = None
        self._defer_rebuilds = 0
        self._closed = False

    @property
    def _manifest_path(self) -> Path:
        return self.data_dir / "manifest.json"

    @property
    def _tantivy_dir(self) -> Path:
        """The lexical index the manifest names (``compact_lexical`` switches it)."""
        return self.data_dir / str((self._manifest or {}).get("tantivy_dir", "tantivy"))

    def exists(self) -> bool:
        """Whether an index was created in ``data_dir``."""
        return self._manifest_path.exists()

    def _open(self) -> Snapshot:
        snap = self._snap
        if snap is not None:
            return snap
        with self._lock:
            if self._snap is not None:
                return self._snap
            if not self._manifest_path.exists():
                if any(self.data_dir.glob("tantivy*")):
                    msg = f"{self._manifest_path} is missing but {self.data_dir} holds an index"
                    raise IndexCorruptError(msg)
                msg = (
                    f"no index in {self.data_dir.resolve()}: build one with "
                    "`hybrid-search ingest FILE.jsonl` or `hybrid-search demo`"
                )
                raise IndexNotFoundError(msg)
            try:
                manifest = json.loads(self._manifest_path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                msg = f"{self._manifest_path} is unreadable ({exc}): restore or rebuild the index"
                raise IndexCorruptError(msg) from exc
            if manifest.get("schema_digest") != schema_digest(self.template):
                msg = (
                    f"the index in {self.data_dir} was built from a different version of "
                    f"template {self.template.path} (its fields or vector settings changed): "
                    "rebuild it with `hybrid-search ingest --recreate FILE.jsonl`"
                )
                raise ModelMismatchError(msg)
            self._manifest = manifest
            self._snap = self._load()
            return self._snap

    def _load(self) -> Snapshot:
        tdir = self._tantivy_dir
        rows = [self.data_dir / name for name in ("vectors.f32", "docs.jsonl")]
        has_rows = any(p.is_file() and p.stat().st_size for p in rows)
        if has_rows and not (tdir / "meta.json").exists():
            # else tantivy makes a fresh empty index and the rows are cut back to 0: data loss.
            msg = (
                f"{tdir} holds no tantivy index (meta.json is missing) but {self.data_dir} holds "
                "rows: damaged or partly copied; restore it or rebuild (`ingest --recreate`)"
            )
            raise IndexCorruptError(msg)
        try:
            index = tantivy.Index(self.lex.schema, path=str(tdir), reuse=True)
        except (OSError, ValueError) as exc:
            msg = f"cannot open the tantivy index in {tdir}: {exc}"
            raise IndexCorruptError(msg) from exc
        self.lex.register(index)
        index.reload()
        self._index = index
        searcher = index.searcher()
        meta = self._read_meta(searcher)
        committed = int(meta.get("rows", 0))
        self._rows.load(committed)
        alive = np.zeros(committed, dtype=bool)
        total = searcher.num_docs
        if total:
            hits = searcher.search(tantivy.Query.all_query(), total, count=False).hits
            keys = searcher.fast_field_values(KEY_FIELD, [addr for _, addr in hits])
            live = np.array([k for k in keys if k is not None and k != META_KEY], dtype=np.int64)
            if live.size and live.max() >= committed:
                msg = f"{tdir} references rows beyond the committed row count {committed}"
                raise IndexCorruptError(msg)
            alive[live] = True
        view = self._rows.view()
        self._id_to_key = {view.ids[k]: int(k) for k in np.flatnonzero(alive)}
        graph = load_hnsw(self.data_dir, self._manifest["index_uuid"], committed)  # type: ignore[index]
        logger.info("opened %s: %d documents, %d rows", self.data_dir, int(alive.sum()), committed)
        return make_snapshot(searcher, view, alive, graph, int(meta.get("generation", 0)))

    def _read_meta(self, searcher: Any) -> dict[str, Any]:
        hits = searcher.search(tantivy.Query.term_query(self.lex.schema, ID_FIELD, META_ID), 1).hits
        if not hits:
            return {"rows": 0, "generation": 0}
        doc = searcher.doc(hits[0][1])
        return dict(json.loads(bytes(doc.get_first(SOURCE_FIELD))))

    def info(self) -> IndexInfo:
        """The stored model id, dimension and document count.

        Raises:
            IndexNotFoundError: there is no index yet.
        """
        snap = self._open()
        manifest = self._manifest or {}
        return IndexInfo(
            model_id=str(manifest.get("model_id")),
            dimension=int(manifest.get("dimension", 0)),
            template_digest=str(manifest.get("schema_digest")),
            documents=int(snap.alive.sum()),
        )
