"""What backends return and what the Searcher hands back: plain data, no behaviour."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

__all__ = ["Hit", "IngestReport"]

LegName = Literal["lexical", "vector"]


class Hit(NamedTuple):
    """One candidate from one leg: the backend's own document key and its raw engine score.

    ``key`` is whatever identifies the document inside the backend (an int row key in the
    embedded engine, the ``_id`` string in OpenSearch); the Searcher joins legs on it.
    For the vector leg ``score`` is on OpenSearch's ``_score`` scale for the template's space
    type (for cosinesimil ``(1 + cos) / 2``), so the confidence gate reads both backends alike.
    """

    key: Hashable
    score: float
    leg: LegName


@dataclass
class IngestReport:
    """Every document is either counted in ``indexed`` or listed in ``failed`` with its reason."""

    indexed: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)

    def merge(self, other: IngestReport) -> None:
        """Add another report's counts and failures to this one."""
        self.indexed += other.indexed
        self.failed.extend(other.failed)

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.failed
