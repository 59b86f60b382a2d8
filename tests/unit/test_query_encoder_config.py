"""Settings of the query encoder: the ONNX variants allowed and the query token cap."""

from __future__ import annotations

import re

import pytest

from hybrid_search.config import load_settings
from hybrid_search.errors import ConfigError

ALLOWED = ("auto", "onnx", "onnx-int8", "onnx-w8", "torch")


def test_unknown_encoder_names_the_value_and_the_allowed_ones():
    with pytest.raises(ConfigError) as info:
        load_settings(embedding={"backend": "onnx-fp16"})
    msg = str(info.value)
    assert "HYBRID_SEARCH_EMBEDDING__BACKEND='onnx-fp16'" in msg
    for name in ALLOWED:
        assert f"'{name}'" in msg


def test_unknown_encoder_from_the_environment(monkeypatch):
    monkeypatch.setenv("HYBRID_SEARCH_EMBEDDING__BACKEND", "int4")
    with pytest.raises(ConfigError, match=re.escape("HYBRID_SEARCH_EMBEDDING__BACKEND='int4'")):
        load_settings()


@pytest.mark.parametrize("name", ALLOWED)
def test_every_documented_encoder_is_accepted(name):
    assert load_settings(embedding={"backend": name}).embedding.backend == name


def test_query_token_cap_default_and_bounds():
    assert load_settings().embedding.query_max_tokens == 64
    assert load_settings(embedding={"query_max_tokens": None}).embedding.query_max_tokens is None
    with pytest.raises(ConfigError, match="HYBRID_SEARCH_EMBEDDING__QUERY_MAX_TOKENS=2"):
        load_settings(embedding={"query_max_tokens": 2})
