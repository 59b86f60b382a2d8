"""Append-only row storage for vectors, commercial columns and ids, keyed by row number.

A row number is the document version's ``_key`` in tantivy: a new version of a document gets a
new row, the old one becomes a tombstone. Files only grow, so a row, once committed, never
changes; that is what makes the cached HNSW graph and concurrent readers safe. Rows are written
and fsynced **before** the tantivy commit that makes them visible; on open the files are cut back
to the committed row count, so a crash between the two loses nothing that was committed.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hybrid_search.errors import IndexCorruptError

__all__ = ["COLUMNS", "RowStore", "RowView"]

COLUMNS = ("margin", "received_at", "popularity")


@dataclass(frozen=True)
class RowView:
    """An immutable view of the first ``n`` rows, safe to read while writers append."""

    n: int
    vectors: np.ndarray
    columns: np.ndarray
    ids: list[str]


class RowStore:
    """Vectors (float32), commercial columns (float64, NaN = missing) and ids, in memory and on disk."""

    def __init__(self, directory: Path, dimension: int) -> None:
        self.directory = directory
        self.dimension = dimension
        self._vec_path = directory / "vectors.f32"
        self._col_path = directory / "columns.f64"
        self._ids_path = directory / "ids.jsonl"
        self._lock = threading.Lock()
        self._vectors = np.zeros((1024, dimension), dtype=np.float32)
        self._columns = np.zeros((1024, len(COLUMNS)), dtype=np.float64)
        self._ids: list[str] = []
        self._pending = 0
        self._pending_ids: list[str] = []
        self.n = 0

    def load(self, committed: int) -> None:
        """Load the first ``committed`` rows and cut the files back to them.

        Raises:
            IndexCorruptError: a file holds fewer rows than were committed.
        """
        d = self.dimension
        for path in (self._vec_path, self._col_path, self._ids_path):
            path.touch(exist_ok=True)
        vec_rows = self._vec_path.stat().st_size // (4 * d)
        col_rows = self._col_path.stat().st_size // (8 * len(COLUMNS))
        with self._ids_path.open("rb") as fh:
            id_lines = fh.read().split(b"\n")
        id_rows = sum(1 for line in id_lines if line)
        for path, rows in ((self._vec_path, vec_rows), (self._col_path, col_rows),
                           (self._ids_path, id_rows)):
            if rows < committed:
                msg = (
                    f"{path} holds {rows} rows but the index committed {committed}: the data "
                    "directory was damaged or partly copied; restore it or rebuild the index"
                )
                raise IndexCorruptError(msg)
        vectors = np.fromfile(self._vec_path, dtype=np.float32, count=committed * d)
        columns = np.fromfile(self._col_path, dtype=np.float64, count=committed * len(COLUMNS))
        self._ids = [json.loads(line) for line in id_lines[:committed]]
        capacity = max(1024, int(committed * 1.25))
        self._vectors = np.zeros((capacity, d), dtype=np.float32)
        self._vectors[:committed] = vectors.reshape(committed, d)
        self._columns = np.zeros((capacity, len(COLUMNS)), dtype=np.float64)
        self._columns[:committed] = columns.reshape(committed, len(COLUMNS))
        self.n = committed
        # Drop whatever an interrupted write left beyond the committed rows.
        with self._vec_path.open("r+b") as fh:
            fh.truncate(committed * 4 * d)
        with self._col_path.open("r+b") as fh:
            fh.truncate(committed * 8 * len(COLUMNS))
        with self._ids_path.open("wb") as fh:
            fh.write(b"".join(line + b"\n" for line in id_lines[:committed]))
            fh.flush()
            os.fsync(fh.fileno())

    def append(self, ids: list[str], vectors: np.ndarray, columns: np.ndarray) -> int:
        """Write rows to disk (fsynced) and memory; returns the first new row number.

        The rows are not visible to ``view()`` until ``publish()``.
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
            self._pending_ids.extend(ids)
            self._pending += count
            for path, data in (
                (self._vec_path, np.ascontiguousarray(vectors, dtype=np.float32).tobytes()),
                (self._col_path, np.ascontiguousarray(columns, dtype=np.float64).tobytes()),
                (self._ids_path, "".join(json.dumps(i) + "\n" for i in ids).encode()),
            ):
                with path.open("ab") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
            return start

    def begin(self) -> None:
        """Start a write batch."""
        self._pending = 0
        self._pending_ids = []

    def publish(self) -> None:
        """Make the pending rows visible (call after the tantivy commit succeeded)."""
        with self._lock:
            self._ids = self._ids + self._pending_ids
            self.n += self._pending
            self._pending = 0
            self._pending_ids = []

    def discard(self) -> None:
        """Forget the pending rows (the commit failed) and cut the files back."""
        with self._lock:
            self._pending = 0
            self._pending_ids = []
            self._truncate_files()

    def _truncate_files(self) -> None:
        d = self.dimension
        with self._vec_path.open("r+b") as fh:
            fh.truncate(self.n * 4 * d)
        with self._col_path.open("r+b") as fh:
            fh.truncate(self.n * 8 * len(COLUMNS))
        with self._ids_path.open("wb") as fh:
            fh.write("".join(json.dumps(i) + "\n" for i in self._ids).encode())
            fh.flush()
            os.fsync(fh.fileno())

    def view(self) -> RowView:
        """The committed rows."""
        with self._lock:
            n = self.n
            return RowView(n, self._vectors[:n], self._columns[:n], self._ids)
