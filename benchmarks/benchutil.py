"""Small helpers shared by the benchmark scripts: atomic writes of caches and results, and the
parts every results page repeats."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

import numpy as np


def save_npy(path: Path, arr: np.ndarray) -> None:
    """Write ``arr`` to ``path`` atomically (a reader never sees a half-written cache)."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as fh:
        np.save(fh, arr)
    os.replace(tmp, path)


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON to ``path`` atomically."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    os.replace(tmp, path)


def command_lines(command: str) -> list[str]:
    """The "Command:" block of a results page: the exact command, fenced, then a blank line."""
    return ["Command:", "", "```", command, "```", ""]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for a server the benchmark starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
