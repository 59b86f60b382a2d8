"""matplotlib for the reports' PNGs: an optional dependency (the ``eval`` extra), headless."""

from __future__ import annotations

from typing import Any

from hybrid_search.errors import MissingDependencyError

__all__ = ["pyplot"]


def pyplot(what: str) -> Any:
    """``matplotlib.pyplot`` on the non-interactive Agg backend.

    Raises:
        MissingDependencyError: matplotlib is not installed (``what`` names the figure).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        msg = f'{what} needs matplotlib: pip install "hybrid-search[eval]"'
        raise MissingDependencyError(msg) from exc
    return plt
