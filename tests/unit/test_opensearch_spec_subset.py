"""The packaged OpenSearch API spec subset holds everything the validator's request bodies reach.

``spec_roots()`` is derived from the code (the request bodies of each body kind, the NDJSON line
schemas, the strict-overlay targets), so a new body kind, line schema or overlay whose components
are not in the subset fails here until ``scripts/extract_opensearch_spec.py`` is rerun.
"""

from __future__ import annotations

import importlib.util
import posixpath
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from hybrid_search.backends.opensearch.spec import PACKAGED_SPEC_DIR, SpecValidator, spec_roots
from hybrid_search.backends.opensearch.spec_rules import STRICT_OVERLAYS

REPO_ROOT = Path(__file__).resolve().parents[2]
_Component = tuple[str, str, str]


_CACHE: dict[tuple[Path, str], Any] = {}


def _load(root: Path, rel: str) -> Any:
    if (root, rel) not in _CACHE:
        path = root / rel
        _CACHE[root, rel] = yaml.safe_load(path.read_text("utf-8")) if path.is_file() else None
    return _CACHE[root, rel]


def _component(rel: str, pointer: str) -> _Component:
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]
    assert len(parts) >= 3 and parts[0] == "components", f"{rel}#{pointer}"
    return rel, parts[1], parts[2]


def _lookup(root: Path, component: _Component) -> Any:
    rel, section, name = component
    document = _load(root, rel)
    return ((document or {}).get("components") or {}).get(section, {}).get(name)


def _refs(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "$ref" and isinstance(item, str):
                yield item
            elif key == "discriminator" and isinstance(item, dict):
                yield from (item.get("mapping") or {}).values()
            else:
                yield from _refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _refs(item)


def _reachable(root: Path = PACKAGED_SPEC_DIR) -> tuple[set[_Component], list[str]]:
    """Components reachable from the roots, and the references that do not resolve."""
    todo = [_component(*root.split("#", 1)) for root in spec_roots()]
    todo += [
        _component(f"schemas/{file_name}", ref.split("#", 1)[1])
        for file_name, overlays in STRICT_OVERLAYS.items()
        for ref in _refs(overlays)
    ]
    seen: set[_Component] = set()
    missing: list[str] = []
    while todo:
        component = todo.pop()
        if component in seen:
            continue
        seen.add(component)
        schema = _lookup(root, component)
        if schema is None:
            missing.append("{}#/components/{}/{}".format(*component))
            continue
        rel = component[0]
        for ref in _refs(schema):
            target, _, pointer = ref.partition("#")
            if target:
                target = posixpath.normpath(posixpath.join(posixpath.dirname(rel), target))
            todo.append(_component(target or rel, pointer))
    return seen, sorted(missing)


def _present() -> set[_Component]:
    found = set()
    for path in PACKAGED_SPEC_DIR.rglob("*.yaml"):
        rel = path.relative_to(PACKAGED_SPEC_DIR).as_posix()
        for section, items in (_load(PACKAGED_SPEC_DIR, rel).get("components") or {}).items():
            found.update((rel, section, name) for name in items)
    return found


def test_every_root_is_in_the_subset():
    missing = [
        root
        for root in spec_roots()
        if _lookup(PACKAGED_SPEC_DIR, _component(*root.split("#", 1))) is None
    ]
    assert missing == [], "rerun scripts/extract_opensearch_spec.py: missing roots"


def test_subset_is_closed_and_holds_nothing_else():
    reachable, missing = _reachable()
    assert missing == [], "unresolvable references: rerun scripts/extract_opensearch_spec.py"
    assert _present() - reachable == set(), "components no root reaches"


def test_every_body_kind_validates_on_the_subset():
    validator = SpecValidator(PACKAGED_SPEC_DIR)
    for kind in SpecValidator.kinds():
        empty: Any = [] if kind in ("bulk", "msearch") else {}
        validator.validate(kind, empty)  # builds the kind's validator: its root resolves


def test_extraction_script_reproduces_the_subset(capsys):
    """Extracting from the subset itself gives the subset back: it is exactly the closure of the
    roots, and its README and NOTICE are the script's."""
    path = REPO_ROOT / "scripts" / "extract_opensearch_spec.py"
    spec = importlib.util.spec_from_file_location("extract_opensearch_spec", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    argv = ["--spec-dir", str(PACKAGED_SPEC_DIR), "--out", str(PACKAGED_SPEC_DIR), "--check"]
    assert module.main(argv) == 0, capsys.readouterr().out


@pytest.mark.parametrize("name", ["LICENSE.txt", "NOTICE.txt", "COMMIT.txt", "README.md"])
def test_subset_carries_its_licence_and_provenance(name):
    text = (PACKAGED_SPEC_DIR / name).read_text("utf-8")
    if name == "LICENSE.txt":
        assert "Apache License" in text and "Version 2.0" in text
    elif name == "COMMIT.txt":
        assert re.fullmatch(r"[0-9a-f]{40}\b.*\n?", text)
    else:
        assert "opensearch-api-specification" in text
        assert "scripts/extract_opensearch_spec.py" in text


def test_a_body_kind_outside_the_subset_is_caught(monkeypatch):
    from hybrid_search.backends.opensearch import spec as spec_module

    bodies = {**spec_module._REQUEST_BODIES, "aliases": ("indices.yaml", "indices.update_aliases")}
    monkeypatch.setattr(spec_module, "_REQUEST_BODIES", bodies)
    with pytest.raises(AssertionError, match="missing roots"):
        test_every_root_is_in_the_subset()


def test_a_component_missing_from_the_subset_is_caught(tmp_path):
    copy = tmp_path / "api_spec"
    shutil.copytree(PACKAGED_SPEC_DIR, copy)
    path = copy / "schemas" / "_common.query_dsl.yaml"
    document = yaml.safe_load(path.read_text("utf-8"))
    del document["components"]["schemas"]["MatchQuery"]  # a multi_match/match leg's schema
    path.write_text(yaml.safe_dump(document), "utf-8")
    _, missing = _reachable(copy)
    assert missing == ["schemas/_common.query_dsl.yaml#/components/schemas/MatchQuery"]
