"""Probes, /v1/info, OpenAPI, the playground's static files, and the `serve` command."""

from __future__ import annotations

import re
import time
from pathlib import Path

from fastapi.testclient import TestClient

import hybrid_search.api
from hybrid_search import cli
from hybrid_search.api import create_app
from hybrid_search.errors import EmbedderError


def _ready(client, timeout_s: float = 10.0):
    deadline = time.monotonic() + timeout_s
    while True:
        r = client.get("/readyz")
        if r.status_code == 200 or time.monotonic() > deadline:
            return r
        time.sleep(0.02)


def test_healthz_and_readyz(client):
    h = client.get("/healthz")
    assert h.status_code == 200
    assert h.json()["status"] == "ok" and h.json()["backend"]["documents"] == 40
    r = _ready(client)
    assert r.status_code == 200, r.text
    assert r.json()["checks"]["model"] == "test/hash-embedder (test)"
    assert r.json()["checks"]["index"]["documents"] == 40


def test_readyz_503_without_an_index(make_client):
    client = make_client(docs=None)
    assert client.get("/healthz").status_code == 200  # alive, just not ready
    r = _ready(client, timeout_s=0.5)
    assert r.status_code == 503
    err = r.json()["error"]
    assert err["type"] == "not_ready" and "no index in" in err["message"]
    assert err["detail"]["model"] == "test/hash-embedder (test)"


def test_readyz_503_when_the_model_fails_to_load(make_searcher, corpus):
    searcher = make_searcher(corpus)

    def broken():
        raise EmbedderError("no such model: test/missing")

    searcher._embedder_factory = broken
    with TestClient(create_app(searcher.settings, searcher=searcher)) as client:
        r = _ready(client, timeout_s=0.5)
        assert r.status_code == 503
        assert "no such model" in r.json()["error"]["message"]
        # Searches still answer, lexically, and say why.
        body = client.post("/v1/search", json={"query": "tote"}).json()
        assert body["mode_used"] == "lexical" and body["degraded"] == ["vector"]


def test_info_gives_filters_defaults_limits_and_bounds(client):
    info = client.get("/v1/info").json()
    assert info["documents"] == 40 and info["id_field"] == "sku"
    assert {"field": "in_stock", "kind": "boolean"} in info["filters"]
    assert info["defaults"]["lexical_weight"] == 0.7
    assert info["defaults"]["commercial"]["margin_weight"] == 0.1
    assert info["limits"]["max_k"] == 100 and info["limits"]["max_body_bytes"] == 2_000_000
    assert info["bounds"]["lexical_weight"] == [0.0, 1.0]
    assert info["bounds"]["commercial.popularity_weight"] == [-10.0, 10.0]


def test_openapi_documents_the_error_contract(client):
    spec = client.get("/openapi.json").json()
    assert {"/v1/search", "/v1/documents", "/v1/documents/{doc_id}", "/v1/similar/{doc_id}"} <= set(
        spec["paths"]
    )
    search = spec["paths"]["/v1/search"]["post"]["responses"]
    assert "422" not in search and "400" in search
    assert search["400"]["content"]["application/json"]["schema"]["$ref"].endswith("ErrorResponse")
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    # Offline: every asset the page loads comes from the sidecar itself, none from a CDN.
    assets = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
    assert assets and not [a for a in assets if a.startswith(("http:", "https:", "//"))]
    for asset in assets:
        assert client.get(f"/{asset}").status_code == 200, asset
    assert "url: 'openapi.json'" in docs.text  # relative: works behind a path prefix too


def test_playground_is_served_and_uses_the_public_api(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert 'src="static/app.js"' in page.text
    js = client.get("/static/app.js")
    assert js.status_code == 200
    assert '"v1/search"' in js.text and '"v1/info"' in js.text and "v1/similar/" in js.text
    assert client.get("/static/style.css").status_code == 200
    assert client.get("/static/missing.js").status_code == 404


def test_static_files_ship_inside_the_package():
    static = Path(hybrid_search.api.__file__).parent / "static"
    assert {"index.html", "app.js", "style.css"} <= {p.name for p in static.iterdir()}


# ---------------------------------------------------------------------------- serve command
def test_serve_passes_host_port_and_settings(monkeypatch, tmp_path):
    seen = {}

    def fake_run(app, **kwargs):
        seen.update(kwargs, app=app)

    monkeypatch.setattr("uvicorn.run", fake_run)
    monkeypatch.setenv("HYBRID_SEARCH_API__PORT", "8123")
    code = cli.main(
        ["--data-dir", str(tmp_path), "serve", "--host", "127.0.0.2", "--no-access-log"]
    )
    assert code == 0
    assert seen["host"] == "127.0.0.2" and seen["port"] == 8123 and seen["access_log"] is False
    settings = seen["app"].state.settings
    assert settings.embedded.data_dir == tmp_path


def test_serve_template_flag_selects_the_template(monkeypatch, tmp_path, capsys):
    seen = {}
    monkeypatch.setattr("uvicorn.run", lambda app, **kw: seen.update(app=app))
    args = ["--data-dir", str(tmp_path), "serve", "--template", "products-behaviour"]
    assert cli.main(args) == 0
    assert seen["app"].state.searcher.template.name == "products-behaviour"
    assert seen["app"].state.searcher.template.blocks is not None
    assert cli.main(["--data-dir", str(tmp_path), "serve", "--template", "nope"]) == 2
    assert "nope.json" in capsys.readouterr().err


def test_serve_rejects_a_bad_port(tmp_path, capsys):
    assert cli.main(["--data-dir", str(tmp_path), "serve", "--port", "70000"]) == 2
    assert "--port 70000 is out of range" in capsys.readouterr().err


def test_serve_reports_a_port_it_cannot_bind(monkeypatch, tmp_path, capsys):
    def fake_run(app, **kwargs):
        raise SystemExit(1)

    monkeypatch.setattr("uvicorn.run", fake_run)
    assert cli.main(["--data-dir", str(tmp_path), "serve", "--port", "8000"]) == 2
    assert "could not serve on 127.0.0.1:8000" in capsys.readouterr().err
