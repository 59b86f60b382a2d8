"""Index versions of the embedded engine: ``<data_dir>.versions/vN-<model>`` and an atomic swap.

A new version is a complete index in ``<data_dir>.versions/vN-<model>``; the swap points
``data_dir`` at it by replacing a symbolic link (``os.replace``: atomic on POSIX). The first
swap converts a plain ``data_dir`` into that layout by moving it to ``v<N-1>-...``: the only
moment (two renames) when the path is briefly absent. ``versions.json`` keeps the history
(model, documents, which one is active). A running ``serve`` keeps its open index until
restarted; writes that arrive during a re-embed go to the old version (pause them).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hybrid_search.backends.base import IndexInfo
from hybrid_search.hits import IngestReport

if TYPE_CHECKING:
    from hybrid_search.backends.embedded.backend import EmbeddedBackend

__all__ = ["EmbeddedVersion", "EmbeddedVersions", "versions_dir"]


def versions_dir(data_dir: Path) -> Path:
    """Where the versions of ``data_dir`` live: ``<data_dir>.versions`` beside it."""
    data_dir = Path(data_dir)
    return data_dir.parent / f"{data_dir.name}.versions"


def _slug(model_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", model_id.rsplit("/", 1)[-1])[:60].strip("-") or "model"


def _history(root: Path) -> list[dict[str, Any]]:
    path = root / "versions.json"
    if not path.exists():
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    return list(data.get("versions", []))


def _write_history(root: Path, versions: list[dict[str, Any]]) -> None:
    tmp = root / "versions.json.tmp"
    tmp.write_text(json.dumps({"versions": versions}, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, root / "versions.json")


def _point(data_dir: Path, target: Path) -> None:
    """Make ``data_dir`` a symlink to ``target`` in one atomic rename."""
    tmp = data_dir.parent / f".{data_dir.name}.swap"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(os.path.relpath(target, data_dir.parent), target_is_directory=True)
    os.replace(tmp, data_dir)


class EmbeddedVersion:
    """A new version being written: an ``EmbeddedBackend`` in its own directory."""

    def __init__(
        self, backend: EmbeddedBackend, number: int, model_id: str, old: IndexInfo
    ) -> None:
        self.backend = backend
        self.number = number
        self.name = backend.data_dir.name
        self.model_id = model_id
        self.old = old
        self.replaces = ""
        self.documents = 0
        self.capabilities = backend.capabilities

    def ensure_index(self, *, model_id: str, dimension: int) -> IndexInfo:
        """Create the version's index (see ``EmbeddedBackend.ensure_index``)."""
        return self.backend.ensure_index(model_id=model_id, dimension=dimension)

    def index(self, docs: Sequence[dict[str, Any]], vectors: np.ndarray) -> IngestReport:
        """Write documents into the version."""
        return self.backend.index(docs, vectors)

    def finish(self) -> int:
        """Build and save the HNSW graph; the version's document count."""
        if self.backend.exists():  # else nothing was ever written
            self.backend.optimize()
            self.documents = self.backend.count()
        return self.documents

    def close(self) -> None:
        """Close the version's index."""
        self.backend.close()


class EmbeddedVersions:
    """The ``IndexVersions`` of one embedded index (``data_dir``)."""

    def __init__(self, live: EmbeddedBackend) -> None:
        self.live = live

    def new_version(self, *, model_id: str) -> EmbeddedVersion:
        """The next ``vN-<model>`` directory beside the live index.

        Raises:
            IndexNotFoundError: there is no index in ``data_dir``.
        """
        from hybrid_search.backends.embedded.backend import EmbeddedBackend

        live = self.live
        old = live.info()
        root = versions_dir(live.data_dir)
        number = max((int(v["version"]) for v in _history(root)), default=0) + 1
        if not live.data_dir.is_symlink():
            number = max(number, 2)  # v1 is the plain directory being converted
        root.mkdir(parents=True, exist_ok=True)
        target = root / f"v{number}-{_slug(model_id)}"
        version = EmbeddedVersion(
            EmbeddedBackend(target, live.template, live.settings), number, model_id, old
        )
        version.replaces = live.data_dir.resolve().name
        return version

    def swap(self, version: Any, *, drop_old: bool = False) -> bool:
        """Point ``data_dir`` at ``version`` (closing the live index first) and record it in
        ``versions.json``. The old version is kept for rollback unless ``drop_old`` (then its
        directory and history entry are deleted; True)."""
        assert isinstance(version, EmbeddedVersion)  # what new_version made
        data_dir = self.live.data_dir
        root = versions_dir(data_dir)
        self.live.close()
        history = _history(root)
        old_dir = data_dir.resolve()
        if not data_dir.is_symlink():
            legacy = root / f"v{version.number - 1}-{_slug(version.old.model_id)}"
            os.replace(data_dir, legacy)
            old_dir = legacy
            history.append(
                {
                    "version": version.number - 1,
                    "model_id": version.old.model_id,
                    "path": legacy.name,
                    "documents": version.old.documents,
                    "created_at": None,
                }
            )
        _point(data_dir, root / version.name)
        if drop_old:
            shutil.rmtree(old_dir)
            history = [v for v in history if v.get("path") != old_dir.name]
        for entry in history:
            entry["active"] = False
        history.append(
            {
                "version": version.number,
                "model_id": version.model_id,
                "path": version.name,
                "documents": version.documents,
                "created_at": datetime.now(timezone.utc).isoformat(),
                "active": True,
            }
        )
        _write_history(root, history)
        return drop_old
