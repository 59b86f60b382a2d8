"""Settings from the environment, error messages, and the exported error tree."""

from __future__ import annotations

import pytest

import hybrid_search.errors as errors_module
from hybrid_search.backends import BACKENDS, create_backend
from hybrid_search.config import load_settings
from hybrid_search.errors import ConfigError


def test_env_nested(monkeypatch):
    monkeypatch.setenv("HYBRID_SEARCH_SEARCH__CANDIDATES", "300")
    monkeypatch.setenv("HYBRID_SEARCH_EMBEDDING__BACKEND", "torch")
    s = load_settings()
    assert s.search.candidates == 300 and s.embedding.backend == "torch"


def test_bad_env_names_the_variable(monkeypatch):
    monkeypatch.setenv("HYBRID_SEARCH_SEARCH__K", "0")
    with pytest.raises(ConfigError, match="HYBRID_SEARCH_SEARCH__K='0'"):
        load_settings()


def test_overrides_merge_sections():
    s = load_settings(search={"k": 5})
    assert s.search.k == 5 and s.search.candidates == 200


def test_weights_cannot_both_be_zero():
    with pytest.raises(ConfigError, match="LEXICAL_WEIGHT"):
        load_settings(search={"lexical_weight": 0.0, "vector_weight": 0.0})


def test_adaptive_weight_bounds_must_be_ordered():
    with pytest.raises(ConfigError) as caught:
        load_settings(search={"adaptive_min_vector_weight": 0.8, "adaptive_max_vector_weight": 0.2})
    assert "ADAPTIVE_MIN_VECTOR_WEIGHT = 0.8" in str(caught.value)
    assert "ADAPTIVE_MAX_VECTOR_WEIGHT = 0.2" in str(caught.value)
    load_settings(search={"adaptive_min_vector_weight": 0.5, "adaptive_max_vector_weight": 0.5})


def test_unknown_backend_lists_registry(template):
    with pytest.raises(ConfigError, match=str(sorted(BACKENDS)).replace("[", r"\[")):
        create_backend(load_settings(backend="elastic"), template)


def test_secret_masked():
    s = load_settings(opensearch={"password": "hunter2"})
    assert "hunter2" not in s.model_dump_json()


def test_error_tree_exports():
    exported = set(errors_module.__all__)
    defined = {
        name
        for name, obj in vars(errors_module).items()
        if isinstance(obj, type)
        and issubclass(obj, Exception)
        and obj.__module__ == errors_module.__name__
    }
    assert exported == defined
    for name in exported:
        assert issubclass(getattr(errors_module, name), errors_module.HybridSearchError)
