"""``/docs`` in a real browser: Swagger UI renders the service's operations from assets of the
package alone (pinned and integrity-checked), with no request to any other origin and no CSP
violation (the ``page`` fixture fails the test on either)."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import urlsplit

from playwright.sync_api import Page, Request, expect

from service.web.docs import ASSET_SRI
from service.web.router import STATIC_DIR


def test_the_vendored_swagger_ui_files_match_their_pinned_hashes() -> None:
    for name, sri in ASSET_SRI.items():
        digest = hashlib.sha384((STATIC_DIR / name).read_bytes()).digest()
        assert base64.b64encode(digest).decode() == sri, name


def test_the_docs_page_renders_every_operation_from_this_origin_alone(
    page: Page, chat_url: str
) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    failed: list[Request] = []
    page.on("requestfailed", lambda request: failed.append(request))
    page.goto(f"{chat_url}/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("abstractqa")
    operations = page.locator(".swagger-ui .opblock-summary-path")
    expect(operations.first).to_be_visible()
    paths = {text.replace("\u200b", "") for text in operations.all_inner_texts()}
    assert {"/v1/search", "/v1/ask", "/v1/chat/completions"} <= paths

    # An operation opens and its "Try it out" works against this server.
    page.locator(".opblock-summary-path", has_text="/healthz").first.click()
    page.get_by_role("button", name="Try it out").click()
    page.get_by_role("button", name="Execute").click()
    expect(page.locator(".live-responses-table tbody .response-col_status").first).to_have_text(
        "200"
    )

    origin = urlsplit(chat_url).netloc
    assert requested and {urlsplit(url).netloc for url in requested} == {origin}, requested
    assert not failed, [request.url for request in failed]
