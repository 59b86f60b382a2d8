"""Training pairs in, trained models out: reading pairs files, loading a trained model offline."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from hybrid_search.embedding.magnitude import MagnitudeSpec, load_spec
from hybrid_search.errors import ConfigError
from hybrid_search.training.trainer import Pair

__all__ = ["load_trained", "read_pairs"]


def _pair(path: Path, line: int, query: Any, document: Any, doc_id: Any) -> Pair:
    for name, value in (("query", query), ("document", document)):
        if not isinstance(value, str) or not value.strip():
            msg = f"{path}:{line}: field {name!r} is {value!r}; allowed: a non-empty string"
            raise ConfigError(msg)
    return Pair(str(query), str(document), "" if doc_id is None else str(doc_id))


def read_pairs(path: Path) -> list[Pair]:
    """(query, relevant document) pairs from JSONL or TSV.

    JSONL lines are objects with ``query`` and ``document`` (optional ``document_id``); TSV
    rows are ``query<TAB>document[<TAB>document_id]`` (a first row ``query document`` is a
    header).

    Raises:
        ConfigError: the file is missing, or a line names the field that is wrong.
    """
    path = Path(path)
    if not path.exists():
        msg = f"pairs file {path} does not exist"
        raise ConfigError(msg)
    pairs: list[Pair] = []
    with path.open(encoding="utf-8", newline="") as f:
        if path.suffix in (".jsonl", ".json"):
            for n, raw in enumerate(f, 1):
                if not raw.strip():
                    continue
                try:
                    row = json.loads(raw)
                except ValueError as exc:
                    msg = f"{path}:{n}: not JSON ({exc}); expected an object with query, document"
                    raise ConfigError(msg) from exc
                if not isinstance(row, dict):
                    msg = f"{path}:{n}: a {type(row).__name__}; expected an object"
                    raise ConfigError(msg)
                pairs.append(
                    _pair(path, n, row.get("query"), row.get("document"), row.get("document_id"))
                )
        else:
            for n, cols in enumerate(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE), 1):
                if n == 1 and cols[:2] == ["query", "document"]:
                    continue
                if len(cols) not in (2, 3):
                    msg = f"{path}:{n}: {len(cols)} columns; expected query, document[, id]"
                    raise ConfigError(msg)
                pairs.append(_pair(path, n, cols[0], cols[1], cols[2] if len(cols) == 3 else None))
    return pairs


def load_trained(folder: Path, *, device: str = "cpu") -> tuple[Any, MagnitudeSpec]:
    """A model saved by ``train``, loaded offline, with its spec.

    Only the module classes of ``ALLOWED_MODULE_TYPES`` are accepted, so nothing from the
    folder is run as code (``trust_remote_code`` stays off).

    Raises:
        ConfigError: not a trained model folder, or it names an unknown module class.
    """
    folder = Path(folder)
    spec = load_spec(folder)
    if spec is None:
        msg = f"{folder} has no magnitude.json: not a model saved by `hybrid-search train`"
        raise ConfigError(msg)
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(
        str(folder), device=device, local_files_only=True, trust_remote_code=False
    )
    return model, spec
