"""The package's front door: every name in ``hybrid_search.__all__`` resolves, is the object
its module defines, and ``import hybrid_search`` alone loads none of them (like httpx's
``tests/test_exported_members.py``)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import hybrid_search


def test_all_exports_resolve_to_their_modules():
    exported = set(hybrid_search.__all__) - {"__version__"}
    assert exported == set(hybrid_search._LAZY)
    for name in sorted(exported):
        value = getattr(hybrid_search, name)
        module = sys.modules[hybrid_search._LAZY[name]]
        assert value is getattr(module, name), name
        assert name in getattr(module, "__all__", [name]), f"{name} not in its module's __all__"


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="Nope"):
        hybrid_search.Nope  # noqa: B018


def test_importing_the_package_loads_nothing_heavy():
    code = (
        "import sys, hybrid_search; "
        "heavy = [m for m in ('hybrid_search.searcher', 'hybrid_search.api.app', 'torch', "
        "'sentence_transformers', 'fastapi', 'numpy') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_reading_a_template_loads_no_embedding_code():
    """The ground floor does not import upward: templates.py (and the block layout it reads)
    load without the embedding package."""
    code = (
        "import sys; from hybrid_search.templates import load_template; load_template('products');"
        " load_template('products-behaviour');"
        " print(sorted(m for m in sys.modules if m.startswith('hybrid_search.embedding')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_request_schemas_import_no_ranking_code():
    code = (
        "import sys, hybrid_search.schemas;"
        " print(sorted(m for m in sys.modules if m.startswith('hybrid_search.ranking')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
