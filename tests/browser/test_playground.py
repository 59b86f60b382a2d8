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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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
def make_server(make_searcher, corpus) -> Iterator[Callable[..., str]]:
    """``make_server(**settings_overrides)`` -> the base URL of the app under uvicorn."""
    started: list[tuple[uvicorn.Server, threading.Thread, socket.socket]] = []

    def factory(**overrides: Any) -> str:
        searcher = make_searcher(corpus, **overrides)
        app = create_app(searcher.settings, searcher=searcher)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            app, log_level="warning", ws="none", lifespan="on", access_log=False
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        started.append((server, thread, sock))
        deadline = time.monotonic() + 20
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                pytest.fail("uvicorn did not start")
            time.sleep(0.02)
        return f"http://127.0.0.1:{port}/"

    yield factory
    for server, thread, sock in started:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def server_url(make_server) -> str:
    return make_server()


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
            # The key schemes are declared: Swagger UI offers its Authorize button.
            expect(page.locator("button.authorize")).to_be_visible()
            assert outside == [] and errors == []
        finally:
            browser.close()


def test_playground_with_a_read_key_points_at_its_key_box(make_server):
    """A sidecar whose reads need a key: the page says so and opens the key box; with the key
    typed in, it loads and searches."""
    _need_chromium()
    from playwright.sync_api import expect, sync_playwright

    url = make_server(api={"api_key": "pg-key", "read_requires_key": True})
    with sync_playwright() as pw:
        browser = _browser(pw)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(url)
            needs = "this sidecar needs an API key: enter it in the key box"
            expect(page.locator("#status")).to_have_text(needs, timeout=10_000)
            expect(page.locator("#error")).to_contain_text(needs)
            expect(page.locator("body")).not_to_contain_text("API unavailable")
            expect(page.locator("#key-box")).to_have_attribute("open", "")
            expect(page.locator("#api-key")).to_be_focused()

            page.locator("#api-key").fill("wrong")
            page.locator("#api-key").press("Enter")
            expect(page.locator("#status")).to_contain_text("the key entered is wrong")

            page.locator("#api-key").fill("pg-key")
            page.locator("#api-key").press("Enter")
            expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=10_000)
            expect(page.locator("#status")).to_contain_text("40 documents")
            expect(page.locator("#error")).to_be_hidden()
            page.locator("#q").fill("black calfskin tote")
            page.locator("#q").press("Enter")
            expect(page.locator("#results li.card")).to_have_count(10, timeout=10_000)
            assert errors == []
        finally:
            browser.close()


def _ready_page(browser, url: str, width: int, height: int):
    page = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    from playwright.sync_api import expect

    expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=10_000)
    return page, errors


def _shot(page, name: str) -> None:
    target = os.environ.get(SHOT_DIR_ENV)
    if target:
        page.screenshot(path=str(Path(target) / name), full_page=True)


def test_cards_show_colour_and_material_and_filters_are_chips(server_url):
    """Cards name colour and material; keyword filters offer the catalogue's values; active
    filters show as chips that remove themselves."""
    _need_chromium()
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = _browser(pw)
        try:
            page, errors = _ready_page(browser, server_url, 1280, 900)
            options = page.locator("#values-brand option")
            expect(options).to_have_count(4)
            assert "Maison Aurelle" in options.evaluate_all("os => os.map(o => o.value)")
            assert page.locator('[data-filter="brand"]').get_attribute("list") == "values-brand"

            page.locator("#q").fill("black calfskin tote")
            page.locator("#q").press("Enter")
            expect(page.locator("#results li.card")).to_have_count(10, timeout=10_000)
            meta = page.locator('#results li.card[data-id="T-BAG-000"] .meta')
            expect(meta).to_contain_text("black/gold")
            expect(meta).to_contain_text("calfskin")
            expect(page.locator("#summary .chip")).to_have_count(0)

            brand = page.locator('[data-filter="brand"]')
            brand.fill("Vantier")
            brand.dispatch_event("change")
            chip = page.locator('#summary .chip[data-chip="brand"]')
            expect(chip.locator(".chip-label")).to_have_text("brand: Vantier", timeout=10_000)
            page.locator('[data-filter="in_stock"]').select_option("true")
            expect(page.locator('#summary .chip[data-chip="in_stock"] .chip-label')).to_have_text(
                "in_stock: true", timeout=10_000
            )
            cards = page.locator("#results li.card .meta")
            for text in cards.all_text_contents():
                assert "Vantier" in text and "out of stock" not in text
            _shot(page, "playground-chips.png")

            chip.click()
            expect(page.locator('#summary .chip[data-chip="brand"]')).to_have_count(
                0, timeout=10_000
            )
            expect(brand).to_have_value("")
            expect(page.locator("#summary .chip")).to_have_count(1)
            assert errors == []
        finally:
            browser.close()


def test_phone_width_results_start_within_the_first_screen(server_url):
    """At 390x844 the tuning controls fold behind a summary, so results start on screen."""
    _need_chromium()
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = _browser(pw)
        try:
            page, errors = _ready_page(browser, server_url, 390, 844)
            expect(page.locator("#tuning")).not_to_have_attribute("open", "")
            page.locator("#q").fill("black calfskin tote")
            page.locator("#q").press("Enter")
            expect(page.locator("#results li.card")).to_have_count(10, timeout=10_000)
            box = page.locator("#results li.card").first.bounding_box()
            assert box is not None and box["y"] < 844, box
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"the page scrolls sideways: {width} px wide"
            _shot(page, "playground-phone.png")

            page.locator("#tuning > summary").click()
            expect(page.locator("#mode")).to_be_visible()
            expect(page.locator('[data-filter="brand"]')).to_be_visible()
            page.locator("#tuning > summary").click()
            expect(page.locator("#mode")).to_be_hidden()
            # A wide window again: the controls are shown without asking.
            page.set_viewport_size({"width": 1280, "height": 900})
            expect(page.locator("#mode")).to_be_visible()
            expect(page.locator("#tuning > summary")).to_be_hidden()
            assert errors == []
        finally:
            browser.close()
