"""A plain Python stand-in for ``OpenSearchClient``: canned answers by request, every request kept.

Not a fake OpenSearch: it answers what a test tells it to, so a test can pin the requests the
backend sends (bodies, URL parameters, their order) and the cluster answers it reacts to.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hybrid_search.backends.opensearch.client import Request
from hybrid_search.config import OpenSearchSettings

__all__ = ["StubClient", "version_info"]

Answer = Any  # a JSON answer, an exception to raise, or a callable(Request) -> either


def version_info(number: str) -> dict[str, Any]:
    """What ``GET /`` answers (the part the backend reads)."""
    return {"name": "node-1", "version": {"distribution": "opensearch", "number": number}}


class StubClient:
    """Answers ``(method, path)`` from ``answers`` (``{}`` when not listed); keeps ``sent``."""

    hosts = "http://stub:9200"

    def __init__(
        self,
        answers: dict[tuple[str, str], Answer] | None = None,
        settings: OpenSearchSettings | None = None,
    ) -> None:
        self.answers = dict(answers or {})
        self.settings = settings or OpenSearchSettings()
        self.sent: list[Request] = []

    def send(self, request: Request, *, what: str | None = None, ignore: tuple[int, ...] = ()):
        self.sent.append(request)
        answer = self.answers.get((request.method, request.path), {})
        if callable(answer) and not isinstance(answer, BaseException):
            answer = answer(request)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def paths(self, method: str | None = None) -> list[str]:
        """The paths sent, in order (only ``method``'s when given)."""
        return [r.path for r in self.sent if method is None or r.method == method]

    def matching(self, predicate: Callable[[Request], bool]) -> list[Request]:
        """The requests sent for which ``predicate`` holds."""
        return [r for r in self.sent if predicate(r)]

    def close(self) -> None:
        pass
