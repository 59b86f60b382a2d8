"""The main job end to end: `hybrid-search serve --demo` in a subprocess, real MiniLM model."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

pytestmark = [pytest.mark.model, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, body: dict | None = None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_serve_demo_answers_searches(tmp_path):
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [
        sys.executable,
        "-m",
        "hybrid_search.cli",
        "--data-dir",
        str(tmp_path),
        "serve",
        "--demo",
    ]
    cmd += ["--port", str(port), "--no-access-log"]
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())
    try:
        deadline = time.monotonic() + 300
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"serve exited {proc.returncode}: {(tmp_path / 'serve.log').read_text()}"
                )
            try:
                if _get(f"{base}/readyz")[0] == 200:
                    break
            except (urllib.error.URLError, ConnectionError):
                pass
            if time.monotonic() > deadline:
                pytest.fail("serve --demo was not ready in 300 s")
            time.sleep(0.5)
        status, body = _get(f"{base}/v1/search", {"query": "black leather ankle boots", "k": 5})
        assert status == 200 and body["mode_used"] in ("hybrid", "lexical", "vector")
        assert "fallback_reason" in body and len(body["hits"]) == 5
        assert body["embedder"].startswith("sentence-transformers/all-MiniLM-L6-v2")
        assert any("boot" in h["source"]["title"].lower() for h in body["hits"])
        status, info = _get(f"{base}/v1/info")
        assert status == 200 and info["documents"] == 600
        with urllib.request.urlopen(f"{base}/", timeout=10) as r:
            assert "hybrid_search playground" in r.read().decode()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        log.close()
    assert code == 0, (tmp_path / "serve.log").read_text()
