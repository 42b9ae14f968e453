"""Browser tests of the chat page: Playwright's Python sync API driving Debian's headless
Chromium (/usr/bin/chromium, installed by ``make test`` with apt; Playwright never downloads a
browser here) against real servers on 127.0.0.1.

Servers: ``chat_url`` (the bundled corpus, extractive backend: ``server_url`` of
tests/service/conftest.py, warmed up), ``llm`` (the same index answered by the ``openai`` backend talking
to a fake OpenAI server whose replies stream word by word), and ``pwned_url`` (a tiny index
whose paper carries script-bearing markup in its title and abstract).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from indexer.builder import Indexer
from indexer.config import IndexerSettings
from indexer.embedders.base import Embedder
from service.app import create_app
from service.settings import Settings
from tests.fakes.openai_server import FakeOpenAIServer
from tests.service.conftest import ready_server, server_url

__all__ = ["server_url"]  # the session server of the bundled corpus, shared with tests/service

# Each server embeds every abstract sentence in the background once ready; on a small CI
# machine that takes a while, so waits are generous (a passing wait returns at once).
expect.set_options(timeout=20_000)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
VIEWPORT = {"width": 1360, "height": 860}

# Injected before the page's own scripts: records every Content-Security-Policy violation
# (inline script or style, innerHTML under Trusted Types, a foreign origin) for the teardown
# check.
WATCH_CSP = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective}: ${event.blockedURI} ${event.sample}`);
});
"""

PWNED_TITLE = 'Rendering <script>window.__pwned=1</script> and <img src=x onerror="window.__pwned=2"> markup as text'
PWNED_ABSTRACT = (
    "Our tokenizer keeps <script>window.__pwned=1</script> tags of research abstracts as plain text. "
    'The renderer also shows <img src=x onerror="window.__pwned=2"> elements literally instead of loading them. '
    "Markup inside an abstract must never run in the browser of a reader."
)
PWNED_ID = "pwned-markup-paper"


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests drive Debian's Chromium. Install it with "
            "`apt-get install -y chromium` (`make test` does); a browser downloaded by "
            "`playwright install` is deliberately not used.",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh profile per test: empty localStorage, no clipboard permission."""
    context = browser.new_context(viewport=VIEWPORT, locale="en-US", timezone_id="UTC")
    context.set_default_timeout(20_000)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext, tmp_path: Path) -> Iterator[Page]:
    """A page that fails its test on a script error or a CSP violation, and always leaves a
    screenshot of its last state in the test's tmp_path (final.png)."""
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.on(
        "console",
        lambda msg: errors.append(f"console error: {msg.text}") if msg.type == "error" else None,
    )
    page.add_init_script(WATCH_CSP)
    yield page
    page.screenshot(path=tmp_path / "final.png")
    # The page's own words (not the papers'): a missing value must not show as "null".
    chrome = page.evaluate(
        """[...document.querySelectorAll(
            ".message-head, .notes, .actions, #scope, .sources-hint, .source-actions, #status"
        )].map(e => e.textContent).join(" | ")"""
    )
    assert not re.search(r"\b(null|undefined|NaN)\b", chrome), chrome
    violations = page.evaluate("window.__cspViolations || []")
    assert not violations, f"CSP violations: {violations}"
    assert not errors, "\n".join(errors)


def warm_up(url: str) -> str:
    """Answer one question, so that the server's background sentence embedding is done and
    the timing of the tests (streaming, stop) is the answer's, not the warm-up's."""
    body = {"question": "What do the papers study?", "backend": "extractive"}
    response = httpx.post(f"{url}/v1/ask", json=body, timeout=300)
    assert response.status_code == 200, response.text
    return url


@pytest.fixture(scope="session")
def chat_url(server_url: str) -> str:
    """The bundled corpus's server (shared with tests/service), warmed up."""
    return warm_up(server_url)


def open_page(page: Page, url: str) -> Page:
    """Load the chat page and wait until its scripts have wired it."""
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]")
    return page


def screenshot(page: Page, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=path)
    return path


# -- a server answering with the LLM backend, talking to a fake OpenAI server ---------------


@dataclass
class LlmServer:
    url: str
    fake: FakeOpenAIServer


@pytest.fixture(scope="session")
def llm_server(corpus_index_dir: Path, embedder: Embedder) -> Iterator[LlmServer]:
    with FakeOpenAIServer() as fake:
        settings = Settings(
            index_dir=corpus_index_dir,
            answer_backend="openai",
            llm_base_url=fake.base_url,
            llm_model="fake-chat",
            llm_api_key="sk-test",  # type: ignore[arg-type]
            llm_timeout_s=5.0,
            llm_connect_timeout_s=1.0,
            llm_max_retries=0,
        )
        with ready_server(create_app(settings, embedder=embedder), "abstractqa-llm") as url:
            yield LlmServer(warm_up(url), fake)


@pytest.fixture
def llm(llm_server: LlmServer) -> LlmServer:
    llm_server.fake.reset()
    llm_server.fake.reply_with("", chunk_delay=0.0)
    return llm_server


# -- a server whose only interesting paper carries markup in its title and abstract ---------


def _write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def pwned_url(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[str]:
    root = tmp_path_factory.mktemp("pwned")
    corpus = _write_jsonl(
        root / "papers.jsonl",
        [
            {
                "id": PWNED_ID,
                "title": PWNED_TITLE,
                "abstract": PWNED_ABSTRACT,
                "authors": ["<b>Mallory</b>"],
                "url": "javascript:window.__pwned=3",
                "published": "2024-01-02",
            },
            {
                "id": "benign-retrieval-paper",
                "title": "Dense retrieval for scientific question answering",
                "abstract": "We retrieve abstracts with dense embeddings. Answers cite the retrieved papers.",
                "url": "https://example.org/benign",
            },
            {
                "id": "benign-summarisation-paper",
                "title": "Summarising research papers with small models",
                "abstract": "Small language models summarise papers well. We release a benchmark.",
            },
        ],
    )
    index_dir = root / "index"
    Indexer(IndexerSettings(index_dir=index_dir), embedder=embedder).add([corpus])
    # Answer every question (no abstention), so the markup paper is always cited.
    settings = Settings(index_dir=index_dir, abstain_min_score=-1.0)
    with ready_server(create_app(settings, embedder=embedder), "abstractqa-pwned") as url:
        yield warm_up(url)
