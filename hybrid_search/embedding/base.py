"""The ``Embedder`` protocol and the query-side wrapper (LRU cache + timeout)."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Protocol, runtime_checkable

import numpy as np

from hybrid_search.errors import EmbedderError, EmbedderTimeoutError

__all__ = ["Embedder", "QueryEncoder"]

logger = logging.getLogger(__name__)


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into float32 vectors. Query and document sides may differ (prefixes, heads)."""

    model_id: str
    dimension: int
    runtime: str
    normalized: bool

    def encode_query(self, text: str) -> np.ndarray:
        """One query -> a ``(dimension,)`` float32 vector."""
        ...

    def encode_documents(
        self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False
    ) -> np.ndarray:
        """Many documents -> an ``(n, dimension)`` float32 matrix."""
        ...


class QueryEncoder:
    """The hot-path side of an embedder: an LRU cache of query vectors and a timeout.

    A timed-out call keeps running on its worker thread (an encoder cannot be interrupted), so
    the pool is small and bounded: when the model hangs, later queries time out quickly instead
    of piling up threads.
    """

    def __init__(self, embedder: Embedder, *, cache_size: int = 4096, timeout_s: float = 2.0):
        self.embedder = embedder
        self.cache_size = cache_size
        self.timeout_s = timeout_s
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="embed-query")
        self.hits = 0
        self.misses = 0

    def _cached(self, text: str) -> np.ndarray | None:
        with self._lock:
            vec = self._cache.get(text)
            if vec is not None:
                self._cache.move_to_end(text)
                self.hits += 1
            return vec

    def _store(self, text: str, vec: np.ndarray) -> None:
        if self.cache_size <= 0:
            return
        with self._lock:
            self._cache[text] = vec
            self._cache.move_to_end(text)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)

    def encode(self, text: str) -> np.ndarray:
        """Encode a query, from the cache when possible.

        Raises:
            EmbedderTimeoutError: the model did not answer within ``timeout_s``.
            EmbedderError: the model raised.
        """
        cached = self._cached(text)
        if cached is not None:
            return cached
        with self._lock:
            self.misses += 1
        call: Callable[[str], np.ndarray] = self.embedder.encode_query
        future = self._pool.submit(call, text)
        try:
            vec = future.result(timeout=self.timeout_s)
        except FutureTimeout as exc:
            # Still queued behind a hung model: drop it, or every timed-out query would run later.
            future.cancel()
            msg = f"query embedding took longer than {self.timeout_s} s"
            raise EmbedderTimeoutError(msg) from exc
        except EmbedderError:
            raise
        except Exception as exc:
            msg = f"query embedding failed: {type(exc).__name__}: {exc}"
            raise EmbedderError(msg) from exc
        vec = np.asarray(vec, dtype=np.float32)
        if not np.isfinite(vec).all():  # a broken model: degrade like a failure, never cache it
            msg = "query embedding failed: the model returned NaN or infinite values"
            raise EmbedderError(msg)
        vec.setflags(write=False)
        self._store(text, vec)
        return vec

    def close(self) -> None:
        """Stop the worker threads."""
        self._pool.shutdown(wait=False, cancel_futures=True)
