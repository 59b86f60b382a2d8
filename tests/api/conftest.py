"""The API tests: an app over a fresh embedded index of the tiny corpus (``make_client`` in
tests/conftest.py), and the error-contract check."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient


def api_error(response: Any, status: int, type_: str) -> dict[str, Any]:
    """Check the API's one error contract (status, ``{"error": {type, message, detail}}``) and
    return the error object."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"type", "message", "detail"}
    assert body["error"]["type"] == type_
    error: dict[str, Any] = body["error"]
    return error


@pytest.fixture
def client(make_client) -> TestClient:
    return make_client()
