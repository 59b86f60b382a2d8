"""Validate OpenSearch request bodies against the official OpenSearch API specification.

The spec (split YAML, OpenAPI 3.1) ships with the package as a subset (``api_spec/``: only the
components reachable from ``spec_roots()``, extracted by ``scripts/extract_opensearch_spec.py``);
``$HYBRID_SEARCH_OPENSEARCH_SPEC_DIR`` points the validator at a full checkout instead. Each body
kind is a ``components.requestBodies`` entry of a namespace file, checked with jsonschema's
Draft 2020-12 validator; a ``referencing.Registry`` loads YAML files by ``file://`` URI, so the
relative ``../schemas/...`` references resolve. Three in-memory layers sit on top (see
``reference/opensearch.md`` section 4; the rules themselves are in ``spec_rules.py``):

* strict overlay: ``KnnQuery`` and ``HybridQuery`` reject unknown keys; ``k`` in [1, 10000],
  ``min_score > 0``, exactly one of ``k|min_score|max_distance``, 1 to 5 hybrid sub-queries,
  pipeline weights in [0, 1];
* discriminator dispatch: a ``oneOf`` with an OpenAPI ``discriminator`` (mapping ``Property`` by
  ``type``) checks only the branch the discriminator names: 40x faster on templates, and the error
  names the real fault instead of "not valid under any of 47 schemas";
* ``SPEC_GAPS``: bodies the server accepts but the spec rejects, matched by kind, JSON path, keyword
  and value, and dropped. Nothing else is tolerated.
"""

from __future__ import annotations

import logging
import os
import reprlib
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

from hybrid_search.backends.opensearch.spec_rules import (
    LOCAL,
    MESSAGE,
    SPEC_GAPS,
    STRICT_OVERLAYS,
    SpecGap,
)
from hybrid_search.errors import ConfigError, TemplateError

__all__ = [
    "PACKAGED_SPEC_DIR",
    "SPEC_DIR_ENV",
    "SPEC_GAPS",
    "SpecGap",
    "SpecValidator",
    "default_spec_dir",
    "spec_roots",
]

logger = logging.getLogger(__name__)

SPEC_DIR_ENV = "HYBRID_SEARCH_OPENSEARCH_SPEC_DIR"
PACKAGED_SPEC_DIR = Path(__file__).resolve().parent / "api_spec"

_YamlLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_JsonPath = tuple[str | int, ...]

# kind -> (namespace file, components.requestBodies key)
_REQUEST_BODIES: dict[str, tuple[str, str]] = {
    "create_index": ("indices.yaml", "indices.create"),
    "index_template": ("indices.yaml", "indices.put_index_template"),
    "script": ("_core.yaml", "put_script"),
    "search": ("_core.yaml", "search"),
    "search_pipeline": ("search_pipeline.yaml", "search_pipeline.put"),
}
# NDJSON bodies (bulk, msearch: lists of parsed lines) are checked line by line against these.
_LINE_SCHEMAS: dict[str, str] = {
    "bulk_action": "_core.bulk.yaml#/components/schemas/OperationContainer",
    "bulk_update": "_core.bulk.yaml#/components/schemas/UpdateAction",
    "msearch_header": "_core.msearch.yaml#/components/schemas/MultisearchHeader",
}
_KINDS = tuple(sorted([*_REQUEST_BODIES, "bulk", "msearch"]))


def spec_roots() -> list[str]:
    """Return the spec components the validator starts from, as ``file#/json/pointer``.

    The request bodies of ``kinds()``, the NDJSON line schemas and the strict-overlay targets;
    the packaged subset holds these and everything they reference (a test keeps it so).
    """
    roots = [
        f"namespaces/{file_name}#/components/requestBodies/{_escape(name)}"
        for file_name, name in _REQUEST_BODIES.values()
    ]
    roots += [f"schemas/{ref}" for ref in _LINE_SCHEMAS.values()]
    roots += [
        f"schemas/{file_name}{LOCAL}{_escape(name)}"
        for file_name, overlays in STRICT_OVERLAYS.items()
        for name in overlays
    ]
    return sorted(set(roots))


def default_spec_dir() -> Path:
    """Locate the OpenSearch API specification directory.

    Returns:
        ``$HYBRID_SEARCH_OPENSEARCH_SPEC_DIR`` when it is a directory (a full checkout of the
        spec's ``spec/`` folder), else the subset packaged with hybrid_search (a set but missing
        ``$HYBRID_SEARCH_OPENSEARCH_SPEC_DIR`` is logged as a warning).
    """
    env = os.environ.get(SPEC_DIR_ENV)
    if env:
        path = Path(env).expanduser()
        if path.is_dir():
            return path.resolve()
        logger.warning("%s=%s is not a directory; using the packaged subset", SPEC_DIR_ENV, env)
    return PACKAGED_SPEC_DIR


class SpecValidator:
    """Validates OpenSearch request bodies against the OpenSearch API specification.

    The constructor does no I/O: the directory is checked, and YAML files are loaded, on first use;
    files and one validator per kind are cached. An instance is safe to share between threads.

    Args:
        spec_dir: Root of the split specification (holds ``namespaces/`` and ``schemas/``).
    """

    def __init__(self, spec_dir: Path) -> None:
        self._spec_dir = Path(spec_dir)
        self._root: Path | None = None
        self._lock = threading.RLock()
        self._resources: dict[str, Resource[Any]] = {}
        self._validators: dict[str, Draft202012Validator] = {}
        self._registry: Registry[Any] = Registry(retrieve=self._retrieve)  # type: ignore[call-arg]

    @property
    def spec_dir(self) -> Path:
        """The specification directory this validator reads."""
        return self._spec_dir

    @staticmethod
    def kinds() -> tuple[str, ...]:
        """Return the sorted body kinds that ``validate`` accepts."""
        return _KINDS

    def validate(self, kind: str, body: Any) -> list[str]:
        """Validate one request body.

        Args:
            kind: One of ``kinds()``; ``bulk`` and ``msearch`` take the NDJSON lines as a list.
            body: The parsed JSON body.

        Returns:
            Messages ``"<JSON pointer in the body>: <what is wrong>"``; empty when valid.

        Raises:
            ValueError: ``kind`` is unknown.
            ConfigError: The spec directory, or a file it references, is missing or broken.
        """
        if kind not in _KINDS:
            msg = f"unknown OpenSearch body kind {kind!r}; expected one of {', '.join(_KINDS)}"
            raise ValueError(msg)
        started = time.perf_counter()
        messages = list(dict.fromkeys(self._collect(kind, body, ())))
        elapsed_ms = (time.perf_counter() - started) * 1000
        logger.debug("validated %s body in %.1f ms: %d error(s)", kind, elapsed_ms, len(messages))
        return messages

    def validate_or_raise(self, kind: str, body: Any) -> None:
        """Validate one request body and raise if it does not match the specification.

        Args:
            kind: One of ``kinds()``.
            body: The parsed JSON body.

        Raises:
            TemplateError: The body does not match; the message lists every error.
            ValueError: ``kind`` is unknown.
            ConfigError: The spec directory, or a file it references, is missing or broken.
        """
        messages = self.validate(kind, body)
        if messages:
            msg = (
                f"{kind} body does not match the OpenSearch API specification "
                f"({len(messages)} error(s)): " + "; ".join(messages)
            )
            raise TemplateError(msg)

    def _collect(self, kind: str, body: Any, prefix: _JsonPath) -> list[str]:
        if kind == "msearch":
            return self._collect_msearch(body, prefix)
        if kind == "bulk":
            return self._collect_bulk(body, prefix)
        try:
            errors = list(self._validator(kind).iter_errors(body))
        except Unresolvable as exc:
            msg = f"unresolvable reference in the OpenSearch API spec at {self._spec_dir}: {exc}"
            raise ConfigError(msg) from exc
        messages: list[str] = []
        for error in errors:
            gap = next((gap for gap in SPEC_GAPS if gap.matches(kind, error)), None)
            if gap is not None:
                where = (*prefix, *error.absolute_path)
                logger.debug("tolerated spec gap %s at %s", gap.name, _pointer(where))
                if gap.revalidate_as is not None:
                    messages.extend(self._collect(gap.revalidate_as, error.instance, where))
            elif not _tolerated(kind, error):
                messages.append(_format(error, prefix))
        return messages

    def _collect_msearch(self, body: Any, prefix: _JsonPath) -> list[str]:
        if not isinstance(body, list):
            return [f"{_pointer(prefix)}: msearch body must be a list of header/body objects"]
        messages = []
        if len(body) % 2:
            messages.append(f"{_pointer(prefix)}: {len(body)} lines, expected header/body pairs")
        for index, item in enumerate(body):
            kind = "search" if index % 2 else "msearch_header"
            messages.extend(self._collect(kind, item, (*prefix, index)))
        return messages

    def _collect_bulk(self, body: Any, prefix: _JsonPath) -> list[str]:
        if not isinstance(body, list):
            return [f"{_pointer(prefix)}: bulk body must be a list of action/document objects"]
        messages, index = [], 0
        while index < len(body):
            action = body[index]
            messages.extend(self._collect("bulk_action", action, (*prefix, index)))
            operation = next(iter(action), None) if isinstance(action, dict) else None
            index += 1
            if operation not in ("index", "create", "update"):
                continue  # delete (or a broken action line) has no document line
            where = (*prefix, index)
            if index >= len(body):
                messages.append(f"{_pointer(where)}: missing the document line of {operation!r}")
            elif operation == "update":
                messages.extend(self._collect("bulk_update", body[index], where))
            elif not isinstance(body[index], dict):
                messages.append(f"{_pointer(where)}: the document must be a JSON object")
            index += 1
        return messages

    def _validator(self, kind: str) -> Draft202012Validator:
        with self._lock:
            if kind not in self._validators:
                self._validators[kind] = self._build(kind)
            return self._validators[kind]

    def _build(self, kind: str) -> Draft202012Validator:
        root = self._checked_root()
        if kind in _LINE_SCHEMAS:
            file_name, pointer = _LINE_SCHEMAS[kind].split("#", 1)
            ref = f"{(root / 'schemas' / file_name).as_uri()}#{pointer}"
        else:
            file_name, name = _REQUEST_BODIES[kind]
            uri = (root / "namespaces" / file_name).as_uri()
            bodies = self._retrieve(uri).contents.get("components", {}).get("requestBodies", {})
            content = (bodies.get(name) or {}).get("content") or {}
            if not content:
                msg = f"{root / 'namespaces' / file_name} has no requestBodies.{name} (kind {kind})"
                raise ConfigError(msg)
            media = next(iter(content))
            ref = f"{uri}#/components/requestBodies/{_escape(name)}/content/{_escape(media)}/schema"
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$ref": ref}
        return Draft202012Validator(schema, registry=self._registry)

    def _checked_root(self) -> Path:
        if self._root is None:
            if not (self._spec_dir / "namespaces" / "_core.yaml").is_file():
                msg = (
                    f"{self._spec_dir} is not an OpenSearch API specification directory "
                    f"(no namespaces/_core.yaml); set {SPEC_DIR_ENV} to the spec's root"
                )
                raise ConfigError(msg)
            self._root = self._spec_dir.resolve()
        return self._root

    def _retrieve(self, uri: str) -> Resource[Any]:
        with self._lock:  # jsonschema asks again on each validation, so this must stay cheap
            if uri not in self._resources:
                self._resources[uri] = DRAFT202012.create_resource(self._load(uri))
            return self._resources[uri]

    def _load(self, uri: str) -> Any:
        root = self._checked_root()
        path = Path(url2pathname(urlparse(uri).path))
        if urlparse(uri).scheme != "file" or not path.is_relative_to(root):
            msg = f"the OpenSearch API spec references {uri}, outside {root}"
            raise ConfigError(msg)
        started = time.perf_counter()
        try:
            document = yaml.load(path.read_text(encoding="utf-8"), Loader=_YamlLoader)
        except (OSError, yaml.YAMLError) as exc:
            msg = f"cannot read OpenSearch API spec file {path}: {exc}"
            raise ConfigError(msg) from exc
        _apply_overlays(path.name, document)
        logger.debug("loaded %s in %.0f ms", path, (time.perf_counter() - started) * 1000)
        return document


def _apply_overlays(file_name: str, document: Any) -> None:
    schemas = document.get("components", {}).get("schemas") if isinstance(document, dict) else None
    if not isinstance(schemas, dict):
        return
    _dispatch_discriminators(schemas)
    for name, overlay in STRICT_OVERLAYS.get(file_name, {}).items():
        if name not in schemas:
            logger.warning("strict overlay target %s is missing from %s", name, file_name)
            continue
        strict = _flatten(schemas, schemas[name])
        for prop, patch in overlay.get("properties", {}).items():
            strict["properties"][prop] = {**strict["properties"].get(prop, {}), **patch}
        strict["required"] = sorted({*strict["required"], *overlay.get("required", [])})
        strict["allOf"] = list(overlay.get("allOf", []))
        if overlay.get("closed"):
            strict["additionalProperties"] = False
        schemas[name] = strict


def _deref(schemas: dict[str, Any], schema: Any) -> Any:
    ref = schema.get("$ref") if isinstance(schema, dict) else None
    if isinstance(ref, str) and ref.startswith(LOCAL):
        return _deref(schemas, schemas.get(ref[len(LOCAL) :], {}))
    return schema


def _flatten(schemas: dict[str, Any], schema: Any) -> dict[str, Any]:
    """Merge an ``allOf`` of local object schemas into one schema.

    ``additionalProperties: false`` on the flat schema closes it like ``unevaluatedProperties``
    would, without 2020-12 reporting every valid key as unevaluated when one member fails.
    """
    schema = _deref(schemas, schema)
    flat: dict[str, Any] = {k: v for k, v in schema.items() if k not in ("allOf", "properties")}
    flat.update(type="object", properties={}, required=list(schema.get("required", [])))
    for member in schema.get("allOf", []):
        part = _flatten(schemas, member)
        flat["properties"].update(part["properties"])
        flat["required"] += part["required"]
    flat["properties"].update(schema.get("properties", {}))
    return flat


def _discriminator_values(schemas: dict[str, Any], schema: Any, prop: str) -> set[str] | None:
    """Values of ``prop`` a branch pins (enum/const, through allOf); None if it pins none."""
    schema = _deref(schemas, schema)
    if not isinstance(schema, dict) or "$ref" in schema:
        return None
    values: set[str] = set()
    declared = schema.get("properties", {}).get(prop)
    if isinstance(declared, dict):
        allowed = [declared["const"]] if "const" in declared else declared.get("enum")
        if not allowed or not all(isinstance(value, str) for value in allowed):
            return None
        values.update(allowed)
    for member in schema.get("allOf", []):
        member_values = _discriminator_values(schemas, member, prop)
        if member_values is None:
            return None
        values |= member_values
    return values


def _dispatch_discriminators(schemas: dict[str, Any]) -> None:
    """Replace ``oneOf`` + ``discriminator`` by if/then rules keyed on the discriminator value.

    Only when every branch pins disjoint values, which keeps the ``oneOf`` semantics; an instance
    without the property goes to the ``x-default`` branch, else to the original ``oneOf``.
    """
    for name, schema in schemas.items():
        if not isinstance(schema, dict) or not isinstance(schema.get("oneOf"), list):
            continue
        prop = (schema.get("discriminator") or {}).get("propertyName")
        if not isinstance(prop, str) or prop in schema.get("properties", {}):
            continue
        table: dict[str, Any] = {}
        for branch in schema["oneOf"]:
            values = _discriminator_values(schemas, branch, prop)
            if not values or table.keys() & values:
                break
            table.update(dict.fromkeys(values, branch))
        else:
            default = table.get(schema["discriminator"].get("x-default", ""))
            rules: list[dict[str, Any]] = [
                {"if": {"properties": {prop: {"const": value}}, "required": [prop]}, "then": branch}
                for value, branch in table.items()
            ]
            missing = default if default is not None else {"oneOf": schema["oneOf"]}
            rules.append({"if": {"not": {"required": [prop]}}, "then": missing})
            message = f"unknown {name} {prop}; expected one of {', '.join(sorted(table))}"
            schema.setdefault("properties", {})[prop] = {"enum": sorted(table), MESSAGE: message}
            schema["allOf"] = [*schema.get("allOf", []), *rules]
            del schema["oneOf"]


def _branches(error: ValidationError) -> list[list[ValidationError]]:
    grouped: dict[Any, list[ValidationError]] = {}
    for sub in error.context or ():
        grouped.setdefault(sub.relative_schema_path[0], []).append(sub)
    return list(grouped.values())


def _tolerated(kind: str, error: ValidationError) -> bool:
    """True for a oneOf/anyOf failure of which one branch fails only through tolerated gaps."""
    if error.validator not in ("oneOf", "anyOf"):
        return False
    return any(
        all(
            _tolerated(kind, sub)
            or any(gap.matches(kind, sub) and gap.revalidate_as is None for gap in SPEC_GAPS)
            for sub in subs
        )
        for subs in _branches(error)
    )


def _closest(error: ValidationError) -> ValidationError:
    """Descend a oneOf/anyOf failure into the branch that got deepest into the instance."""
    while error.validator in ("oneOf", "anyOf") and error.context:
        best = max(
            _branches(error),
            key=lambda subs: (max(len(sub.absolute_path) for sub in subs), -len(subs)),
        )
        error = max(best, key=lambda sub: len(sub.absolute_path))
    return error


_SHORT = reprlib.Repr()
_SHORT.maxstring, _SHORT.maxother, _SHORT.maxlevel = 60, 60, 3


def _format(error: ValidationError, prefix: _JsonPath) -> str:
    where = _pointer((*prefix, *error.absolute_path))
    custom = error.schema.get(MESSAGE) if isinstance(error.schema, dict) else None
    if custom:
        return f"{where}: {custom} (got {_SHORT.repr(error.instance)})"
    alternatives = ""
    if error.validator in ("oneOf", "anyOf") and error.context:
        if all(sub.validator == "required" and not sub.relative_path for sub in error.context):
            keys = sorted({str(key) for sub in error.context for key in sub.validator_value})
            expected = "exactly one of the keys" if len(keys) > 1 else "the key"
            return f"{where}: expected {expected} {', '.join(keys)}"
        alternatives = f" (closest of {len(error.validator_value)} alternatives at {where})"
        error = _closest(error)
        where = _pointer((*prefix, *error.absolute_path))
    message, full = error.message, repr(error.instance)
    if message.startswith(full):  # jsonschema leads with the whole instance: shorten it
        message = _SHORT.repr(error.instance) + message[len(full) :]
    return f"{where}: {message[:500]}{alternatives}"


def _pointer(path: _JsonPath) -> str:
    if not path:
        return "(root)"
    return "".join("/" + _escape(str(part)) for part in path)


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")
