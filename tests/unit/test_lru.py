"""The embedded engine's per-snapshot LRU: compute once, evict the least recently used."""

from __future__ import annotations

from hybrid_search.backends.embedded.lru import Lru


def test_computes_once_and_evicts_the_least_recently_used():
    calls: list[str] = []

    def compute(key: str):
        return lambda: calls.append(key) or key.upper()

    cache = Lru(2)
    assert cache.get("a", compute("a")) == "A"
    assert cache.get("b", compute("b")) == "B"
    assert cache.get("a", compute("a")) == "A"  # hit: "a" is now the most recent
    assert cache.get("c", compute("c")) == "C"  # evicts "b"
    assert cache.get("a", compute("a")) == "A"
    assert cache.get("b", compute("b")) == "B"
    assert calls == ["a", "b", "c", "b"]
