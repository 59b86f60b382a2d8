"""Pure builders of the administrative bodies: index template, versioned index, pipelines,
stored script, bulk lines and the atomic alias swap.

Names follow the alias (``products``): indices ``products-v1``, ``products-v2``...; the index
template ``products``; the search pipelines ``products-hybrid-minmax`` (normalization-processor)
and ``products-hybrid-rrf`` (score-ranker-processor); the stored script ``products-commercial``.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from hybrid_search.backends.opensearch.versions import RRF_COMBINATION_PARAMETERS, Version
from hybrid_search.config import SearchSettings
from hybrid_search.errors import ConfigError
from hybrid_search.templates import IndexTemplate

if TYPE_CHECKING:
    from hybrid_search.backends.opensearch.bootstrap import Bootstrapper
    from hybrid_search.backends.opensearch.client import OpenSearchClient
    from hybrid_search.config import OpenSearchSettings

__all__ = [
    "BackendParts",
    "Names",
    "alias_swap_body",
    "bulk_delete_lines",
    "bulk_index_lines",
    "create_index_body",
    "index_meta",
    "pipeline_bodies",
    "rrf_combination",
    "rrf_weights_dropped",
    "script_body",
    "script_path",
    "template_body",
    "weights_of",
]

META_KEY = "hybrid_search"


@dataclass(frozen=True)
class Names:
    """Every name the backend uses on the cluster, derived from the alias."""

    alias: str

    def index(self, version: int) -> str:
        """The versioned index behind the alias."""
        return f"{self.alias}-v{version}"

    def version_of(self, index: str) -> int | None:
        """The version number of one of this alias's indices, else None."""
        match = re.fullmatch(re.escape(self.alias) + r"-v(\d+)", index)
        return int(match.group(1)) if match else None

    @property
    def template(self) -> str:
        """The ``_index_template`` name."""
        return self.alias

    @property
    def pattern(self) -> str:
        """The template's index pattern (only this alias's versioned indices)."""
        return f"{self.alias}-v*"

    @property
    def minmax_pipeline(self) -> str:
        """Score-based fusion pipeline (normalization-processor)."""
        return f"{self.alias}-hybrid-minmax"

    @property
    def rrf_pipeline(self) -> str:
        """Rank-based fusion pipeline (score-ranker-processor, RRF)."""
        return f"{self.alias}-hybrid-rrf"

    @property
    def script(self) -> str:
        """The stored painless commercial script."""
        return f"{self.alias}-commercial"


def template_body(template: IndexTemplate, names: Names) -> dict[str, Any]:
    """The ``_index_template`` body: the template file, its pattern bound to this alias."""
    body = copy.deepcopy(template.body)
    body["index_patterns"] = [names.pattern]
    meta = body.setdefault("_meta", {})
    meta["hybrid_search_digest"] = template.digest
    return body


def index_meta(template: IndexTemplate, *, model_id: str, dimension: int) -> dict[str, Any]:
    """What is stored in the index mapping's ``_meta``: the model and the template digest."""
    return {
        "model_id": model_id,
        "dimension": dimension,
        "template": template.name,
        "template_digest": template.digest,
        "space_type": template.vector.space_type,
    }


def create_index_body(
    template: IndexTemplate, *, model_id: str, dimension: int, alias: str | None = None
) -> dict[str, Any]:
    """Create one index version with the template's settings and mappings spelled out.

    The body repeats the template (an index never depends on which template matched it) and adds
    the model id and template digest to ``mappings._meta``. With ``alias`` the alias is attached
    in the same call (the first version: never an index without its alias).
    """
    inner = template.body.get("template", {})
    mappings = copy.deepcopy(inner.get("mappings", {}))
    mappings["_meta"] = {
        **mappings.get("_meta", {}),
        META_KEY: index_meta(template, model_id=model_id, dimension=dimension),
    }
    body: dict[str, Any] = {
        "settings": copy.deepcopy(inner.get("settings", {})),
        "mappings": mappings,
    }
    if alias is not None:
        body["aliases"] = {alias: {}}
    return body


def weights_of(search: SearchSettings) -> list[float]:
    """[lexical, vector] weights as JSON floats summing to 1 (neural-search requires it).

    Raises:
        ConfigError: both weights are zero.
    """
    total = search.lexical_weight + search.vector_weight
    if total <= 0:
        msg = "HYBRID_SEARCH_SEARCH__LEXICAL_WEIGHT and __VECTOR_WEIGHT are both 0"
        raise ConfigError(msg)
    lexical = round(search.lexical_weight / total, 6)
    return [float(lexical), float(round(1.0 - lexical, 6))]


def rrf_combination(
    rank_constant: int, weights: list[float], version: Version | None = None
) -> dict[str, Any]:
    """The score-ranker-processor's ``combination`` for the cluster's version (None: newest).

    From 3.1: ``rank_constant`` directly under ``combination`` and ``parameters.weights`` (sent
    only when they differ from an even split). On 2.19 and 3.0 ``rank_constant`` goes in
    ``parameters`` (a ``combination.rank_constant`` is ignored there, weights are refused), so
    the ranks are fused unweighted (``versions.RRF_COMBINATION_PARAMETERS``; checked on 2.19.1
    and 3.6.0; reference/opensearch.md §2.3 and §5.5).
    """
    if version is not None and version < RRF_COMBINATION_PARAMETERS:
        return {"technique": "rrf", "parameters": {"rank_constant": rank_constant}}
    combination: dict[str, Any] = {"technique": "rrf", "rank_constant": rank_constant}
    if not math.isclose(weights[0], 0.5):
        combination["parameters"] = {"weights": weights}
    return combination


def rrf_weights_dropped(search: SearchSettings, version: Version | None) -> bool:
    """Whether uneven weights are configured but the cluster's RRF cannot apply them."""
    uneven = not math.isclose(weights_of(search)[0], 0.5)
    return uneven and version is not None and version < RRF_COMBINATION_PARAMETERS


def pipeline_bodies(
    search: SearchSettings, names: Names, *, version: Version | None = None
) -> dict[str, dict[str, Any]]:
    """The native-mode search pipelines, by name, for the cluster's version (None: newest).

    ``minmax``: normalization-processor with the configured normalization (RRF settings fall back
    to min_max) and combination (arithmetic_mean when RRF is configured), weights in leg order
    [lexical, vector]. ``rrf``: score-ranker-processor, ``rrf_combination``.

    Raises:
        ConfigError: z_score with another combination than arithmetic_mean.
    """
    weights = weights_of(search)
    combination = "arithmetic_mean" if search.combination == "rrf" else search.combination
    if search.normalization == "z_score" and combination != "arithmetic_mean":
        msg = (
            "HYBRID_SEARCH_SEARCH__NORMALIZATION=z_score needs "
            f"HYBRID_SEARCH_SEARCH__COMBINATION=arithmetic_mean, got {combination!r}"
        )
        raise ConfigError(msg)
    minmax = {
        "description": f"hybrid_search: {search.normalization} + weighted {combination}",
        "phase_results_processors": [
            {
                "normalization-processor": {
                    "normalization": {"technique": search.normalization},
                    "combination": {"technique": combination, "parameters": {"weights": weights}},
                }
            }
        ],
    }
    combination_rrf = rrf_combination(search.rank_constant, weights, version)
    rrf = {
        "description": "hybrid_search: reciprocal rank fusion (Cormack et al., SIGIR 2009)",
        "phase_results_processors": [{"score-ranker-processor": {"combination": combination_rrf}}],
    }
    return {names.minmax_pipeline: minmax, names.rrf_pipeline: rrf}


SCRIPT_CONTEXT = "score"  # script_score: the only context the commercial script runs in


def script_path(script_id: str) -> str:
    """``PUT /_scripts/<id>/score``: with a context OpenSearch compiles the script when it is
    stored, so a bad script fails bootstrap instead of the first search (``GET`` has no
    context: ``/_scripts/<id>``)."""
    return f"/_scripts/{script_id}/{SCRIPT_CONTEXT}"


def script_body(source: str) -> dict[str, Any]:
    """``PUT _scripts/<id>/score``: the painless commercial script."""
    return {"script": {"lang": "painless", "source": source}}


def bulk_index_lines(
    index: str,
    docs: Sequence[dict[str, Any]],
    vectors: np.ndarray,
    template: IndexTemplate,
) -> list[dict[str, Any]]:
    """``_bulk`` lines: ``index`` (upsert) each document with its vector, ``_id`` = its id field."""
    lines: list[dict[str, Any]] = []
    for doc, vector in zip(docs, vectors, strict=True):
        source = dict(doc)
        source[template.vector.name] = [float(x) for x in vector]
        lines += [{"index": {"_index": index, "_id": str(doc[template.id_field])}}, source]
    return lines


def bulk_delete_lines(index: str, ids: Sequence[str]) -> list[dict[str, Any]]:
    """``_bulk`` delete actions."""
    return [{"delete": {"_index": index, "_id": doc_id}} for doc_id in ids]


def alias_swap_body(alias: str, new_index: str, old_index: str | None) -> dict[str, Any]:
    """``POST _aliases``: move the alias in one atomic action list."""
    actions: list[dict[str, Any]] = []
    if old_index is not None:
        actions.append({"remove": {"index": old_index, "alias": alias}})
    actions.append({"add": {"index": new_index, "alias": alias}})
    return {"actions": actions}


class BackendParts:
    """What the ``OpenSearchBackend`` mixins (commercial stage, native mode) share."""

    client: OpenSearchClient
    bootstrapper: Bootstrapper
    template: IndexTemplate
    cfg: OpenSearchSettings
    names: Names

    @property
    def alias(self) -> str:
        """The alias every search and write goes to."""
        return self.names.alias
