"""``hybrid-search opensearch bootstrap --wait``: the cluster waited for, with a bound (issue 15,
section 4: the compose sidecar bootstrapped before OpenSearch listened, exited 3 and stayed down).
"""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest

from hybrid_search.backends.opensearch.bootstrap import Bootstrapper
from hybrid_search.config import load_settings
from hybrid_search.errors import BackendUnavailableError
from tests.conftest import HashEmbedder
from tests.opensearch.stubs import StubClient


def _settings(**opensearch: Any):
    return load_settings(backend="opensearch", opensearch=opensearch)


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_wait_for_cluster_rides_out_unreachable_and_red(template):
    answers = iter(
        [
            BackendUnavailableError("connection refused"),
            {"status": "red", "timed_out": True},
            {"status": "yellow", "timed_out": False, "cluster_name": "c"},
        ]
    )
    client = StubClient({("GET", "/_cluster/health"): lambda _r: next(answers)})
    clock = _Clock()
    boot = Bootstrapper(client, template, _settings(), sleep=clock.sleep, clock=clock)
    boot.wait_for_cluster(60)
    assert len(client.sent) == 3 and len(clock.sleeps) == 2
    assert client.sent[0].params == {"wait_for_status": "yellow", "timeout": "5s"}


def test_wait_for_cluster_gives_up_after_its_bound(template):
    client = StubClient({("GET", "/_cluster/health"): BackendUnavailableError("refused")})
    clock = _Clock()
    boot = Bootstrapper(client, template, _settings(), sleep=clock.sleep, clock=clock)
    with pytest.raises(BackendUnavailableError, match=r"not ready .* within 120 s.*refused"):
        boot.wait_for_cluster(120)
    assert clock.now <= 120 and len(client.sent) <= 121


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_cli_bootstrap_wait_exits_3_with_the_reason(monkeypatch, capsys):
    import hybrid_search.embedding as embedding
    from hybrid_search.cli import main

    monkeypatch.setattr(embedding, "create_embedder", lambda _cfg: HashEmbedder())
    monkeypatch.setenv("HYBRID_SEARCH_OPENSEARCH__MAX_RETRIES", "0")
    url = f"http://127.0.0.1:{_closed_port()}"
    started = time.monotonic()
    assert main(["opensearch", "bootstrap", "--url", url, "--wait", "1.5"]) == 3
    assert time.monotonic() - started < 10
    err = capsys.readouterr().err
    assert "not ready (health yellow) within 1.5 s" in err and "--wait" in err
