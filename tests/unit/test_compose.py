"""docker-compose.yml and .dockerignore: the local stack starts in order and recovers.

The health check once was a CMD-SHELL string with an unquoted URL: ``sh`` ran curl in the
background at the ``&`` and the check always passed, so the sidecar bootstrapped before
OpenSearch listened, exited 3 and stayed down (issue 15, section 4).
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    return dict(compose["services"])


def _shell_words(command: str) -> list[str]:
    """The words and operators ``sh`` sees (``&``, ``||`` come out as their own tokens)."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    return list(lexer)


def _argv(test: Any) -> list[str]:
    """The command a compose health check runs, as the argument list the program gets."""
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    assert isinstance(test, list) and test, test
    kind, *rest = test
    if kind == "CMD":
        return [str(part) for part in rest]
    assert kind == "CMD-SHELL" and len(rest) == 1, test
    words = _shell_words(rest[0])
    assert "&" not in words, (
        f"`&` is a shell operator here: curl would run in the background: {test}"
    )
    return words


def test_the_opensearch_health_check_url_reaches_curl_whole(services):
    argv = _argv(services["opensearch"]["healthcheck"]["test"])
    urls = [arg for arg in argv if arg.startswith("http")]
    assert urls == ["http://localhost:9200/_cluster/health?wait_for_status=yellow&timeout=5s"]
    assert argv[0] == "curl" and "-fs" in argv


@pytest.mark.skipif(shutil.which("sh") is None, reason="no sh on this machine")
def test_every_shell_health_check_parses_in_sh(services):
    for name, service in services.items():
        test = (service.get("healthcheck") or {}).get("test")
        if isinstance(test, list) and test[0] == "CMD-SHELL":
            done = subprocess.run(["sh", "-n", "-c", test[1]], capture_output=True, check=False)
            assert done.returncode == 0, f"{name}: {done.stderr.decode()}"
            _argv(test)


def test_the_sidecar_waits_for_healthy_opensearch_and_restarts_on_failure(services):
    sidecar = services["sidecar"]
    assert sidecar["depends_on"]["opensearch"]["condition"] == "service_healthy"
    assert sidecar["restart"] == "on-failure"
    command = " ".join(sidecar["command"].split())
    words = _shell_words(shlex.split(command)[-1])
    boot = words[: words.index("&&")]
    assert boot[:3] == ["hybrid-search", "opensearch", "bootstrap"]
    wait = float(boot[boot.index("--wait") + 1])
    assert 0 < wait <= 600, "bootstrap waits for the cluster, with a bound"


def test_dockerignore_keeps_local_state_out_of_the_build_context():
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    entries = {line.strip().rstrip("/") for line in lines if line.strip() and line[0] != "#"}
    assert {".git", ".venv", ".opensearch-local", "hybrid-search-data"} <= entries
