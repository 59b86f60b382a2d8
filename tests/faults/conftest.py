"""An osmem-server for the backend fault tests (``tests.conftest.running_osmem``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import running_osmem


@pytest.fixture(scope="module")
def osmem_url() -> Iterator[str]:
    """The URL of a running osmem-server (one per module), or a skip saying how to get one."""
    with running_osmem() as server:
        yield server.url
