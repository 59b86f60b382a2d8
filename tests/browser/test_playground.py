"""The playground page driven in headless Debian Chromium through Playwright.

The app runs under uvicorn on a free loopback port (a thread); the page talks to it over HTTP
exactly as a storefront developer's browser would. No browser is downloaded: Playwright drives
the system ``chromium`` (``apt-get install -y chromium``; ``.ci/run`` installs it).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from hybrid_search.api import create_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOT_DIR_ENV = "HYBRID_SEARCH_SCREENSHOT_DIR"


@pytest.fixture
def server_url(make_searcher, corpus) -> Iterator[str]:
    searcher = make_searcher(corpus)
    app = create_app(searcher.settings, searcher=searcher)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", ws="none", lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}/"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


def _ids(page) -> list[str]:
    return page.locator("#results li.card").evaluate_all("els => els.map(e => e.dataset.id)")


def test_playground_query_slider_reorders_and_fallback_badge(server_url, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip(
            f"Debian chromium not at {CHROMIUM}: apt-get install -y chromium (.ci/run does)"
        )
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(server_url)
            expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=10_000)
            expect(page.locator("#status")).to_contain_text("40 documents")

            page.locator("#q").press_sequentially("black calfskin tote")
            page.locator("#q").press("Enter")
            expect(page.locator("#results li.card")).to_have_count(10, timeout=10_000)
            expect(page.locator("#summary .badge.mode")).to_have_text("mode: hybrid")
            before = _ids(page)
            assert before[0] == "T-BAG-000"
            first = page.locator("#results li.card").first
            for component in ("lexical", "vector", "fused", "relevance", "margin", "popularity"):
                expect(first.locator(f'.bar[data-component="{component}"]')).to_have_count(1)

            # The margin coefficient b to the top of its slider: high-margin bags move up.
            slider = page.locator("#slider-commercial-margin_weight")
            slider.focus()
            page.keyboard.press("End")
            expect(page.locator('output[for="slider-commercial-margin_weight"]')).to_have_text(
                "1.00"
            )
            page.wait_for_function(
                "before => JSON.stringify([...document.querySelectorAll('#results li.card')]"
                ".map(e => e.dataset.id)) !== JSON.stringify(before)",
                arg=before,
                timeout=10_000,
            )
            after = _ids(page)
            assert after != before
            assert after[0] == "T-BAG-008"

            # The confidence gate to 1.0: the vector leg is never trusted, the answer is lexical.
            gate = page.locator("#slider-min_vector_cosine")
            gate.focus()
            page.keyboard.press("End")
            expect(page.locator("#summary .badge.fallback")).to_be_visible(timeout=10_000)
            expect(page.locator("#fallback-reason")).to_contain_text("low vector confidence")
            expect(page.locator("#summary .badge.mode")).to_have_text("mode: lexical")

            shot = tmp_path / "playground.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 20_000
            target = os.environ.get(SHOT_DIR_ENV)
            if target:
                shutil.copy(shot, Path(target) / "playground-test.png")
            assert errors == []
        finally:
            browser.close()


def _browser(pw):
    return pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def _need_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.skip(
            f"Debian chromium not at {CHROMIUM}: apt-get install -y chromium (.ci/run does)"
        )


def test_docs_page_renders_the_openapi_routes_offline(server_url):
    """/docs reads FastAPI's OpenAPI 3.1 and lists the routes, with no request leaving the host."""
    _need_chromium()
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = _browser(pw)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            outside: list[str] = []
            page.on(
                "request",
                lambda req: None if req.url.startswith(server_url) else outside.append(req.url),
            )
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(server_url + "docs")
            expect(page.locator(".opblock-summary-path", has_text="/v1/search")).to_be_visible(
                timeout=15_000
            )
            for route in ("/v1/documents", "/v1/info", "/healthz"):
                expect(page.locator(".opblock-summary-path", has_text=route).first).to_be_visible()
            expect(page.locator("body")).not_to_contain_text("Unable to render")
            assert outside == [] and errors == []
        finally:
            browser.close()
