"""One evaluation end to end: dataset -> index -> Searcher -> modes -> metrics -> report.

Query sets follow one rule so ``eval`` and ``tune`` agree: the **held-out** queries are a seeded
sample (``sample``, ``seed``) of the judged queries with at least ``min_judgments`` labels, and
the **train** queries are a second sample (``train_sample``, ``seed + 1``) drawn from the
eligible queries that are not held out. Tuning only ever sees train.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from hybrid_search.backends import create_backend
from hybrid_search.config import Settings
from hybrid_search.embedding import Embedder, create_embedder
from hybrid_search.errors import ConfigError, InvalidRequestError
from hybrid_search.evaluation.datasets import (
    EvalDataset,
    eval_template,
    load_beir,
    select_queries,
)
from hybrid_search.evaluation.index import build_eval_index
from hybrid_search.evaluation.query_types import query_types
from hybrid_search.evaluation.report import write_report
from hybrid_search.evaluation.runner import ModeResult, ModeSpec, run_mode, significance
from hybrid_search.searcher import Searcher

__all__ = ["EvalSession", "QuerySplit", "open_session"]

logger = logging.getLogger(__name__)

Split = Literal["all", "train", "heldout"]


@dataclass(frozen=True)
class QuerySplit:
    """How the queries are chosen (see the module docstring)."""

    min_judgments: int = 1
    sample: int | None = None
    train_sample: int | None = None
    seed: int = 0

    def ids(self, dataset: EvalDataset, split: Split) -> list[str]:
        """The query ids of one split.

        Raises:
            InvalidRequestError: the split is empty.
        """
        held = select_queries(
            dataset, min_judgments=self.min_judgments, sample=self.sample, seed=self.seed
        )
        if split == "heldout":
            out = held
        elif split == "train":
            out = select_queries(
                dataset,
                min_judgments=self.min_judgments,
                sample=self.train_sample,
                seed=self.seed + 1,
                exclude=held if self.sample is not None else (),
            )
            if self.sample is None:
                msg = "a train split needs --sample (the held-out size), so the two can differ"
                raise InvalidRequestError(msg)
        else:
            out = select_queries(dataset, min_judgments=self.min_judgments)
        if not out:
            msg = f"no {split} queries with at least {self.min_judgments} judgments"
            raise InvalidRequestError(msg)
        return out


@dataclass
class EvalSession:
    """A dataset indexed and a Searcher over it."""

    dataset: EvalDataset
    searcher: Searcher
    settings: Settings

    def run(
        self, modes: Sequence[ModeSpec], qids: Sequence[str], *, k: int = 100
    ) -> list[ModeResult]:
        """Run every mode over the given queries."""
        queries = {q: self.dataset.queries[q] for q in qids}
        return [
            run_mode(self.searcher, spec, queries, self.dataset.qrels, k=k, doc_text=self._text)
            for spec in modes
        ]

    def _text(self, doc_id: str) -> str:
        return self.dataset.text(doc_id)

    def report(
        self,
        results: Sequence[ModeResult],
        out_dir: Path,
        *,
        baseline: str,
        meta: dict[str, Any],
        chart: bool = True,
        also: Sequence[str] = (),
    ) -> dict[str, Path]:
        """Significance against ``baseline`` (and the ``also`` modes, Holm-adjusted as one
        family), nDCG@10 per storefront query type, and the files in ``out_dir``.

        Raises:
            ValueError: a baseline is not one of the modes run.
        """
        comparisons = significance(results, baseline=baseline)
        others = {
            b: significance(results, baseline=b, metrics=("ndcg@10", "ndcg@10_judged"))
            for b in also
        }
        info = {"dataset": self.dataset.name, "text_fields": list(self.dataset.text_fields), **meta}
        qids = sorted(results[0].per_query["ndcg@10"]) if results else []
        return write_report(
            out_dir,
            results,
            comparisons,
            baseline=baseline,
            meta=info,
            chart=chart,
            others=others,
            query_types=query_types(self.dataset, qids),
        )

    def close(self) -> None:
        """Release the searcher and its backend."""
        self.searcher.close()


def open_session(
    settings: Settings,
    dataset_dir: Path,
    *,
    text_fields: Sequence[str] | None = None,
    cache_dir: Path | None = None,
    boosts: dict[str, float] | None = None,
    embedder_factory: Callable[[], Embedder] | None = None,
) -> EvalSession:
    """Load the dataset, build or reuse its index, and open a Searcher on it.

    Raises:
        ConfigError: the configured backend is not the embedded one.
        InvalidRequestError: the dataset is missing or malformed.
        EmbedderError: the model could not be loaded.
    """
    if settings.backend != "embedded":
        msg = (
            f"HYBRID_SEARCH_BACKEND={settings.backend!r}: evaluation indexes the dataset itself "
            "and supports only 'embedded' so far (it never writes an evaluation corpus into a "
            "cluster)"
        )
        raise ConfigError(msg)
    if not dataset_dir.is_dir():
        msg = f"dataset {dataset_dir}: not a directory (corpus.jsonl, queries.jsonl, qrels)"
        raise InvalidRequestError(msg)
    dataset = load_beir(dataset_dir, text_fields=text_fields)
    embedder = (embedder_factory or (lambda: create_embedder(settings.embedding)))()
    template = eval_template(dataset.text_fields, dimension=embedder.dimension, boosts=boosts)
    cache = cache_dir or settings.embedded.data_dir / "eval-cache"
    index_settings = build_eval_index(dataset, template, settings, embedder, cache_dir=cache)
    backend = create_backend(index_settings, template)
    searcher = Searcher(index_settings, template, backend, lambda: embedder)
    return EvalSession(dataset, searcher, index_settings)
