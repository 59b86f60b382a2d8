"""An app over a fresh embedded index of the tiny corpus (hash embedder), observability on."""

from __future__ import annotations

import functools
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient


@pytest.fixture
def make_client(make_client: Callable[..., TestClient]) -> Callable[..., TestClient]:
    """tests/conftest.py's ``make_client`` without the background model warm-up."""
    return functools.partial(make_client, warm_up=False)
