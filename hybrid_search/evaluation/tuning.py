"""Tune fusion on the train queries by replaying each query's legs through the pure functions.

Each query's legs are fetched once from the backend (lexical with and without typo tolerance,
vector, at the deepest window tried); every candidate setting is then replayed through the
decisions ``Searcher.search`` takes (ranking/plan.py: typo-tolerant lexical, confidence gate,
lexical-empty fallback, query-adaptive weights, fusion), which makes a grid of hundreds of
settings cost seconds. A test holds the replay to the Searcher's rankings.

Search: coordinate ascent on mean nDCG@10 over the train queries, from the configured settings,
two passes over the parameters. The held-out queries are only scored at the end, for the
chosen setting, the configured default and the lexical baseline, with paired significance.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from hybrid_search.evaluation.metrics import compare, evaluate, mean_metrics
from hybrid_search.ranking.adaptive import AdaptiveParams
from hybrid_search.ranking.confidence import cosine_from_score
from hybrid_search.ranking.plan import Resolved, adaptive_params, decide, fuse_legs, retry_typos

if TYPE_CHECKING:
    from hybrid_search.config import SearchSettings
    from hybrid_search.evaluation.session import EvalSession, QuerySplit

__all__ = ["FusionConfig", "QueryLegs", "collect_legs", "replay", "score_config", "tune"]

logger = logging.getLogger(__name__)

Fuzzy = Literal["off", "on_empty", "always"]


@dataclass(frozen=True)
class QueryLegs:
    """One query's candidates per leg (document ids and raw scores), best first."""

    text: str
    lexical: list[tuple[str, float]]
    fuzzy: list[tuple[str, float]]
    vector: list[tuple[str, float]]


@dataclass(frozen=True)
class FusionConfig:
    """The settings a replay varies (the ``search`` section's relevance knobs)."""

    mode: Literal["hybrid", "lexical"] = "hybrid"
    normalization: str = "min_max"
    combination: str = "arithmetic_mean"
    vector_weight: float = 0.3
    rank_constant: int = 60
    min_vector_cosine: float | None = 0.35
    candidates: int = 100
    fuzzy: Fuzzy = "off"
    adaptive: AdaptiveParams | None = None

    @classmethod
    def from_settings(cls, cfg: SearchSettings) -> FusionConfig:
        """The configured default, as a replay setting."""
        total = cfg.lexical_weight + cfg.vector_weight
        adaptive = adaptive_params(cfg) if cfg.adaptive_fusion else None
        return cls(
            normalization=cfg.normalization,
            combination=cfg.combination,
            vector_weight=cfg.vector_weight / total,
            rank_constant=cfg.rank_constant,
            min_vector_cosine=cfg.min_vector_cosine if cfg.mode == "auto" else None,
            candidates=cfg.candidates,
            fuzzy=cfg.fuzzy,
            adaptive=adaptive,
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (the adaptive base weight is ``vector_weight``, not repeated)."""
        out = asdict(self)
        if out["adaptive"] is not None:
            del out["adaptive"]["vector_weight"]
        return out


def collect_legs(session: EvalSession, qids: Iterable[str], *, depth: int) -> dict[str, QueryLegs]:
    """Fetch every query's legs once from the session's backend.

    Raises:
        EmbedderError: the query embedder failed.
    """
    searcher = session.searcher
    backend = searcher.backend
    encoder = searcher.encoder
    out: dict[str, QueryLegs] = {}
    for qid in qids:
        text = session.dataset.queries[qid].strip()
        plain = backend.lexical(text, k=depth, filters=[])
        typo = backend.lexical(text, k=depth, filters=[], fuzzy=True)
        vec = backend.vector(encoder.encode(text), k=depth, filters=[])
        sources = backend.fetch([h.key for h in (*plain, *typo, *vec)])

        def ids(
            hits: Sequence[Any], sources: Mapping[Any, Any] = sources
        ) -> list[tuple[str, float]]:
            return [(str(sources[h.key][0]), float(h.score)) for h in hits if h.key in sources]

        out[qid] = QueryLegs(text, ids(plain), ids(typo), ids(vec))
    return out


def _as_resolved(text: str, cfg: FusionConfig) -> Resolved:
    """The Searcher's resolved request that ``cfg`` stands for (a threshold means ``auto``)."""
    gated = cfg.min_vector_cosine is not None
    mode: Literal["auto", "hybrid", "lexical"] = "auto" if gated else "hybrid"
    w = cfg.vector_weight
    return Resolved(
        query=text,
        k=cfg.candidates,
        page=0,
        clauses=[],
        mode="lexical" if cfg.mode == "lexical" else mode,
        window=cfg.candidates,
        normalization=cfg.normalization,
        combination=cfg.combination,
        weights=(1.0 - w, w),
        vector_share=w,
        adaptive=cfg.adaptive,
        tau=cfg.min_vector_cosine if cfg.min_vector_cosine is not None else 0.0,
        fuzzy=cfg.fuzzy,
        rank_constant=cfg.rank_constant,
    )


def replay(legs: QueryLegs, cfg: FusionConfig, *, space_type: str = "cosinesimil") -> list[str]:
    """The ranking ``Searcher.search`` returns for this query under ``cfg`` (ids, best first):
    the same decisions (ranking/plan.py) over the stored legs."""
    n = cfg.candidates
    r = _as_resolved(legs.text, cfg)
    lexical = legs.fuzzy if r.typo else legs.lexical
    if retry_typos(r, lexical_found=bool(lexical), vector_used=True):
        lexical = legs.fuzzy
    lexical = lexical[:n]
    vector = [] if r.mode == "lexical" else legs.vector[:n]
    decision = decide(
        r,
        lexical_found=bool(lexical),
        vector_found=bool(vector),
        lexical_top=[s for _, s in lexical[:10]],
        top_cosine=cosine_from_score(vector[0][1], space_type) if vector else None,
    )
    if decision.mode_used != "hybrid":
        chosen = vector if decision.mode_used == "vector" else lexical
        return [d for d, _ in chosen]
    return [str(k) for k in fuse_legs(r, decision, lexical, vector, limit=None).keys]


def score_config(
    legs: Mapping[str, QueryLegs],
    qrels: Mapping[str, Mapping[str, int]],
    cfg: FusionConfig,
    k: int = 100,
) -> dict[str, dict[str, float]]:
    """Per-query metrics of one setting over the given queries."""
    run = {q: replay(legs[q], cfg)[:k] for q in legs}
    return evaluate({q: qrels[q] for q in legs}, run)


def _grid(cfg: FusionConfig) -> dict[str, list[FusionConfig]]:
    base = cfg.adaptive or AdaptiveParams()
    ad = cfg.adaptive
    return {
        "fusion": [
            replace(cfg, normalization=nm, combination=cb)
            for nm, cb in (
                ("min_max", "arithmetic_mean"),
                ("min_max", "geometric_mean"),
                ("min_max", "harmonic_mean"),
                ("l2", "arithmetic_mean"),
                ("z_score", "arithmetic_mean"),
                ("min_max", "rrf"),
            )
        ],
        "vector_weight": [replace(cfg, vector_weight=w / 20) for w in range(0, 15)],
        "min_vector_cosine": [
            replace(cfg, min_vector_cosine=t)
            for t in (None, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55)
        ],
        "candidates": [replace(cfg, candidates=c) for c in (20, 50, 100, 200)],
        "fuzzy": [replace(cfg, fuzzy=f) for f in ("off", "on_empty", "always")],
        "adaptive": [replace(cfg, adaptive=None), replace(cfg, adaptive=base)],
        "cosine_slope": [
            replace(cfg, adaptive=replace(ad, cosine_slope=s))
            for s in (0.0, 0.5, 1.0, 1.5, 2.0, 3.0)
        ]
        if ad
        else [],
        "cosine_pivot": [
            replace(cfg, adaptive=replace(ad, cosine_pivot=p)) for p in (0.4, 0.5, 0.6, 0.7)
        ]
        if ad
        else [],
        "spread_slope": [
            replace(cfg, adaptive=replace(ad, spread_slope=s)) for s in (-1.0, -0.5, 0.0, 0.5, 1.0)
        ]
        if ad
        else [],
        "code_vector_weight": [
            replace(cfg, adaptive=replace(ad, code_vector_weight=c)) for c in (0.0, 0.1, 0.2, 1.0)
        ]
        if ad
        else [],
        "max_vector_weight": [
            replace(cfg, adaptive=replace(ad, max_vector_weight=m))
            for m in (0.4, 0.5, 0.6, 0.8, 1.0)
        ]
        if ad
        else [],
    }


def tune(
    session: EvalSession, split: QuerySplit, *, candidates: int = 100, passes: int = 2
) -> dict[str, Any]:
    """Coordinate ascent on train nDCG@10, then held-out scores with significance.

    Returns a JSON-friendly report: the best setting, the search trace, and train and held-out
    means for the best setting, the configured default and the lexical baseline.

    Raises:
        InvalidRequestError: a split is empty.
    """
    dataset = session.dataset
    train_ids = split.ids(dataset, "train")
    held_ids = split.ids(dataset, "heldout")
    depth = max(200, candidates)
    legs = collect_legs(session, [*train_ids, *held_ids], depth=depth)
    train = {q: legs[q] for q in train_ids}
    held = {q: legs[q] for q in held_ids}
    default = FusionConfig.from_settings(session.settings.search)
    lexical_only = FusionConfig(mode="lexical", candidates=candidates)

    def train_score(cfg: FusionConfig) -> float:
        return mean_metrics(score_config(train, dataset.qrels, cfg))["ndcg@10"]

    best = replace(default, candidates=candidates)
    best_score = train_score(best)
    trace: list[dict[str, Any]] = [{"step": "start", "ndcg@10": best_score}]
    for _ in range(passes):
        for name in list(_grid(best)):
            for cfg in _grid(best)[name]:
                value = train_score(cfg)
                if value > best_score + 1e-9:
                    best, best_score = cfg, value
                    trace.append({"step": name, "ndcg@10": value, "config": cfg.as_dict()})
    logger.info("tuned train ndcg@10 %.4f", best_score)

    systems = {"lexical": lexical_only, "default": default, "tuned": best}
    out: dict[str, Any] = {"best": best.as_dict(), "trace": trace, "train": {}, "heldout": {}}
    per_query = {}
    for name, cfg in systems.items():
        out["train"][name] = mean_metrics(score_config(train, dataset.qrels, cfg))
        per_query[name] = score_config(held, dataset.qrels, cfg)
        out["heldout"][name] = mean_metrics(per_query[name])
    out["heldout_significance"] = {
        name: asdict(compare(per_query["lexical"]["ndcg@10"], per_query[name]["ndcg@10"]))
        for name in ("default", "tuned")
    }
    out["queries"] = {"train": len(train_ids), "heldout": len(held_ids)}
    out["note"] = (
        "commercial coefficients are not tuned here: a BEIR corpus has no margin, freshness or "
        "popularity fields, so relevance alone would always set them to 0"
    )
    return out
