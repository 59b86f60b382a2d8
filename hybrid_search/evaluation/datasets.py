"""BEIR-layout evaluation sets: loading, choosing the document text, and query splits.

A BEIR directory holds ``corpus.jsonl`` (``_id`` plus fields), ``queries.jsonl`` (``_id``,
``text``) and ``qrels.tsv`` (``query-id corpus-id score``, header optional) or
``qrels/<split>.tsv`` (Thakur et al., "BEIR: A Heterogeneous Benchmark for Zero-shot Evaluation
of Information Retrieval Models", NeurIPS 2021). ``text_fields`` chooses which corpus fields make
the document text; each becomes one lexical field of the evaluation template, so the same
engine that serves a catalogue is the one measured, without a product template.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hybrid_search.errors import InvalidRequestError
from hybrid_search.jsonl import read_objects
from hybrid_search.templates import IndexTemplate, parse_template

__all__ = [
    "EVAL_ID_FIELD",
    "EvalDataset",
    "eval_documents",
    "eval_template",
    "load_beir",
    "select_queries",
    "split_queries",
]

EVAL_ID_FIELD = "doc_id"
_DEFAULT_TEXT_FIELDS = ("title", "text")
_FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")


@dataclass(frozen=True)
class EvalDataset:
    """A corpus, its queries and graded judgments, with the chosen document text fields."""

    name: str
    corpus: dict[str, dict[str, str]]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    text_fields: tuple[str, ...]
    digest: str

    def text(self, doc_id: str) -> str:
        """The document text (the text fields joined, as the embedding model reads them)."""
        doc = self.corpus[doc_id]
        return ". ".join(doc[f] for f in self.text_fields if doc.get(f))


def _read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, obj in read_objects(path):
        if not isinstance(obj.get("_id"), (str, int)):
            msg = f"{path} line {number}: expected an object with an '_id', got {obj!r:.80}"
            raise InvalidRequestError(msg)
        yield number, obj


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value if v is not None)
    return str(value)


def _qrels_path(directory: Path, split: str) -> Path:
    flat = directory / "qrels.tsv"
    nested = directory / "qrels" / f"{split}.tsv"
    for path in (flat, nested):
        if path.is_file():
            return path
    msg = f"no judgments in {directory}: expected qrels.tsv or qrels/{split}.tsv"
    raise InvalidRequestError(msg)


def _read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8") as fh:
        for number, row in enumerate(csv.reader(fh, delimiter="\t"), start=1):
            if not row or (number == 1 and row[0] == "query-id"):
                continue
            if len(row) == 4:  # TREC layout: qid iteration docid grade
                row = [row[0], row[2], row[3]]
            if len(row) != 3:
                msg = f"{path} line {number}: expected 'query-id corpus-id score', got {row!r}"
                raise InvalidRequestError(msg)
            try:
                grade = int(row[2])
            except ValueError as exc:
                msg = f"{path} line {number}: score {row[2]!r} is not an integer grade"
                raise InvalidRequestError(msg) from exc
            qrels.setdefault(row[0], {})[row[1]] = grade
    return qrels


def load_beir(
    directory: Path, *, text_fields: Sequence[str] | None = None, split: str = "test"
) -> EvalDataset:
    """Load a BEIR directory.

    Args:
        directory: holds ``corpus.jsonl``, ``queries.jsonl`` and the judgments.
        text_fields: corpus fields that make the document text, in order (list values are
            joined with commas). None: ``title`` and ``text``, those the corpus has.
        split: which ``qrels/<split>.tsv`` to read when there is no ``qrels.tsv``.

    Raises:
        InvalidRequestError: a file is missing or malformed, a text field is not in the corpus
            or is not a valid field name, or judgments name unknown queries.
    """
    corpus_path = directory / "corpus.jsonl"
    seen: set[str] = set()
    raw: dict[str, dict[str, Any]] = {}
    for _, obj in _read_jsonl(corpus_path):
        raw[str(obj["_id"])] = obj
        seen.update(k for k in obj if k != "_id")
    if text_fields is None:
        text_fields = [f for f in _DEFAULT_TEXT_FIELDS if f in seen]
    fields = tuple(text_fields)
    for f in fields:
        if f not in seen:
            msg = f"text field {f!r} is not in {corpus_path}; fields there: {sorted(seen)}"
            raise InvalidRequestError(msg)
        if not _FIELD_NAME.match(f) or f == EVAL_ID_FIELD:
            msg = f"text field {f!r} must match {_FIELD_NAME.pattern} and not be {EVAL_ID_FIELD!r}"
            raise InvalidRequestError(msg)
    if not fields:
        msg = f"no text fields: pass text_fields, one of {sorted(seen)}"
        raise InvalidRequestError(msg)
    corpus = {
        doc_id: {f: _as_text(obj.get(f)) for f in fields if obj.get(f)}
        for doc_id, obj in raw.items()
    }
    queries = {
        str(obj["_id"]): _as_text(obj.get("text"))
        for _, obj in _read_jsonl(directory / "queries.jsonl")
    }
    qrels = _read_qrels(_qrels_path(directory, split))
    missing = sorted(set(qrels) - set(queries))
    if missing:
        msg = f"judgments name {len(missing)} queries missing from queries.jsonl: {missing[:5]}"
        raise InvalidRequestError(msg)
    digest = hashlib.sha256()
    digest.update("\x1f".join(fields).encode())
    for doc_id in sorted(corpus):
        digest.update(doc_id.encode() + b"\x1e")
        digest.update("\x1f".join(corpus[doc_id].get(f, "") for f in fields).encode())
    return EvalDataset(
        name=directory.resolve().name,
        corpus=corpus,
        queries=queries,
        qrels=qrels,
        text_fields=fields,
        digest=digest.hexdigest()[:16],
    )


def select_queries(
    dataset: EvalDataset,
    *,
    min_judgments: int = 1,
    sample: int | None = None,
    seed: int = 0,
    exclude: Sequence[str] = (),
) -> list[str]:
    """Judged queries with at least ``min_judgments`` labels, optionally a seeded sample.

    The sample is ``numpy.random.default_rng(seed).choice`` over the sorted eligible ids, without
    replacement; the result is sorted.
    """
    skip = set(exclude)
    eligible = sorted(
        q
        for q, judged in dataset.qrels.items()
        if len(judged) >= min_judgments and q not in skip and dataset.queries[q].strip()
    )
    if sample is None or sample >= len(eligible):
        return eligible
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(eligible), size=sample, replace=False)
    return sorted(eligible[i] for i in picked)


def split_queries(
    qids: Sequence[str], *, train_fraction: float, seed: int = 0
) -> tuple[list[str], list[str]]:
    """Split query ids into (train, held-out) by a seeded shuffle.

    Raises:
        ValueError: ``train_fraction`` is not in (0, 1).
    """
    if not 0.0 < train_fraction < 1.0:
        msg = f"train_fraction {train_fraction!r} must be in (0, 1)"
        raise ValueError(msg)
    ordered = sorted(qids)
    perm = np.random.default_rng(seed).permutation(len(ordered))
    cut = round(train_fraction * len(ordered))
    train = sorted(ordered[i] for i in perm[:cut])
    held = sorted(ordered[i] for i in perm[cut:])
    return train, held


def eval_template(
    text_fields: Sequence[str],
    *,
    dimension: int,
    boosts: dict[str, float] | None = None,
    analyzer: str = "english",
) -> IndexTemplate:
    """A template with one lexical text field per chosen field and an exact-searchable vector.

    Raises:
        TemplateError: a boost is not > 0 or names a field that is not a text field.
    """
    props: dict[str, Any] = {EVAL_ID_FIELD: {"type": "keyword"}}
    for f in text_fields:
        props[f] = {"type": "text", "analyzer": analyzer}
    props["embedding"] = {
        "type": "knn_vector",
        "dimension": dimension,
        "method": {
            "name": "hnsw",
            "engine": "faiss",
            "space_type": "cosinesimil",
            "parameters": {"m": 32, "ef_construction": 256, "ef_search": 256},
        },
    }
    body = {
        "index_patterns": ["eval-*"],
        "template": {"mappings": {"dynamic": "strict", "properties": props}},
        "_meta": {
            "hybrid_search": {
                "id_field": EVAL_ID_FIELD,
                "embedding_source_fields": list(text_fields),
                "lexical_fields": {f: (boosts or {}).get(f, 1.0) for f in text_fields},
                "filter_fields": [],
                "required_fields": [EVAL_ID_FIELD],
            }
        },
    }
    return parse_template(body, path=Path("<evaluation>"), name="evaluation")


def eval_documents(dataset: EvalDataset) -> list[dict[str, Any]]:
    """The corpus as documents of ``eval_template`` (sorted by id, so row order is stable)."""
    return [{EVAL_ID_FIELD: doc_id, **dataset.corpus[doc_id]} for doc_id in sorted(dataset.corpus)]
