"""An osmem-server for the backend fault tests (as in ``tests/opensearch/conftest.py``).

The server's stdout pipe is closed at teardown: osmem's own pytest plugin leaves it open, which
``filterwarnings = error`` turns into a failure.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="module")
def osmem_url() -> Iterator[str]:
    """The URL of a running osmem-server (one per module), or a skip saying how to get one."""
    try:
        from osmem_server import OsmemError, OsmemServer
    except ImportError:
        pytest.skip('osmem-server is not installed: pip install -e ".[dev]"')
    try:
        server = OsmemServer.start(freeze=False, japanese=False, addr="127.0.0.1:0")
    except OsmemError as exc:
        pytest.skip(f"osmem-server did not start: {exc}")
    yield server.url
    server.close()
    if server.process.stdout is not None:
        server.process.stdout.close()
