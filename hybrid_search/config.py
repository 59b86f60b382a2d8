"""Settings: one ``Settings`` object built by ``load_settings()``, read from ``HYBRID_SEARCH_*``.

Nested sections use ``__`` in environment variables, for example
``HYBRID_SEARCH_SEARCH__CANDIDATES=300`` or ``HYBRID_SEARCH_EMBEDDING__BACKEND=torch``.
Nothing is read at import time: entry points call ``load_settings()`` once and pass it down.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_serializer,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from hybrid_search.errors import ConfigError

__all__ = [
    "ApiSettings",
    "CommercialSettings",
    "EmbeddedSettings",
    "EmbeddingSettings",
    "ObservabilitySettings",
    "OpenSearchSettings",
    "SearchSettings",
    "Settings",
    "load_settings",
    "redact_url",
]

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"

Normalization = Literal["min_max", "l2", "z_score"]
Combination = Literal["arithmetic_mean", "geometric_mean", "harmonic_mean", "rrf"]
Mode = Literal["auto", "hybrid", "lexical", "vector"]


class EmbeddingSettings(BaseModel):
    """The embedding model and how it runs."""

    model: str = Field(DEFAULT_MODEL, description="model id or local path")
    backend: Literal["auto", "onnx", "onnx-int8", "onnx-w8", "torch"] = Field(
        "auto", description="auto = ONNX Runtime, 8-bit query weights (onnx-w8), else torch"
    )
    device: str = "cpu"
    batch_size: int = Field(64, ge=1, le=4096)
    query_cache_size: int = Field(4096, ge=0)
    timeout_s: float = Field(2.0, gt=0)
    cache_dir: Path | None = Field(None, description="where exported ONNX models are kept")
    query_prefix: str = ""
    document_prefix: str = ""
    threads: int = Field(1, ge=1, le=64, description="ONNX Runtime intra-op threads per query")
    # Home Depot's 11,795 queries have at most 27 tokens, the demo's at most 13, so 64 changes
    # no measured query; a 512-character query costs ~3x less (benchmarks/results/query-encoder.md).
    query_max_tokens: int | None = Field(
        64, ge=3, le=4096, description="cap on a query's tokens (None: the model's limit)"
    )


class SearchSettings(BaseModel):
    """Defaults and bounds of the request path (each can be overridden per request)."""

    k: int = Field(10, ge=1, le=100)
    max_k: int = Field(100, ge=1, le=1000)
    candidates: int = Field(200, ge=10, le=10000, description="window N per leg")
    mode: Mode = "auto"
    normalization: Normalization = "min_max"
    combination: Combination = "arithmetic_mean"
    lexical_weight: float = Field(0.7, ge=0.0, le=1.0)
    vector_weight: float = Field(0.3, ge=0.0, le=1.0)
    rank_constant: int = Field(60, ge=1, le=10000)
    min_vector_cosine: float = Field(
        0.35, ge=-1.0, le=1.0, description="confidence gate tau on the top vector cosine"
    )
    fallback: Literal["on", "off"] = "on"
    # Relevance features; defaults are the values tuned on Home Depot train queries
    # (benchmarks/results/eval-homedepot.md).
    fuzzy: Literal["off", "on_empty", "always"] = Field(
        "always",
        description="typo tolerance of the lexical leg: always, only when it finds nothing, off",
    )
    adaptive_fusion: bool = Field(
        True, description="per-query vector weight from top cosine, BM25 spread, code tokens"
    )
    adaptive_cosine_pivot: float = Field(0.5, ge=-1.0, le=1.0)
    adaptive_cosine_slope: float = Field(0.0, ge=-10.0, le=10.0)
    adaptive_spread_pivot: float = Field(0.3, ge=0.0, le=1.0)
    adaptive_spread_slope: float = Field(0.0, ge=-10.0, le=10.0)
    adaptive_code_vector_weight: float = Field(0.1, ge=0.0, le=1.0)
    adaptive_min_vector_weight: float = Field(0.0, ge=0.0, le=1.0)
    adaptive_max_vector_weight: float = Field(1.0, ge=0.0, le=1.0)
    max_query_chars: int = Field(512, ge=1)
    max_page: int = Field(50, ge=0)
    max_filters: int = Field(16, ge=0)
    rerank: Literal["none", "ltr"] = Field(
        "none", description="ltr: re-rank the fused window with the learned model (ltr_model)"
    )
    ltr_model: Path | None = Field(
        None, description="MODEL_DIR written by `hybrid-search ltr train`"
    )
    ltr_window: int = Field(
        200, ge=1, le=10000, description="top fused candidates the learned model re-ranks"
    )

    @model_validator(mode="after")
    def _ltr_model_set(self) -> SearchSettings:
        if self.rerank == "ltr" and self.ltr_model is None:
            msg = (
                "HYBRID_SEARCH_SEARCH__RERANK='ltr' needs HYBRID_SEARCH_SEARCH__LTR_MODEL "
                "(a MODEL_DIR from `hybrid-search ltr train`), which is not set"
            )
            raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _adaptive_bounds_ordered(self) -> SearchSettings:
        low, high = self.adaptive_min_vector_weight, self.adaptive_max_vector_weight
        if low > high:
            msg = (
                f"HYBRID_SEARCH_SEARCH__ADAPTIVE_MIN_VECTOR_WEIGHT = {low} is above "
                f"HYBRID_SEARCH_SEARCH__ADAPTIVE_MAX_VECTOR_WEIGHT = {high}: the minimum must "
                "not exceed the maximum"
            )
            raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _weights_positive(self) -> SearchSettings:
        if self.lexical_weight + self.vector_weight <= 0:
            msg = (
                "HYBRID_SEARCH_SEARCH__LEXICAL_WEIGHT and HYBRID_SEARCH_SEARCH__VECTOR_WEIGHT are "
                f"both 0 ({self.lexical_weight}, {self.vector_weight}): at least one must be > 0"
            )
            raise ValueError(msg)
        return self


class CommercialSettings(BaseModel):
    """Coefficients of the commercial stage ``a*fused + b*margin + c*freshness + d*popularity``."""

    enabled: bool = True
    relevance_weight: float = Field(1.0, ge=0.0, le=10.0, description="a")
    margin_weight: float = Field(0.1, ge=0.0, le=10.0, description="b")
    freshness_weight: float = Field(0.05, ge=0.0, le=10.0, description="c")
    freshness_tau_days: float = Field(90.0, gt=0.0)
    popularity_weight: float = Field(0.05, ge=-10.0, le=10.0, description="d")
    popularity_damping: float = Field(
        1.0, ge=0.0, description="popularity enters as log1p(damping*p)/log1p(damping*max_p)"
    )
    exploration_rate: float = Field(0.0, ge=0.0, le=0.5)
    exploration_seed: int = 0
    max_margin: float | None = Field(None, gt=0.0, description="None: max margin in the window")


class EmbeddedSettings(BaseModel):
    """The in-process engine (tantivy + faiss)."""

    data_dir: Path = Path("hybrid-search-data")
    exact_threshold: int = Field(
        20_000, ge=0, description="below this many vectors, exact search instead of HNSW"
    )
    selective_filter_ratio: float = Field(
        0.1, ge=0.0, le=1.0, description="filters passing fewer docs than this share: exact"
    )
    hnsw_ef_search: int | None = Field(
        None, ge=1, le=10000, description="None: the template's ef_search (else 128)"
    )
    rebuild_tail: int = Field(5_000, ge=100, description="unindexed vectors before a rebuild")
    rebuild_tombstone_ratio: float = Field(0.1, gt=0.0, le=1.0)
    writer_heap_bytes: int = Field(128_000_000, ge=15_000_000)


def redact_url(url: str) -> str:
    """``url`` with any ``user:password@`` replaced by ``***@`` (for messages and logs)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        authority = "***@" + authority.rsplit("@", 1)[1]
    return f"{scheme}{sep}{authority}{slash}{path}"


class OpenSearchSettings(BaseModel):
    """Connection to an existing OpenSearch cluster, and how the backend uses it."""

    url: str = Field("http://localhost:9200", description="one URL, or several separated by commas")
    username: str | None = None
    password: SecretStr | None = None
    verify_certs: bool = True
    ca_certs: Path | None = Field(None, description="CA bundle for a self-signed cluster")
    client_cert: Path | None = None
    client_key: Path | None = None
    http_compress: bool = False
    timeout_s: float = Field(10.0, gt=0)
    max_retries: int = Field(3, ge=0, le=10, description="retries on 429/5xx/connection errors")
    retry_max_wait_s: float = Field(2.0, gt=0, le=60, description="cap of the jittered backoff")
    retry_on_timeout: bool = Field(
        False,
        description="retry a request that timed out too (a hung node then costs "
        "(max_retries + 1) * timeout_s instead of timeout_s)",
    )
    index_alias: str = Field("products", pattern=r"^[a-z0-9][a-z0-9_\-]*$")
    mode: Literal["sidecar", "native"] = Field(
        "sidecar", description="sidecar: _msearch legs + fusion here; native: hybrid + pipeline"
    )
    ef_search: int | None = Field(
        None, ge=1, le=10000, description="knn method_parameters.ef_search; None: the window"
    )
    bulk_docs: int = Field(500, ge=1, le=10000, description="documents per _bulk request")
    refresh: Literal["false", "true", "wait_for"] = Field(
        "wait_for", description="bulk refresh policy (wait_for: searchable when index() returns)"
    )
    commercial_stage: Literal["sidecar", "painless"] = Field(
        "sidecar",
        description="sidecar: one ids search for the window's commercial fields and the "
        "formula here; painless: window stats + a script_score on the cluster (two round trips)",
    )
    commercial_script: Literal["inline", "stored"] = Field(
        "inline", description="painless stage: source sent inline, or the stored script"
    )
    bootstrap_wait_s: float = Field(
        0.0,
        ge=0,
        le=3600,
        description="bootstrap first waits up to this long for cluster health yellow (0: no wait)",
    )

    def host_list(self) -> list[str]:
        """The cluster URLs (``url`` split on commas)."""
        return [h.strip() for h in self.url.split(",") if h.strip()]

    @field_serializer("url", when_used="json")
    def _redacted_url(self, url: str) -> str:
        # `config show` and any JSON dump: credentials inside the URL are a secret too.
        return ",".join(redact_url(h.strip()) for h in url.split(",") if h.strip())


class ApiSettings(BaseModel):
    """The HTTP sidecar (``hybrid-search serve``): access and request limits.

    The search limits (query length, k, page depth, filter count) live in ``search``, where the
    Searcher enforces them for every caller; these are the limits of the HTTP layer itself.
    """

    api_key: SecretStr | None = Field(
        None, description="required on writes (and on reads if read_requires_key); None: open"
    )
    read_requires_key: bool = False
    cors_origins: list[str] = Field(
        default_factory=list, description="storefront origins allowed by CORS; [] = none"
    )
    max_body_bytes: int = Field(2_000_000, ge=1024, description="larger bodies get 413")
    max_documents: int = Field(1000, ge=1, le=100_000, description="documents per bulk upsert")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)

    @model_validator(mode="after")
    def _key_for_reads(self) -> ApiSettings:
        if self.read_requires_key and self.api_key is None:
            msg = (
                "HYBRID_SEARCH_API__READ_REQUIRES_KEY is true but HYBRID_SEARCH_API__API_KEY is "
                "not set: set a key or allow open reads"
            )
            raise ValueError(msg)
        return self


class ObservabilitySettings(BaseModel):
    """Prometheus metrics and the opt-in query log (``hybrid_search/observability/``).

    The query log keeps no personal data by default: the query text is replaced by a salted
    SHA-256 unless ``hash_queries`` is false, and no client address or user id is ever written.
    """

    metrics_enabled: bool = Field(True, description="serve GET /metrics (Prometheus text format)")
    query_log_enabled: bool = Field(False, description="write one JSONL record per search")
    query_log_path: Path = Path("hybrid-search-data/query-log.jsonl")
    hash_queries: bool = Field(True, description="log sha256(salt + query) instead of the text")
    hash_salt: SecretStr | None = Field(None, description="salt of the query hash")
    log_vectors: bool = Field(True, description="log the query vector (needed by `audit`)")
    query_log_max_bytes: int = Field(50_000_000, ge=1024, description="rotate past this size")
    query_log_backups: int = Field(5, ge=0, le=1000, description="rotated files kept")


class Settings(BaseSettings):
    """All settings of hybrid_search."""

    model_config = SettingsConfigDict(
        env_prefix="HYBRID_SEARCH_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="forbid",
    )

    backend: str = "embedded"
    templates_dir: Path | None = Field(None, description="None: the bundled index_templates/")
    template: str = "products"
    embedding: EmbeddingSettings = EmbeddingSettings()
    search: SearchSettings = SearchSettings()
    commercial: CommercialSettings = CommercialSettings()
    embedded: EmbeddedSettings = EmbeddedSettings()
    opensearch: OpenSearchSettings = OpenSearchSettings()
    api: ApiSettings = ApiSettings()
    observability: ObservabilitySettings = ObservabilitySettings()


def _env_name(loc: tuple[Any, ...]) -> str:
    return "HYBRID_SEARCH_" + "__".join(str(p).upper() for p in loc)


def load_settings(**overrides: Any) -> Settings:
    """Build the settings from the environment (and ``.env``), then apply ``overrides``.

    Args:
        **overrides: top-level fields or whole nested sections (dicts are merged into sections).

    Raises:
        ConfigError: a value is invalid; the message names the environment variable.
    """
    try:
        base = Settings()
        if not overrides:
            return base
        data = base.model_dump()
        for key, value in overrides.items():
            if isinstance(value, dict) and isinstance(data.get(key), dict):
                data[key] = {**data[key], **value}
            else:
                data[key] = value
        return Settings.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{_env_name(err['loc'])}={err.get('input')!r}: {err['msg']}" for err in exc.errors()
        )
        msg = f"invalid settings: {problems}"
        raise ConfigError(msg) from exc
