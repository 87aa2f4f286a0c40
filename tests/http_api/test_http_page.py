"""The models page in a real headless browser (Debian's chromium driven by Playwright): it
lists every model, and trying one shows the answer, its confidence and the latency."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import RunningServer
    from playwright.sync_api import Browser, Page

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Set to a path (e.g. docs/models-page.png) to keep a screenshot of the page with an answer.
SCREENSHOT = os.environ.get("SEQSERVE_PAGE_SCREENSHOT")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: apt-get install chromium (make install-browser)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, server: RunningServer) -> Iterator[Page]:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(server.http_url + "/")
    page.wait_for_selector("#models tbody tr")
    yield page
    page.close()


def try_model(page: Page, name: str, text: str) -> str:
    page.click(f'#models tr[data-model="{name}"] button')
    page.fill("#input", text)
    page.click("#run")
    page.wait_for_function("document.getElementById('latency').textContent.endsWith('ms')")
    assert page.text_content("#try-error") == ""
    return page.text_content("#answer") or ""


def test_page_lists_every_model(page: Page, exported: dict) -> None:  # type: ignore[type-arg]
    rows = page.locator("#models tbody tr")
    assert rows.count() == len(exported) == 8
    names = [rows.nth(i).get_attribute("data-model") for i in range(rows.count())]
    assert sorted(names) == sorted(exported)
    addition = page.locator('#models tr[data-model="addition"]').inner_text()
    assert "fixed_seq2seq" in addition and "ready" in addition and "e.g. 3+10" in addition
    assert "stateful_step" in page.locator('#models tr[data-model="recall"]').inner_text()


def test_trying_addition_shows_13(page: Page) -> None:
    assert try_model(page, "addition", "3+10") == "13"
    confidence = float(page.text_content("#confidence") or "0")
    assert 0.5 < confidence <= 1.0
    if SCREENSHOT:
        page.screenshot(path=SCREENSHOT, full_page=True)


def test_seq2seq_answers_from_the_stream(page: Page) -> None:
    assert try_model(page, "reverse", "10 20 30 40 50 1") == "30 20 10"


def test_bad_input_shows_the_server_message(page: Page) -> None:
    page.click('#models tr[data-model="addition"] button')
    page.fill("#input", "3+")
    page.click("#run")
    page.wait_for_function("document.getElementById('try-error').textContent !== ''")
    assert "3+" in (page.text_content("#try-error") or "")


def test_with_tokens_on_the_page_uses_its_token_field(
    browser: Browser, models_dir: Path, launch_server: Callable[..., RunningServer]
) -> None:
    server = launch_server(models_dir, "--auth-tokens", "page-token-0123456789")
    page = browser.new_page()
    try:
        page.goto(server.http_url + "/")
        page.wait_for_function("document.getElementById('status').textContent.includes('bearer')")
        page.fill("#token", "page-token-0123456789")
        page.click("#reload")
        page.wait_for_selector("#models tbody tr")
        assert page.locator("#models tbody tr").count() == 8
        assert try_model(page, "addition", "3+10") == "13"
    finally:
        page.close()
