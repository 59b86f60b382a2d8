"""Demo luxury-fashion product catalogue shipped with the package.

``catalogue.jsonl`` holds 600 fictional products (invented houses, prose and numbers) whose
fields match the ``products`` index template, minus the embedding. It is the output of
:func:`hybrid_search.demo.generate.generate`; rebuild it with
``python -m hybrid_search.demo.generate``.
"""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from typing import Any

__all__ = ["catalogue_path", "load_catalogue"]


def catalogue_path() -> Path:
    """Return the filesystem path of the shipped ``catalogue.jsonl``.

    Returns:
        Path to the JSON Lines file inside the installed ``hybrid_search.demo`` package.
    """
    return Path(str(files("hybrid_search.demo") / "catalogue.jsonl"))


def load_catalogue() -> list[dict[str, Any]]:
    """Load the shipped demo catalogue.

    Returns:
        One dict per product, in file order.
    """
    with catalogue_path().open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
