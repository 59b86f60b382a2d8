"""Read ``index_templates/``: the OpenSearch ``_index_template`` body is the single source of truth.

Both backends follow the template: its mappings give the field types (text fields with their
analyzer, keyword / boolean / numeric / date filter fields, the ``knn_vector`` field), and its
``_meta.hybrid_search`` block gives the roles: the document id field, which fields build the
embedding text, which text fields the lexical leg searches (with boosts), which fields may be
filtered on, and which fields feed the commercial stage.

Optional ``_meta.hybrid_search.vector_blocks`` (``blocks.py``) makes the knn field a
weighted concatenation of unit blocks: the text embedding plus vectors a document brings under
``vectors`` (behaviour, image). The knn dimension must then be the blocks' sum and the space
``innerproduct``: a query carries only its text block, and only the inner product scores it by
text alone (``benchmarks/results/behaviour-similar-items.md``).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import logging
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import numpy as np

from hybrid_search.analysis import BUILTIN_ANALYZERS, AnalyzerChain, lowercase
from hybrid_search.blocks import BlockLayout, parse_blocks
from hybrid_search.errors import TemplateError

__all__ = [
    "BLOCK_VECTORS_FIELD",
    "COMMERCIAL_ROLES",
    "FieldBounds",
    "FieldSpec",
    "IndexTemplate",
    "VectorSpec",
    "check_vector_space",
    "default_templates_dir",
    "knn_dimension",
    "load_template",
    "parse_template",
    "with_knn_engine",
]

logger = logging.getLogger(__name__)

FieldKind = Literal["text", "keyword", "boolean", "number", "date"]
SpaceType = Literal["cosinesimil", "innerproduct", "l2"]

COMMERCIAL_ROLES = ("margin", "received_at", "popularity")
BLOCK_VECTORS_FIELD = "vectors"
_BLOCKS_POINTER = "/_meta/hybrid_search/vector_blocks"
_NUMBER_TYPES = {
    "float",
    "double",
    "half_float",
    "scaled_float",
    "integer",
    "long",
    "short",
    "byte",
}
_SUPPORTED_SPACES = ("cosinesimil", "innerproduct", "l2")


@dataclass(frozen=True)
class FieldSpec:
    """One (sub)field of the mapping, by its dotted path (``brand.text``)."""

    path: str
    kind: FieldKind
    source: str
    analyzer: str | None = None
    normalizer: str | None = None

    def normalize(self, value: str) -> str:
        """A keyword value as the field's normalizer indexes it (and OpenSearch normalises a
        ``term`` query on it): lowercased when the field has one, else unchanged."""
        return lowercase(value) if self.normalizer else value


@dataclass(frozen=True)
class FieldBounds:
    """The values a number or date field may take (``_meta.hybrid_search.bounds``): ``gte``
    and ``lte`` as numbers (dates as epoch seconds), either open (None); ``lte_now`` for a date
    that may not be in the future. ``text`` is the declared range, as error messages show it."""

    gte: float | None = None
    lte: float | None = None
    lte_now: bool = False
    text: str = ""


@dataclass(frozen=True)
class VectorSpec:
    """The ``knn_vector`` field."""

    name: str
    dimension: int
    space_type: SpaceType
    engine: str
    m: int
    ef_construction: int
    ef_search: int | None


@dataclass(frozen=True)
class IndexTemplate:
    """A parsed index template with the field roles both backends need."""

    name: str
    path: Path
    body: dict[str, Any]
    fields: dict[str, FieldSpec]
    vector: VectorSpec
    id_field: str
    embedding_source_fields: tuple[str, ...]
    lexical_fields: dict[str, float]
    filter_fields: tuple[str, ...]
    commercial_fields: dict[str, str]
    required_fields: tuple[str, ...]
    digest: str = field(default="")
    blocks: BlockLayout | None = None
    bounds: dict[str, FieldBounds] = field(default_factory=dict)
    analyzers: dict[str, AnalyzerChain] = field(default_factory=lambda: dict(BUILTIN_ANALYZERS))

    @property
    def source_fields(self) -> dict[str, FieldSpec]:
        """Top-level fields a document may carry (sub-fields are derived from their parent)."""
        return {p: f for p, f in self.fields.items() if "." not in p}

    @property
    def text_similarity_scale(self) -> float:
        """What a query's raw similarity is divided by to read the text cosine: the text
        block's weight with ``vector_blocks`` (a query ``[q, 0...]``, a product ``[w t, ...]``),
        else 1."""
        return self.blocks.text_weight if self.blocks is not None else 1.0

    def query_vector(self, text_vector: np.ndarray) -> np.ndarray:
        """The knn leg's query vector: the text vector, padded with zeros for the other blocks.

        Raises:
            ValueError: the text vector does not have the text block's dimension.
        """
        if self.blocks is None:
            return text_vector
        return self.blocks.query(text_vector)


def knn_dimension(template: IndexTemplate, text_dimension: int) -> int:
    """The knn vectors' dimension for an embedding model giving ``text_dimension``-d vectors.

    Without ``vector_blocks`` that is the model's dimension (the backend checks it against the
    template); with blocks it is their sum, once the text block is checked against the model.

    Raises:
        TemplateError: the text block's dimension differs from the model's.
    """
    if template.blocks is None:
        return text_dimension
    names = [b.name for b in template.blocks.blocks]
    text = template.blocks.text
    if text.dimension != text_dimension:
        ptr = f"{_BLOCKS_POINTER}/{names.index('text')}/dimension"
        msg = (
            f"{template.path}#{ptr}: the text block declares {text.dimension} dimensions but the "
            f"embedding model gives {text_dimension}-d vectors; allowed: {text_dimension} "
            "(and the knn dimension = the blocks' sum)"
        )
        raise TemplateError(msg)
    return template.blocks.dimension


def check_vector_space(template: IndexTemplate, embedder: Any) -> None:
    """Refuse to index a model that keeps document magnitude in a space that erases or distorts it.

    Such a model (``keeps_document_magnitude``, from ``hybrid-search train``) ranks by
    ``|d| cos``: only ``innerproduct`` keeps that. ``cosinesimil`` divides the length away (the
    OpenSearch faiss engine even normalises the stored vectors), ``l2`` ranks by distance.

    Raises:
        TemplateError: names the template's space type and the one required.
    """
    if not getattr(embedder, "keeps_document_magnitude", False):
        return
    if template.blocks is not None:
        msg = (
            f"{template.path}#{_BLOCKS_POINTER}: model {getattr(embedder, 'model_id', '?')!r} "
            "keeps document magnitude, which the block fusion erases (each block is normalised "
            "to unit length); use a template without vector_blocks for this model"
        )
        raise TemplateError(msg)
    space = template.vector.space_type
    if space != "innerproduct":
        msg = (
            f"{template.path}: model {getattr(embedder, 'model_id', '?')!r} keeps document "
            f"magnitude, so the vector field must use space_type 'innerproduct', not {space!r} "
            "(cosinesimil would erase the learned length); use index_templates/"
            "products-innerproduct.json (HYBRID_SEARCH_TEMPLATE=products-innerproduct)"
        )
        raise TemplateError(msg)


def default_templates_dir() -> Path:
    """The repository's ``index_templates/`` when run from a checkout, else the bundled copy."""
    package = Path(__file__).resolve().parent
    checkout = package.parent / "index_templates"
    if checkout.is_dir():
        return checkout
    return package / "_bundled" / "index_templates"


def load_template(name: str = "products", templates_dir: Path | None = None) -> IndexTemplate:
    """Load ``<templates_dir>/<name>.json`` and parse its field roles.

    Raises:
        TemplateError: the file is missing, not JSON, or its roles are inconsistent.
    """
    directory = templates_dir or default_templates_dir()
    path = directory / f"{name}.json"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        available = sorted(p.stem for p in directory.glob("*.json")) if directory.is_dir() else []
        msg = f"cannot read index template {path}: {exc}; templates there: {available}"
        raise TemplateError(msg) from exc
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        msg = f"{path}: not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        raise TemplateError(msg) from exc
    return parse_template(body, path=path, name=name)


_KNN_ENGINES = ("faiss", "lucene")


def with_knn_engine(template: IndexTemplate, engine: str) -> IndexTemplate:
    """The same template with its knn method on another engine (``faiss`` or ``lucene``).

    For ``lucene`` the mapping's ``ef_search`` moves to the index setting
    ``index.knn.algo_param.ef_search`` (Lucene HNSW refuses it in the mapping; k-NN applies the
    setting to Lucene from 3.5), and the knn leg keeps sending it as ``method_parameters``.
    Used for clusters whose k-NN plugin has no native libraries, such as the Maven Central
    build the real-cluster tests run on (a faiss field kills that node at its first flush).

    Raises:
        TemplateError: an engine other than ``faiss`` or ``lucene``.
    """
    if engine not in _KNN_ENGINES:
        ptr = f"/template/mappings/properties/{template.vector.name}/method/engine"
        raise _fail(template.path, ptr, f"one of {list(_KNN_ENGINES)}", engine)
    body = copy.deepcopy(template.body)
    mapping = body["template"]["mappings"]["properties"][template.vector.name]
    mapping.pop("engine", None)
    method = mapping.setdefault("method", {})
    method["engine"] = engine
    params = method.setdefault("parameters", {})
    ef_search = template.vector.ef_search
    if engine == "lucene":
        params.pop("ef_search", None)
        if ef_search is not None:
            index = body["template"].setdefault("settings", {}).setdefault("index", {})
            index.setdefault("knn.algo_param.ef_search", ef_search)
    elif ef_search is not None:
        params["ef_search"] = ef_search
    parsed = parse_template(body, path=template.path, name=template.name)
    return dataclasses.replace(
        parsed, vector=dataclasses.replace(parsed.vector, ef_search=ef_search)
    )


def _fail(path: Path, pointer: str, expected: str, got: Any) -> TemplateError:
    return TemplateError(f"{path}#{pointer}: expected {expected}, got {got!r}")


def _normalizers(body: dict[str, Any], path: Path) -> tuple[str, ...]:
    """The names of the template's keyword normalizers, each ``{"type": "custom", "filter":
    ["lowercase"]}``: the one normalisation both backends apply alike.

    Raises:
        TemplateError: a normalizer with another shape.
    """
    settings = body.get("template", {}).get("settings") or {}
    raw_index = settings.get("index")
    index: dict[str, Any] = raw_index if isinstance(raw_index, dict) else {}
    names: list[str] = []
    for where, analysis in (
        ("/template/settings/analysis", settings.get("analysis")),
        ("/template/settings/index/analysis", index.get("analysis")),
    ):
        if analysis is None:
            continue
        declared = analysis.get("normalizer", {}) if isinstance(analysis, dict) else None
        if not isinstance(declared, dict):
            raise _fail(path, f"{where}/normalizer", "an object of normalizers", declared)
        for name, spec in declared.items():
            shape = {"type": "custom", "filter": ["lowercase"]}
            if spec != shape and spec != {"filter": ["lowercase"]}:
                expected = f"{json.dumps(shape)} (the only normalizer both backends apply)"
                raise _fail(path, f"{where}/normalizer/{name}", expected, spec)
        names.extend(declared)
    return tuple(names)


_CHAIN_ORDER = ("possessive", "lowercase", "stop", "overrides", "porter")


def _filter_step(name: str, declared: dict[str, Any], path: Path, ptr: str) -> tuple[str, Any]:
    """One token filter of a custom analyzer as a step of ``AnalyzerChain``."""
    if name == "lowercase":
        return "lowercase", None
    if name == "porter_stem":
        return "porter", None
    found = declared.get(name)
    spec: dict[str, Any] = found if isinstance(found, dict) else {}
    kind = spec.get("type")
    if kind == "stemmer" and spec.get("language") == "possessive_english":
        return "possessive", None
    if kind == "stemmer" and spec.get("language") in ("english", "porter"):
        return "porter", None
    if kind == "stop" and spec.get("stopwords") == "_english_" and len(spec) == 2:
        return "stop", None
    if kind == "stemmer_override" and set(spec) == {"type", "rules"}:
        where = f"/template/settings/analysis/filter/{name}/rules"
        return "overrides", _override_rules(spec["rules"], path, where)
    expected = (
        "lowercase, porter_stem, or a filter declared under settings.analysis.filter as a stemmer "
        "(possessive_english, english or porter), a stop filter with stopwords _english_, or a "
        "stemmer_override with rules"
    )
    raise _fail(path, ptr, expected, found if found is not None else name)


def _override_rules(rules: Any, path: Path, ptr: str) -> dict[str, str]:
    """``stemmer_override`` rules ("scarves => scarf", "a, b => c") as token -> term."""
    if not isinstance(rules, list) or not rules:
        raise _fail(path, ptr, 'a non-empty list of "word, word => term" rules', rules)
    out: dict[str, str] = {}
    for i, rule in enumerate(rules):
        parts = rule.split("=>") if isinstance(rule, str) else []
        words = [w.strip() for w in parts[0].split(",")] if len(parts) == 2 else []
        term = parts[1].strip() if len(parts) == 2 else ""
        if not term or not words or not all(words) or any(lowercase(w) != w for w in words):
            expected = '"word, word => term", lowercase words (they meet lowercased tokens)'
            raise _fail(path, f"{ptr}/{i}", expected, rule)
        for word in words:
            out[word] = term
    return out


def _analyzers(body: dict[str, Any], path: Path) -> dict[str, AnalyzerChain]:
    """The built-in analyzers plus the template's own (``settings.analysis.analyzer``), each
    the standard tokenizer and steps of ``AnalyzerChain`` in its order: what the embedded
    engine applies exactly as OpenSearch does.

    Raises:
        TemplateError: an analyzer with another tokenizer, filter or order.
    """
    settings = body.get("template", {}).get("settings") or {}
    analysis = settings.get("analysis") or {}
    where = "/template/settings/analysis"
    declared_filters = analysis.get("filter") or {}
    out = dict(BUILTIN_ANALYZERS)
    for name, spec in (analysis.get("analyzer") or {}).items():
        ptr = f"{where}/analyzer/{name}"
        if not isinstance(spec, dict) or spec.get("type", "custom") != "custom":
            raise _fail(path, ptr, "a custom analyzer", spec)
        if spec.get("tokenizer") != "standard" or set(spec) - {"type", "tokenizer", "filter"}:
            raise _fail(path, f"{ptr}/tokenizer", '"standard" (and no char_filter)', spec)
        steps: dict[str, Any] = {}
        last = -1
        for i, fname in enumerate(spec.get("filter") or []):
            step, value = _filter_step(fname, declared_filters, path, f"{ptr}/filter/{i}")
            order = _CHAIN_ORDER.index(step)
            if order <= last:
                expected = f"the filters in the order {list(_CHAIN_ORDER)}, each once"
                raise _fail(path, f"{ptr}/filter", expected, spec.get("filter"))
            last = order
            steps[step] = value
        if "lowercase" not in steps:
            raise _fail(path, f"{ptr}/filter", "a chain with lowercase", spec.get("filter"))
        out[name] = AnalyzerChain(
            possessive="possessive" in steps,
            stop="stop" in steps,
            overrides=steps.get("overrides") or {},
            porter="porter" in steps,
        )
    return out


def _walk_properties(
    props: dict[str, Any],
    path: Path,
    prefix: str,
    pointer: str,
    normalizers: tuple[str, ...] = (),
    analyzers: dict[str, AnalyzerChain] = BUILTIN_ANALYZERS,
) -> tuple[dict[str, FieldSpec], list[tuple[str, dict[str, Any], str]]]:
    fields: dict[str, FieldSpec] = {}
    vectors: list[tuple[str, dict[str, Any], str]] = []
    for name, spec in props.items():
        dotted = f"{prefix}{name}"
        ptr = f"{pointer}/{name}"
        if not isinstance(spec, dict):
            raise _fail(path, ptr, "a mapping object", spec)
        ftype = spec.get("type")
        source = dotted.split(".")[0]
        if ftype == "knn_vector":
            vectors.append((dotted, spec, ptr))
            continue
        if ftype == "text":
            analyzer = spec.get("analyzer", "standard")
            if analyzer not in analyzers:
                choices = f"one of {sorted(analyzers)} (built in, or under settings.analysis)"
                raise _fail(path, f"{ptr}/analyzer", choices, analyzer)
            fields[dotted] = FieldSpec(dotted, "text", source, analyzer)
        elif ftype == "keyword":
            normalizer = spec.get("normalizer")
            if normalizer is not None and normalizer not in normalizers:
                expected = f"a normalizer declared under settings.analysis, one of {normalizers}"
                raise _fail(path, f"{ptr}/normalizer", expected, normalizer)
            fields[dotted] = FieldSpec(dotted, "keyword", source, normalizer=normalizer)
        elif ftype == "boolean":
            fields[dotted] = FieldSpec(dotted, "boolean", source)
        elif ftype in _NUMBER_TYPES:
            fields[dotted] = FieldSpec(dotted, "number", source)
        elif ftype == "date":
            fields[dotted] = FieldSpec(dotted, "date", source)
        else:
            allowed = sorted({"text", "keyword", "boolean", "date", "knn_vector", *_NUMBER_TYPES})
            raise _fail(path, f"{ptr}/type", f"one of {allowed}", ftype)
        sub = spec.get("fields")
        if sub:
            sub_fields, sub_vectors = _walk_properties(
                sub, path, f"{dotted}.", f"{ptr}/fields", normalizers, analyzers
            )
            if sub_vectors:
                raise _fail(path, f"{ptr}/fields", "no knn_vector sub-field", list(sub))
            fields.update(sub_fields)
    return fields, vectors


def _parse_vector(name: str, spec: dict[str, Any], path: Path, ptr: str) -> VectorSpec:
    dimension = spec.get("dimension")
    if not isinstance(dimension, int) or not 0 < dimension <= 16000:
        raise _fail(path, f"{ptr}/dimension", "an integer in [1, 16000]", dimension)
    method = spec.get("method") or {}
    if method.get("name", "hnsw") != "hnsw":
        raise _fail(path, f"{ptr}/method/name", "'hnsw'", method.get("name"))
    space = method.get("space_type", spec.get("space_type"))
    if space not in _SUPPORTED_SPACES:
        raise _fail(path, f"{ptr}/method/space_type", f"one of {list(_SUPPORTED_SPACES)}", space)
    params = method.get("parameters") or {}
    for key in ("m", "ef_construction"):
        if not isinstance(params.get(key), int) or params[key] < 2:
            msg = "an integer >= 2, pinned explicitly"
            raise _fail(path, f"{ptr}/method/parameters/{key}", msg, params.get(key))
    engine = method.get("engine", spec.get("engine", "faiss"))
    return VectorSpec(
        name=name,
        dimension=dimension,
        space_type=space,
        engine=engine,
        m=params["m"],
        ef_construction=params["ef_construction"],
        ef_search=params.get("ef_search"),
    )


_META = "/_meta/hybrid_search"


def _mapped_fields(
    body: dict[str, Any], path: Path
) -> tuple[dict[str, FieldSpec], VectorSpec, str, dict[str, AnalyzerChain]]:
    """The mapped fields, the one knn vector (and its pointer) and the analyzers."""
    mappings = body.get("template", {}).get("mappings", {})
    props = mappings.get("properties")
    if not isinstance(props, dict) or not props:
        raise _fail(path, "/template/mappings/properties", "a non-empty object", props)
    analyzers = _analyzers(body, path)
    fields, vectors = _walk_properties(
        props, path, "", "/template/mappings/properties", _normalizers(body, path), analyzers
    )
    if len(vectors) != 1:
        names = [v[0] for v in vectors]
        msg = "exactly one knn_vector field"
        raise _fail(path, "/template/mappings/properties", msg, names)
    vec_name, vec_spec, vec_ptr = vectors[0]
    return fields, _parse_vector(vec_name, vec_spec, path, vec_ptr), vec_ptr, analyzers


def _id_field(
    meta: dict[str, Any], path: Path, fields: dict[str, FieldSpec], vector: VectorSpec
) -> Any:
    id_field = meta.get("id_field")
    if fields.get(id_field or "", FieldSpec("", "text", "")).kind != "keyword":
        raise _fail(path, f"{_META}/id_field", "a keyword field", id_field)
    if meta.get("vector_field", vector.name) != vector.name:
        raise _fail(path, f"{_META}/vector_field", f"'{vector.name}'", meta.get("vector_field"))
    return id_field


def _embedding_sources(meta: dict[str, Any], path: Path, top_level: set[str]) -> Any:
    emb_sources = meta.get("embedding_source_fields") or []
    for i, f in enumerate(emb_sources):
        if f not in top_level:
            ptr = f"{_META}/embedding_source_fields/{i}"
            raise _fail(path, ptr, f"a top-level field, one of {sorted(top_level)}", f)
    if not emb_sources:
        raise _fail(path, f"{_META}/embedding_source_fields", "a non-empty list", emb_sources)
    return emb_sources


def _lexical_fields(meta: dict[str, Any], path: Path, fields: dict[str, FieldSpec]) -> Any:
    lexical = meta.get("lexical_fields") or {}
    text_fields = sorted(p for p, f in fields.items() if f.kind == "text")
    for f, boost in lexical.items():
        if f not in text_fields:
            raise _fail(
                path, f"{_META}/lexical_fields/{f}", f"a text field, one of {text_fields}", f
            )
        if not isinstance(boost, (int, float)) or boost <= 0:
            raise _fail(path, f"{_META}/lexical_fields/{f}", "a boost > 0", boost)
    if not lexical:
        raise _fail(path, f"{_META}/lexical_fields", "a non-empty object", lexical)
    return lexical


def _filter_fields(meta: dict[str, Any], path: Path, fields: dict[str, FieldSpec]) -> Any:
    filters = meta.get("filter_fields") or []
    filterable = sorted(p for p, f in fields.items() if f.kind != "text")
    for i, f in enumerate(filters):
        if f not in filterable:
            allowed = f"a keyword, boolean, number or date field, one of {filterable}"
            raise _fail(path, f"{_META}/filter_fields/{i}", allowed, f)
    return filters


def _commercial_fields(meta: dict[str, Any], path: Path, fields: dict[str, FieldSpec]) -> Any:
    commercial = meta.get("commercial_fields") or {}
    for role, f in commercial.items():
        if role not in COMMERCIAL_ROLES:
            raise _fail(
                path, f"{_META}/commercial_fields/{role}", f"one of {COMMERCIAL_ROLES}", role
            )
        expected_kind = "date" if role == "received_at" else "number"
        if f not in fields or fields[f].kind != expected_kind:
            raise _fail(path, f"{_META}/commercial_fields/{role}", f"a {expected_kind} field", f)
    return commercial


def _required_fields(meta: dict[str, Any], path: Path, top_level: set[str], id_field: Any) -> Any:
    required = meta.get("required_fields") or [id_field]
    for i, f in enumerate(required):
        if f not in top_level:
            raise _fail(path, f"{_META}/required_fields/{i}", "a top-level field", f)
    return required


def parse_template(body: dict[str, Any], *, path: Path, name: str) -> IndexTemplate:
    """Parse a template body into an ``IndexTemplate``.

    The mappings first, then the field roles of ``_meta.hybrid_search`` in the order below;
    the first problem raises.

    Raises:
        TemplateError: names the file, the JSON pointer and what was expected.
    """
    fields, vector, vec_ptr, analyzers = _mapped_fields(body, path)
    meta = body.get("_meta", {}).get("hybrid_search")
    if not isinstance(meta, dict):
        raise _fail(path, _META, "an object naming the field roles", meta)
    id_field = _id_field(meta, path, fields, vector)
    top_level = {p for p in fields if "." not in p}
    emb_sources = _embedding_sources(meta, path, top_level)
    lexical = _lexical_fields(meta, path, fields)
    filters = _filter_fields(meta, path, fields)
    commercial = _commercial_fields(meta, path, fields)
    required = _required_fields(meta, path, top_level, id_field)
    bounds = _parse_bounds(meta.get("bounds"), path, f"{_META}/bounds", fields)
    blocks = _parse_blocks(meta, path, vector, vec_ptr, fields, dict(commercial))
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]
    return IndexTemplate(
        name=name,
        path=path,
        body=body,
        fields=fields,
        vector=vector,
        id_field=str(id_field),
        embedding_source_fields=tuple(emb_sources),
        lexical_fields={k: float(v) for k, v in lexical.items()},
        filter_fields=tuple(filters),
        commercial_fields=dict(commercial),
        required_fields=tuple(required),
        digest=digest,
        blocks=blocks,
        bounds=bounds,
        analyzers=analyzers,
    )


def _bound_value(kind: str, op: str, value: Any, path: Path, ptr: str) -> float | None:
    """A declared bound as a number (dates as epoch seconds); None for a date's ``"now"``."""
    if kind == "date":
        if op == "lte" and value == "now":
            return None
        try:
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            allowed = "an ISO date" + (' or "now"' if op == "lte" else "")
            raise _fail(path, ptr, allowed, value) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        return parsed.timestamp()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _fail(path, ptr, "a finite number", value)
    return float(value)


def _parse_bounds(
    raw: Any, path: Path, ptr: str, fields: dict[str, FieldSpec]
) -> dict[str, FieldBounds]:
    """``_meta.hybrid_search.bounds``: ``{field: {"gte": x, "lte": y}}`` for number and date
    fields (a date's ``lte`` may be ``"now"``), checked by ``documents.validate_document``."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _fail(path, ptr, 'an object of field -> {"gte", "lte"}', raw)
    out: dict[str, FieldBounds] = {}
    ranged = sorted(p for p, f in fields.items() if f.kind in ("number", "date") and "." not in p)
    for name, spec in raw.items():
        where = f"{ptr}/{name}"
        if name not in ranged:
            raise _fail(path, where, f"a top-level number or date field, one of {ranged}", name)
        if not isinstance(spec, dict) or not spec or set(spec) - {"gte", "lte"}:
            raise _fail(path, where, 'an object with "gte" and/or "lte"', spec)
        kind = fields[name].kind
        gte = (
            _bound_value(kind, "gte", spec["gte"], path, f"{where}/gte") if "gte" in spec else None
        )
        lte = (
            _bound_value(kind, "lte", spec["lte"], path, f"{where}/lte") if "lte" in spec else None
        )
        if gte is not None and lte is not None and gte > lte:
            raise _fail(path, f"{where}/gte", f"at most lte ({spec['lte']!r})", spec["gte"])
        if "gte" in spec and "lte" in spec:
            text = f"in [{spec['gte']}, {spec['lte']}]"
        elif "gte" in spec:
            text = f">= {spec['gte']}"
        else:
            text = f"<= {spec['lte']}" + (" (not in the future)" if spec["lte"] == "now" else "")
        out[name] = FieldBounds(gte, lte, lte_now=spec.get("lte") == "now", text=text)
    return out


def _parse_blocks(
    meta: dict[str, Any],
    path: Path,
    vector: VectorSpec,
    vec_ptr: str,
    fields: dict[str, FieldSpec],
    commercial: dict[str, str],
) -> BlockLayout | None:
    """The optional ``vector_blocks`` layout, checked against the knn field and the roles."""
    raw = meta.get("vector_blocks")
    if raw is None:
        return None
    layout = parse_blocks(raw, where=f"{path}#{_BLOCKS_POINTER}")
    if layout.dimension != vector.dimension:
        dims = " + ".join(f"{b.name} {b.dimension}" for b in layout.blocks)
        expected = f"{layout.dimension}, the sum of the vector_blocks dimensions ({dims})"
        raise _fail(path, f"{vec_ptr}/dimension", expected, vector.dimension)
    if vector.space_type != "innerproduct":
        expected = (
            "'innerproduct' with vector_blocks (a query carries only its text block: cosinesimil "
            "would divide each product's score by its fused length and boost products whose "
            "other blocks are empty or down-weighted; l2 ranks by distance)"
        )
        raise _fail(path, f"{vec_ptr}/method/space_type", expected, vector.space_type)
    if BLOCK_VECTORS_FIELD in fields:
        expected = (
            f"no field named {BLOCK_VECTORS_FIELD!r} (documents carry their block vectors there)"
        )
        raise _fail(
            path, f"/template/mappings/properties/{BLOCK_VECTORS_FIELD}", expected, "a field"
        )
    for i, block in enumerate(layout.blocks):
        ptr = f"{_BLOCKS_POINTER}/{i}"
        if block.name == "text" and block.weight <= 0:
            expected = "a weight > 0 for the text block (queries carry only the text block)"
            raise _fail(path, f"{ptr}/weight", expected, block.weight)
        if block.name == "text" and block.inverse_popularity:
            expected = "0 for the text block (a query's text score must not depend on popularity)"
            raise _fail(path, f"{ptr}/inverse_popularity", expected, block.inverse_popularity)
        if block.inverse_popularity and block.popularity_reference is None:
            expected = (
                "a number > 0 whenever inverse_popularity > 0 (the popularity at which the weight "
                "is divided by 2**inverse_popularity, e.g. the catalogue's median popularity)"
            )
            raise _fail(path, f"{ptr}/popularity_reference", expected, None)
        if block.inverse_popularity and "popularity" not in commercial:
            expected = f"a popularity field: block {block.name!r} has inverse_popularity > 0"
            raise _fail(path, "/_meta/hybrid_search/commercial_fields/popularity", expected, None)
    return layout
