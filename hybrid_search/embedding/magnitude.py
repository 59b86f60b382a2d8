"""Magnitude-aware models: the normalisation policy stored with a trained model, applied per side.

Feng & Watanabe, "Beyond the Unit Hypersphere: Embedding Magnitude in Contrastive Learning"
(arXiv 2602.09229): normalise the query side and the document side independently, so that a
document's vector length is a learned relevance prior. With a unit query only the document's
length can reorder a ranking (their Prop. 4.1), so a model that keeps it must be indexed with
inner product, never cosine (which would divide it away).

A model folder trained by ``hybrid-search train`` holds a plain sentence-transformers stack
(``Transformer`` + ``Pooling``, without ``Normalize``) and ``magnitude.json``, which records the
policy, the training scale and the few parameters of the side transform. The transform runs
here, in numpy, on the pooled vectors of any runtime (torch or ONNX), so both produce the same
vectors. Per side, with ``x`` the pooled vector times the side's calibration constant:

==========  ===================  ===============================================
policy      query side           document side
==========  ===================  ===============================================
cosine      x / |x|              x / |x|
qnorm       x / |x|              x
dnorm       x                    x / |x|
dot         x                    x
learnable   x / |x|^gamma_q      x / |x|^gamma_d   (gamma in [0, 1], learned)
head        x / |x|              x/|x| * exp(clip(w . x/|x| + b, -c, c))
==========  ===================  ===============================================

``head`` is the cosine-initialised magnitude head (w = 0, b = 0 is exactly cosine).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from hybrid_search.errors import ConfigError

__all__ = [
    "ALLOWED_MODULE_TYPES",
    "MAGNITUDE_FILE",
    "POLICIES",
    "MagnitudeEmbedder",
    "MagnitudeSpec",
    "apply_side",
    "check_module_types",
    "load_spec",
]

logger = logging.getLogger(__name__)

MAGNITUDE_FILE = "magnitude.json"
FORMAT_VERSION = 1
POLICIES = ("cosine", "qnorm", "dnorm", "dot", "learnable", "head")
Side = Literal["query", "document"]

# Module classes a magnitude-aware model folder may name in modules.json (old and 6.x paths).
# Anything else would need trust_remote_code, i.e. running code from the folder: refused.
ALLOWED_MODULE_TYPES = frozenset(
    {
        "sentence_transformers.models.Transformer",
        "sentence_transformers.models.Pooling",
        "sentence_transformers.base.modules.transformer.Transformer",
        "sentence_transformers.sentence_transformer.modules.pooling.Pooling",
    }
)


@dataclass(frozen=True)
class MagnitudeSpec:
    """What ``magnitude.json`` records: the policy and everything its side transform needs."""

    policy: str
    scale: float
    query_scale: float = 1.0
    document_scale: float = 1.0
    gamma_q: float = 1.0
    gamma_d: float = 1.0
    head_weight: tuple[float, ...] | None = None
    head_bias: float = 0.0
    head_clip: float = 3.0
    base_model: str = ""
    weights_sha256: str = ""
    training: dict[str, Any] | None = None

    @property
    def keeps_document_magnitude(self) -> bool:
        """Whether document vectors carry a length that ranks (needs an inner-product index)."""
        if self.policy in ("qnorm", "dot", "head"):
            return True
        return self.policy == "learnable" and self.gamma_d < 1.0 - 1e-6

    @property
    def normalizes_query(self) -> bool:
        """Whether the query side is a unit vector (then a dot product is |d| cos)."""
        if self.policy in ("cosine", "qnorm", "head"):
            return True
        return self.policy == "learnable" and self.gamma_q > 1.0 - 1e-6

    def to_json(self) -> dict[str, Any]:
        """The ``magnitude.json`` body."""
        body = asdict(self)
        body["head_weight"] = list(self.head_weight) if self.head_weight is not None else None
        return {"format": FORMAT_VERSION, **body}


def _field(path: Path, name: str, value: Any, allowed: str) -> ConfigError:
    return ConfigError(f"{path}: field {name!r} is {value!r}; allowed: {allowed}")


def _number(path: Path, body: dict[str, Any], name: str, default: float, lo: float) -> float:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= lo:
        raise _field(path, name, value, f"a number >= {lo}")
    return float(value)


def parse_spec(body: Any, path: Path) -> MagnitudeSpec:
    """Validate a ``magnitude.json`` body.

    Raises:
        ConfigError: names the file, the field, its value and what is allowed.
    """
    if not isinstance(body, dict):
        raise _field(path, "(root)", type(body).__name__, "a JSON object")
    if body.get("format") != FORMAT_VERSION:
        raise _field(path, "format", body.get("format"), str(FORMAT_VERSION))
    policy = body.get("policy")
    if policy not in POLICIES:
        raise _field(path, "policy", policy, f"one of {list(POLICIES)}")
    gamma_q = _number(path, body, "gamma_q", 1.0, 0.0)
    gamma_d = _number(path, body, "gamma_d", 1.0, 0.0)
    if gamma_q > 1.0 or gamma_d > 1.0:
        raise _field(path, "gamma_q/gamma_d", (gamma_q, gamma_d), "numbers in [0, 1]")
    weight = body.get("head_weight")
    head: tuple[float, ...] | None = None
    if policy == "head":
        ok = isinstance(weight, list) and all(
            isinstance(w, (int, float)) and not isinstance(w, bool) for w in weight
        )
        if not ok or not weight:
            raise _field(path, "head_weight", weight, "a non-empty list of numbers (policy head)")
        head = tuple(float(w) for w in weight)
    elif weight is not None:
        raise _field(path, "head_weight", "a list", f"null for policy {policy!r}")
    return MagnitudeSpec(
        policy=policy,
        scale=_number(path, body, "scale", 20.0, 1e-9),
        query_scale=_number(path, body, "query_scale", 1.0, 1e-12),
        document_scale=_number(path, body, "document_scale", 1.0, 1e-12),
        gamma_q=gamma_q,
        gamma_d=gamma_d,
        head_weight=head,
        head_bias=float(body.get("head_bias", 0.0)),
        head_clip=_number(path, body, "head_clip", 3.0, 0.0),
        base_model=str(body.get("base_model", "")),
        weights_sha256=str(body.get("weights_sha256", "")),
        training=body.get("training"),
    )


def check_module_types(folder: Path) -> list[str]:
    """The module classes of a model folder, refusing any outside ``ALLOWED_MODULE_TYPES``.

    Raises:
        ConfigError: ``modules.json`` is missing, unreadable or names another class.
    """
    path = folder / "modules.json"
    try:
        modules = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        msg = f"{path}: cannot read the module list ({exc}); a trained model folder needs it"
        raise ConfigError(msg) from exc
    if not isinstance(modules, list):
        raise _field(path, "(root)", type(modules).__name__, "a JSON list of modules")
    types = []
    for i, module in enumerate(modules):
        kind = module.get("type") if isinstance(module, dict) else None
        if kind not in ALLOWED_MODULE_TYPES:
            msg = (
                f"{path}: module {i} has class {kind!r}; a magnitude-aware model may only use "
                f"{sorted(ALLOWED_MODULE_TYPES)} (other classes would run code from the folder)"
            )
            raise ConfigError(msg)
        types.append(str(kind))
    return types


def load_spec(folder: Path) -> MagnitudeSpec | None:
    """The spec of a trained model folder, or None when it has no ``magnitude.json``.

    Raises:
        ConfigError: the file or the folder's module list is invalid.
    """
    path = folder / MAGNITUDE_FILE
    if not path.exists():
        return None
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        msg = f"{path}: unreadable ({exc}); retrain or restore the model"
        raise ConfigError(msg) from exc
    spec = parse_spec(body, path)
    check_module_types(folder)
    return spec


def _unit(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12), norms


def apply_side(vectors: np.ndarray, spec: MagnitudeSpec, side: Side) -> np.ndarray:
    """Turn pooled vectors ``(n, dim)`` into the query- or document-side vectors of ``spec``."""
    scale = spec.query_scale if side == "query" else spec.document_scale
    x = np.asarray(vectors, dtype=np.float64) * scale
    unit, norms = _unit(x)
    policy = spec.policy
    if policy == "cosine":
        out = unit
    elif policy == "qnorm":
        out = unit if side == "query" else x
    elif policy == "dnorm":
        out = x if side == "query" else unit
    elif policy == "dot":
        out = x
    elif policy == "learnable":
        gamma = spec.gamma_q if side == "query" else spec.gamma_d
        out = x / np.maximum(norms, 1e-12) ** gamma
    elif side == "query":  # head
        out = unit
    else:
        w = np.asarray(spec.head_weight, dtype=np.float64)
        logit = np.clip(unit @ w + spec.head_bias, -spec.head_clip, spec.head_clip)
        out = unit * np.exp(logit)[:, None]
    result: np.ndarray = out.astype(np.float32)
    return result


class MagnitudeEmbedder:
    """Wraps an embedder that returns pooled (un-normalised) vectors and applies each side.

    Works over the ONNX and the torch embedder alike: the side transform is plain numpy.
    """

    def __init__(self, inner: Any, spec: MagnitudeSpec) -> None:
        if inner.normalized:
            msg = (
                f"model {inner.model_id!r} has magnitude.json but its modules end in Normalize; "
                "a magnitude-aware model must return pooled vectors"
            )
            raise ConfigError(msg)
        self.inner = inner
        self.spec = spec
        # The weights' hash in the id: the index records exactly which fine-tune embedded it.
        digest = spec.weights_sha256[:12]
        self.model_id = f"{inner.model_id}@{digest}" if digest else str(inner.model_id)
        self.dimension = int(inner.dimension)
        self.runtime = f"{inner.runtime}+{spec.policy}"
        self.document_runtime = f"{getattr(inner, 'document_runtime', inner.runtime)}+{spec.policy}"
        self.normalized = not spec.keeps_document_magnitude and spec.normalizes_query
        self.keeps_document_magnitude = spec.keeps_document_magnitude

    def encode_query(self, text: str) -> np.ndarray:
        """One query through the query side."""
        pooled = np.asarray(self.inner.encode_query(text), dtype=np.float32)
        vec: np.ndarray = apply_side(pooled[None, :], self.spec, "query")[0]
        return vec

    def encode_documents(
        self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False
    ) -> np.ndarray:
        """Documents through the document side (their length is kept when the policy keeps it)."""
        pooled = self.inner.encode_documents(texts, batch_size=batch_size, progress=progress)
        if len(texts) == 0:
            return np.asarray(pooled, dtype=np.float32)
        return apply_side(np.asarray(pooled), self.spec, "document")
