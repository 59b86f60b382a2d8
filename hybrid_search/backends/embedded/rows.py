"""Append-only row storage for vectors, commercial columns, ids and sources, keyed by row number.

A row number is the document version's ``_key`` in tantivy: a new version of a document gets a
new row, the old one becomes a tombstone. Files only grow, so a row, once committed, never
changes; that is what makes the cached HNSW graph and concurrent readers safe. Each row's id and
source are one JSON line of ``docs.jsonl``, read back by offset for the page being returned.
Rows are written and fsynced **before** the tantivy commit that makes them visible; on open the
files are cut back to the committed row count, so a crash between the two loses nothing that was
committed.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from hybrid_search.errors import IndexCorruptError

__all__ = ["COLUMNS", "RowStore", "RowView"]

COLUMNS = ("margin", "received_at", "popularity")


def _loads(line: bytes) -> Any:
    """One stored row: orjson (a search decodes ten, four times faster than json), json for
    what orjson refuses but json wrote (NaN, integers beyond 64 bits)."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return json.loads(line)


@dataclass(frozen=True)
class RowView:
    """An immutable view of the first ``n`` rows, safe to read while writers append."""

    n: int
    vectors: np.ndarray
    columns: np.ndarray
    ids: list[str]
    offsets: np.ndarray


def _fsync_append(path: Path, data: bytes) -> None:
    with path.open("ab") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _truncate(path: Path, size: int) -> None:
    with path.open("r+b") as fh:
        fh.truncate(size)
        fh.flush()
        os.fsync(fh.fileno())


class RowStore:
    """Rows in memory and on disk: vectors, commercial columns (NaN = missing), ids + sources."""

    def __init__(self, directory: Path, dimension: int) -> None:
        self.directory = directory
        self.dimension = dimension
        self._vec_path = directory / "vectors.f32"
        self._col_path = directory / "columns.f64"
        self._doc_path = directory / "docs.jsonl"
        self._lock = threading.Lock()
        self._vectors = np.zeros((1024, dimension), dtype=np.float32)
        self._columns = np.zeros((1024, len(COLUMNS)), dtype=np.float64)
        self._ids: list[str] = []
        self._offsets = np.zeros(1, dtype=np.int64)
        self._pending_ids: list[str] = []
        self._pending_ends: list[int] = []
        self.n = 0

    @property
    def source_bytes(self) -> int:
        """Bytes of the committed ids and sources (``docs.jsonl``)."""
        return int(self._offsets[self.n])

    @property
    def _pending(self) -> int:
        return len(self._pending_ids)

    def load(self, committed: int) -> None:
        """Load the first ``committed`` rows and cut the files back to them.

        Raises:
            IndexCorruptError: a file holds fewer rows than were committed.
        """
        d, c = self.dimension, len(COLUMNS)
        for path in (self._vec_path, self._col_path, self._doc_path):
            path.touch(exist_ok=True)
        lines = self._doc_path.read_bytes().split(b"\n")
        if lines and not lines[-1]:
            lines.pop()
        counts = {
            self._vec_path: self._vec_path.stat().st_size // (4 * d),
            self._col_path: self._col_path.stat().st_size // (8 * c),
            self._doc_path: len(lines),
        }
        for path, rows in counts.items():
            if rows < committed:
                msg = (
                    f"{path} holds {rows} rows but the index committed {committed}: the data "
                    "directory was damaged or partly copied; restore it or rebuild the index"
                )
                raise IndexCorruptError(msg)
        kept = lines[:committed]
        try:
            self._ids = [str(_loads(line)[0]) for line in kept]
        except (ValueError, IndexError) as exc:
            msg = f"{self._doc_path} has a damaged line among the committed rows: {exc}"
            raise IndexCorruptError(msg) from exc
        self._offsets = np.zeros(committed + 1, dtype=np.int64)
        np.cumsum([len(line) + 1 for line in kept], out=self._offsets[1:])
        capacity = max(1024, int(committed * 1.25))
        self._vectors = np.zeros((capacity, d), dtype=np.float32)
        self._vectors[:committed] = np.fromfile(
            self._vec_path, dtype=np.float32, count=committed * d
        ).reshape(committed, d)
        self._columns = np.zeros((capacity, c), dtype=np.float64)
        self._columns[:committed] = np.fromfile(
            self._col_path, dtype=np.float64, count=committed * c
        ).reshape(committed, c)
        self.n = committed
        self._cut_back()

    def _cut_back(self) -> None:
        """Drop whatever an interrupted or failed write left beyond the committed rows."""
        _truncate(self._vec_path, self.n * 4 * self.dimension)
        _truncate(self._col_path, self.n * 8 * len(COLUMNS))
        _truncate(self._doc_path, int(self._offsets[self.n]))

    def append(
        self, ids: list[str], vectors: np.ndarray, columns: np.ndarray, sources: list[bytes]
    ) -> int:
        """Write rows to disk (fsynced) and memory; returns the first new row number.

        The rows stay invisible to ``view()`` until ``publish()``.
        """
        count = len(ids)
        with self._lock:
            start = self.n + self._pending
            end = start + count
            if end > self._vectors.shape[0]:
                capacity = max(end, int(self._vectors.shape[0] * 1.5))
                grown = np.zeros((capacity, self.dimension), dtype=np.float32)
                grown[:start] = self._vectors[:start]
                cols = np.zeros((capacity, len(COLUMNS)), dtype=np.float64)
                cols[:start] = self._columns[:start]
                self._vectors, self._columns = grown, cols
            self._vectors[start:end] = vectors
            self._columns[start:end] = columns
            lines = [
                b"[" + json.dumps(i).encode() + b"," + src + b"]\n"
                for i, src in zip(ids, sources, strict=True)
            ]
            position = self._pending_ends[-1] if self._pending_ends else int(self._offsets[-1])
            for line in lines:
                position += len(line)
                self._pending_ends.append(position)
            self._pending_ids.extend(ids)
            _fsync_append(self._vec_path, np.ascontiguousarray(vectors, np.float32).tobytes())
            _fsync_append(self._col_path, np.ascontiguousarray(columns, np.float64).tobytes())
            _fsync_append(self._doc_path, b"".join(lines))
            return start

    def publish(self) -> None:
        """Make the pending rows visible (call after the tantivy commit succeeded)."""
        with self._lock:
            self._ids = self._ids + self._pending_ids
            self._offsets = np.concatenate([self._offsets, np.array(self._pending_ends, np.int64)])
            self.n += len(self._pending_ids)
            self._pending_ids, self._pending_ends = [], []

    def discard(self) -> None:
        """Forget the pending rows (the commit failed) and cut the files back."""
        with self._lock:
            self._pending_ids, self._pending_ends = [], []
            self._cut_back()

    def view(self) -> RowView:
        """The committed rows."""
        with self._lock:
            n = self.n
            return RowView(n, self._vectors[:n], self._columns[:n], self._ids, self._offsets)

    def read(self, view: RowView, rows: list[int]) -> dict[int, tuple[str, dict[str, Any]]]:
        """``row -> (id, source)`` for committed rows of ``view``."""
        out: dict[int, tuple[str, dict[str, Any]]] = {}
        fd = os.open(self._doc_path, os.O_RDONLY)
        try:
            for row in rows:
                if not 0 <= row < view.n:
                    continue
                start, end = int(view.offsets[row]), int(view.offsets[row + 1])
                doc_id, source = _loads(os.pread(fd, end - start, start))
                out[row] = (str(doc_id), source)
        finally:
            os.close(fd)
        return out
