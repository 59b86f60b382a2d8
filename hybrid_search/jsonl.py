"""Strict reading of JSON Lines files: one JSON object per non-blank line.

For inputs that must be whole (datasets, query logs, click and event logs): the first bad line
stops the read with an error naming the file and the line. Documents to ingest are read by
``ingest.read_jsonl`` instead, which reports a bad line and goes on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hybrid_search.errors import InvalidRequestError

__all__ = ["read_objects"]


def read_objects(path: Path | str, *, what: str = "file") -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line number, object)`` for each non-blank line of ``path`` (a BOM is skipped).

    Raises:
        InvalidRequestError: the file cannot be opened (``what`` names it in the message), or a
            line is not valid JSON or not a JSON object (the message names the file and line).
    """
    path = Path(path)
    try:
        fh = path.open(encoding="utf-8-sig")
    except OSError as exc:
        msg = f"cannot read {what} {path}: {exc}"
        raise InvalidRequestError(msg) from exc
    with fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                msg = f"{path} line {number}: not valid JSON ({exc.msg})"
                raise InvalidRequestError(msg) from exc
            if not isinstance(obj, dict):
                msg = f"{path} line {number}: expected a JSON object, got {type(obj).__name__}"
                raise InvalidRequestError(msg)
            yield number, obj
