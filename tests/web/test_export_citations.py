"""The "Export citations" action of an answer, in a real browser (Debian's headless Chromium)
against real servers on 127.0.0.1: the file it downloads is read back with real parsers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import bibtexparser
import httpx
import pytest
from citeproc.source.json import CiteProcJSON
from playwright.sync_api import Locator, Page, Request, expect

from tests.service.citations.conftest import citations_index_dir, citations_url
from tests.service.citations.corpus import KELP_ID
from tests.service.security.conftest import KEYS, QUESTION, KeyedServer, bearer, keyed_server
from tests.web.conftest import open_page
from tests.web.test_api_key_page import STORAGE, keyed_page
from tests.web.test_chat_page import ask, wait_answered

# Servers shared with tests/service: the awkward citation corpus's, and the keyed one.
__all__ = ["citations_index_dir", "citations_url", "keyed_page", "keyed_server"]


def export(page: Page, answer: Locator, format_label: str, tmp_path: Path) -> tuple[str, str]:
    """Choose the format, click "Export citations"; the downloaded file's name and text."""
    answer.get_by_label("Citation format").select_option(label=format_label)
    with page.expect_download() as download:
        answer.get_by_role("button", name=re.compile("^Export the .* as a citation file")).click()
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    # Bytes, not read_text: RIS lines end in CRLF, which universal newlines would hide.
    return download.value.suggested_filename, path.read_bytes().decode("utf-8")


@pytest.mark.filterwarnings(
    # citeproc-py predates CSL 1.0.2 and warns about its citation-key variable.
    "ignore:The following arguments for Reference are unsupported:UserWarning"
)
def test_an_answers_cited_papers_download_as_bibtex_ris_and_csl_json(
    page: Page, citations_url: str, tmp_path: Path
) -> None:
    open_page(page, citations_url)
    ask(page, "How fast do kelp forests absorb carbon dioxide?")
    answer = wait_answered(page)
    expect(answer.locator(".chip").first).to_be_visible()

    name, text = export(page, answer, "BibTeX", tmp_path)
    assert name.endswith(".bib")
    library = bibtexparser.parse_string(text)
    assert not library.failed_blocks and library.entries
    assert "2403.01234" in [e["eprint"] for e in library.entries if "eprint" in e]

    name, text = export(page, answer, "CSL-JSON", tmp_path)
    assert name.endswith(".json")
    items = json.loads(text)
    assert KELP_ID in [item["id"] for item in items]
    assert len(CiteProcJSON(items)) == len(items) == len(library.entries)

    name, text = export(page, answer, "RIS", tmp_path)
    assert name.endswith(".ris")
    lines = [line for line in text.split("\r\n") if line]
    assert lines[0].startswith("TY  - ") and lines[-1] == "ER  - "
    assert sum(line == "ER  - " for line in lines) == len(items)

    # The chosen format is remembered for the next answers.
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    chosen = page.locator(".message.assistant >> nth=-1").get_by_label("Citation format")
    expect(chosen).to_have_value("ris")


def test_the_export_sends_the_saved_api_key(
    keyed_page: Page, keyed_server: KeyedServer, tmp_path: Path
) -> None:
    # The server's first answer waits on its background sentence embedding; do it here, not
    # under the page's answer wait.
    warm = httpx.post(
        f"{keyed_server.url}/v1/ask",
        json={"question": QUESTION},
        headers=bearer(KEYS[0]),
        timeout=300,
    )
    assert warm.status_code == 200, warm.text
    page = open_page(keyed_page, keyed_server.url)
    page.evaluate(f"localStorage.setItem('{STORAGE}', '{KEYS[0]}')")
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    sent: list[str | None] = []

    def record(request: Request) -> None:
        if request.url.endswith("/v1/citations/export"):
            sent.append(request.headers.get("authorization"))

    page.on("request", record)
    ask(page, QUESTION)
    answer = wait_answered(page)
    expect(answer.locator(".note.bad")).to_have_count(0)
    _, text = export(page, answer, "BibTeX", tmp_path)
    library = bibtexparser.parse_string(text)
    assert not library.failed_blocks and library.entries
    assert sent == [f"Bearer {KEYS[0]}"]
    expect(page.locator("#key-dialog")).to_be_hidden()
