"""The chat page on a service with API keys, in a real browser (Debian's headless Chromium) against
a real server on 127.0.0.1: the page asks for a key when the API answers 401 or 403, keeps it in
the browser, sends it as ``Authorization: Bearer`` and can forget it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, Request, expect

from tests.service.security.conftest import KEYS, QUESTION, KeyedServer, keyed_server
from tests.web.conftest import WATCH_CSP, open_page
from tests.web.test_chat_page import ask, wait_answered

__all__ = ["keyed_server"]  # the keyed server of tests/service/security, shared

STORAGE = "abstractqa.apiKey.v1"
# Chromium reports every refused fetch on the console; the refusals are this test's subject.
REFUSED_FETCH = re.compile(r"Failed to load resource: the server responded with a status of 40[13]")


@pytest.fixture
def keyed_page(context: BrowserContext, tmp_path: Path) -> Iterator[Page]:
    """A page that fails its test on a script error, a CSP violation or a console error other
    than a refused request, and leaves a screenshot of its last state (final.png)."""
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.on(
        "console",
        lambda msg: (
            errors.append(f"console error: {msg.text}")
            if msg.type == "error" and not REFUSED_FETCH.search(msg.text)
            else None
        ),
    )
    page.add_init_script(WATCH_CSP)
    yield page
    page.screenshot(path=tmp_path / "final.png")
    violations = page.evaluate("window.__cspViolations || []")
    assert not violations, f"CSP violations: {violations}"
    assert not errors, "\n".join(errors)


def authorizations(page: Page) -> list[str | None]:
    """The Authorization header of each POST /v1/ask the page sends, from now on."""
    seen: list[str | None] = []

    def record(request: Request) -> None:
        if request.url.endswith("/v1/ask") and request.method == "POST":
            seen.append(request.headers.get("authorization"))

    page.on("request", record)
    return seen


def enter_key(page: Page, key: str) -> None:
    dialog = page.locator("#key-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#key-input")).to_be_focused()
    page.fill("#key-input", key)
    page.click("#key-save")


def test_the_page_asks_for_the_key_keeps_it_and_sends_it_after_a_reload(
    keyed_page: Page, keyed_server: KeyedServer
) -> None:
    page = open_page(keyed_page, keyed_server.url)
    expect(page.locator("#key-button")).to_be_hidden()
    sent = authorizations(page)

    ask(page, QUESTION)
    expect(page.locator("#key-reason")).to_have_text(re.compile("needs an API key"))
    enter_key(page, "not-a-key")
    expect(page.locator("#key-reason")).to_have_text(re.compile("did not accept the API key"))
    enter_key(page, KEYS[0])
    expect(page.locator("#key-dialog")).to_be_hidden()

    answer = wait_answered(page)
    expect(answer.locator(".note.bad")).to_have_count(0)
    expect(answer.locator(".chip").first).to_be_visible()
    assert sent == [None, "Bearer not-a-key", f"Bearer {KEYS[0]}"]
    assert page.evaluate(f"localStorage.getItem('{STORAGE}')") == KEYS[0]
    expect(page.locator("#key-button")).to_be_visible()

    # A reload keeps the key: the next question is answered without a prompt.
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    sent.clear()
    ask(page, "What do the papers say about continual learning?")
    answer = wait_answered(page)
    expect(answer.locator(".answer-text")).not_to_be_empty()
    expect(page.locator("#key-dialog")).to_be_hidden()
    assert sent == [f"Bearer {KEYS[0]}"]
    # The papers view (GET /v1/papers) uses the key too.
    page.get_by_role("navigation", name="Views").get_by_role("link", name="Papers").click()
    expect(page.locator("#papers-list li").first).to_be_visible()


def test_the_key_can_be_forgotten_and_a_declined_prompt_shows_why_the_answer_failed(
    keyed_page: Page, keyed_server: KeyedServer
) -> None:
    page = open_page(keyed_page, keyed_server.url)
    page.evaluate(f"localStorage.setItem('{STORAGE}', '{KEYS[1]}')")
    page.reload()
    page.wait_for_selector("body[data-ready=true]")

    page.click("#key-button")
    expect(page.locator("#key-reason")).to_have_text(re.compile("forget the one saved"))
    page.click("#key-forget")
    expect(page.locator("#key-dialog")).to_be_hidden()
    expect(page.locator("#key-button")).to_be_hidden()
    assert page.evaluate(f"localStorage.getItem('{STORAGE}')") is None

    ask(page, QUESTION)
    expect(page.locator("#key-dialog")).to_be_visible()
    page.keyboard.press("Escape")  # declines, as Cancel does
    expect(page.locator("#key-dialog")).to_be_hidden()
    answer = wait_answered(page)
    expect(answer.locator(".note.bad")).to_have_text(re.compile("needs an API key"))
