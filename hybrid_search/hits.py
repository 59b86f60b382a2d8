"""What backends return and what the Searcher hands back: plain data, no behaviour."""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple, overload

import numpy as np

__all__ = ["CandidateScores", "Hit", "HitColumns", "IngestReport", "ItemOutcome"]

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


class HitColumns(Sequence[Hit]):
    """One leg's candidates as two columns, best first: a read-only sequence of ``Hit``.

    The embedded engine answers with arrays (row keys, scores); building 200 ``Hit`` tuples per
    leg and unzipping them again in fusion cost about 0.1 ms a search. Fusion reads ``keys`` and
    ``scores`` directly; anything else sees ``Hit``s, built on access.
    """

    __slots__ = ("keys", "leg", "scores")

    def __init__(self, keys: np.ndarray, scores: np.ndarray, leg: LegName) -> None:
        if keys.shape != scores.shape or keys.ndim != 1:
            msg = f"keys {keys.shape} and scores {scores.shape} must be 1-d and the same length"
            raise ValueError(msg)
        self.keys = keys
        self.scores = scores
        self.leg: LegName = leg

    def __len__(self) -> int:
        return int(self.keys.shape[0])

    @overload
    def __getitem__(self, index: int) -> Hit: ...
    @overload
    def __getitem__(self, index: slice) -> HitColumns: ...
    def __getitem__(self, index: int | slice) -> Hit | HitColumns:
        if isinstance(index, slice):
            return HitColumns(self.keys[index], self.scores[index], self.leg)
        return Hit(int(self.keys[index]), float(self.scores[index]), self.leg)

    def __iter__(self) -> Iterator[Hit]:
        leg = self.leg
        for key, score in zip(self.keys.tolist(), self.scores.tolist(), strict=True):
            yield Hit(key, score, leg)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"HitColumns({list(self)!r})"


@dataclass(frozen=True, slots=True)
class ItemOutcome:
    """The fate of one input of ``index_documents``: ``reason`` is None when it was indexed.

    ``index`` is its position in that call's input (None only for a failure a backend reported
    under an id that was not in the batch it was given: listed rather than lost); ``id`` the
    document's id when the input had a non-empty string one.
    """

    index: int | None
    id: str | None
    reason: str | None = None


@dataclass
class IngestReport:
    """Every document is either counted in ``indexed`` or listed in ``failed`` with its reason.

    ``items`` (filled by ``index_documents``; a backend's own report leaves it empty) holds
    one outcome per input, in input order.
    """

    indexed: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    items: list[ItemOutcome] = field(default_factory=list)

    def merge(self, other: IngestReport) -> None:
        """Add another report's counts, failures and item outcomes to this one."""
        self.indexed += other.indexed
        self.failed.extend(other.failed)
        self.items.extend(other.items)

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.failed


@dataclass(frozen=True)
class CandidateScores:
    """What a backend knows about given candidates of one query, for the learned re-rank.

    Rows follow the keys asked for. ``field_scores`` is ``(n, len(fields))``: each lexical
    field's own BM25 score for the query (the field's boost divided out; 0 where the field
    matches no query term), scored by the same per-field clause the lexical leg runs, typo
    expansions included. ``cosines`` is the cosine of the query and each stored vector (NaN
    where the backend holds none). ``texts`` holds each candidate's lexical field values as
    text (a list joined with spaces; "" when absent); ``ids`` the documents' ids.
    """

    fields: tuple[str, ...]
    field_scores: np.ndarray
    cosines: np.ndarray
    texts: list[dict[str, str]]
    ids: list[str]

    def __len__(self) -> int:
        return len(self.ids)
