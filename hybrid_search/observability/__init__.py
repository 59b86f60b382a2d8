"""Metrics, the query log, embedding drift, relevance audits and the batch re-embed job.

Only ``metrics`` and ``querylog`` are on the request path; the rest are offline tools behind
``hybrid-search drift|audit|snapshot|reembed`` (``hybrid_search/commands/observe.py``).
"""

from __future__ import annotations

__all__: list[str] = []
