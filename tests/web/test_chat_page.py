"""The web chat page at ``/``, in a real browser (Debian's headless Chromium driven by
Playwright) against real servers on 127.0.0.1: streaming answers with citation chips, the
citation popover, persistence, the papers view and scoping, abstentions, degraded answers,
keyboard and phone use, and the page's security (CSP, text-only rendering of data)."""

from __future__ import annotations

import fnmatch
import re
import shutil
import tomllib
from html.parser import HTMLParser
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, Request, expect

from service.web.router import STATIC_DIR
from tests.web.conftest import (
    PWNED_ABSTRACT,
    PWNED_ID,
    PWNED_TITLE,
    LlmServer,
    open_page,
    screenshot,
)

ROOT = Path(__file__).resolve().parents[2]
DOCS_SCREENSHOT = ROOT / "docs" / "screenshot-chat.png"

QUESTION = "How do the authors make sparse fine-tuning composable across languages and tasks?"
MULTI_PAPER_QUESTION = "How do models avoid catastrophic forgetting in continual learning?"
UNANSWERABLE = "How long should I roast a whole chicken?"
SPARSE_ID = "composable-sparse-fine-tuning-for-cross-lingual-transfer-27123fb7"
SPARSE_TITLE = "Composable Sparse Fine-Tuning for Cross-Lingual Transfer"
WAVLLM_ID = "wavllm-towards-robust-and-adaptive-speech-large-language-4ea23832"

# The fake LLM's answer to QUESTION: the first sentence is one of source 1's, the second is
# not supported by any cited abstract.
LLM_REPLY = (
    "Both these masks can then be composed with the pretrained model [1]. "
    "The method was first validated on protein folding benchmarks in 1998 [1]."
)

ANSWER = ".message.assistant"
LAST_ANSWER = ".message.assistant >> nth=-1"


def ask(page: Page, question: str) -> Request:
    """Type the question, press Enter; returns the POST /v1/ask the page sent."""
    page.fill("#question", question)
    with page.expect_request(lambda r: r.url.endswith("/v1/ask") and r.method == "POST") as req:
        page.press("#question", "Enter")
    return req.value


def wait_answered(page: Page) -> Any:
    """Wait until the latest answer is final; its text element."""
    answer = page.locator(LAST_ANSWER)
    expect(answer).not_to_have_class(re.compile(r"\bstreaming\b"))
    expect(answer.locator(".answer-text")).to_have_attribute("aria-busy", "false")
    return answer


def open_papers(page: Page) -> None:
    page.get_by_role("navigation", name="Views").get_by_role("link", name="Papers").click()
    expect(page.locator("#papers-view")).to_be_visible()


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def chips_for_markers(answer: str) -> str:
    """The text an answer shows: each [n] marker is a chip whose text is n."""
    return re.sub(r"\[(\d+)\]", r"\1", answer)


def api(url: str, path: str, **body: Any) -> Any:
    if body:
        response = httpx.post(f"{url}{path}", json=body, timeout=30)
    else:
        response = httpx.get(f"{url}{path}", timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


# -- the page and its assets -------------------------------------------------------------------


class _Markup(HTMLParser):
    """Collects what a strict CSP forbids or needs: inline code, and the page's asset URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.assets: list[str] = []
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        self.inline += [f"{tag} {name}" for name, _ in attrs if name.startswith("on")]
        if "style" in names:
            self.inline.append(f"{tag} style attribute")
        if tag == "style":
            self.inline.append("style element")
        if tag == "script":
            self._in_script = True
            if not names.get("src"):
                self.inline.append("inline script")
        for attr in ("src", "href"):
            value = names.get(attr)
            if value and tag in {"script", "link", "img"}:
                self.assets.append(value)

    def handle_endtag(self, tag: str) -> None:
        self._in_script = self._in_script and tag != "script"

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append("inline script")


def test_the_page_and_every_asset_are_sent_with_a_strict_csp_and_security_headers(
    chat_url: str,
) -> None:
    page = httpx.get(f"{chat_url}/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    markup = _Markup()
    markup.feed(page.text)
    assert markup.inline == []
    # Every asset: those the page links and those the ES modules import, all from this origin.
    assets = set(markup.assets)
    for module in STATIC_DIR.glob("*.js"):
        assets |= {f"/static/{m}" for m in re.findall(r'from "\./([\w.-]+)"', module.read_text())}
    assert "/static/app.js" in assets and "/static/app.css" in assets
    assert all(a.startswith("/static/") for a in assets), assets
    for url in ["/", *sorted(assets)]:
        response = httpx.get(f"{chat_url}{url}")
        assert response.status_code == 200, url
        csp = response.headers["content-security-policy"]
        directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
        assert directives["default-src"] == "'self'" and directives["frame-ancestors"] == "'none'"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-frame-options"] == "DENY"
    module = httpx.get(f"{chat_url}/static/app.js")
    assert module.headers["content-type"].startswith("text/javascript")
    assert httpx.get(f"{chat_url}/static/app.css").headers["content-type"].startswith("text/css")


def test_an_unchanged_asset_is_revalidated_with_its_etag(chat_url: str) -> None:
    first = httpx.get(f"{chat_url}/static/app.js")
    again = httpx.get(f"{chat_url}/static/app.js", headers={"if-none-match": first.headers["etag"]})
    assert again.status_code == 304 and again.headers["content-security-policy"]


@pytest.mark.parametrize(
    "path",
    ["/static/..%2Fweb%2Frouter.py", "/static/nothing.js", "/static/.hidden.js", "/static/app.py"],
)
def test_only_the_files_of_the_static_folder_are_served(chat_url: str, path: str) -> None:
    assert httpx.get(f"{chat_url}{path}").status_code == 404


def test_the_scripts_never_write_html_and_every_asset_ships_in_the_wheel() -> None:
    for script in STATIC_DIR.glob("*.js"):
        # Comments may name the sinks (to say why they are not used); the code may not.
        code = re.sub(r"/\*.*?\*/|(?<!:)//[^\n]*", "", script.read_text(), flags=re.S)
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in code, f"{script.name} uses {sink}"
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["service"]
    for path in STATIC_DIR.rglob("*"):
        relative = path.relative_to(STATIC_DIR.parent).as_posix()
        assert path.is_dir() or any(fnmatch.fnmatch(relative, p) for p in patterns), relative
    assert not [p for p in STATIC_DIR.iterdir() if p.is_dir()], "static/* ships no subfolder"


# -- asking ------------------------------------------------------------------------------------


def test_the_answer_streams_in_as_it_is_written_and_is_replaced_by_the_verified_answer(
    page: Page, llm: LlmServer, tmp_path: Path
) -> None:
    llm.fake.reply_with(LLM_REPLY, chunk_delay=0.08)
    open_page(page, llm.url)
    # Record the answer's text length at every DOM change, with whether it was still streaming.
    page.evaluate(
        """() => {
          window.__lengths = [];
          new MutationObserver(() => {
            const answer = document.querySelector(".message.assistant:last-of-type");
            // Before the first words: the "Searching the papers…" placeholder, not the answer.
            if (!answer || answer.querySelector(".answer-text .muted")) return;
            const text = answer.querySelector(".answer-text").textContent;
            window.__lengths.push([answer.classList.contains("streaming"), text.length]);
          }).observe(document.getElementById("messages"), {subtree: true, childList: true, characterData: true});
        }"""
    )
    ask(page, QUESTION)
    answer = page.locator(LAST_ANSWER)
    # A partial state: the first words are there, the last are not yet, Stop is offered.
    expect(answer.locator(".answer-text")).to_contain_text("Both these masks")
    expect(answer).to_have_class(re.compile(r"\bstreaming\b"))
    assert "1998" not in answer.locator(".answer-text").inner_text()
    expect(answer.locator(".answer-text")).to_have_attribute("aria-busy", "true")
    expect(page.locator("#stop")).to_be_visible()
    expect(page.locator("#send")).to_be_hidden()
    screenshot(page, tmp_path, "streaming")

    wait_answered(page)
    lengths = page.evaluate("window.__lengths")
    streamed = [length for streaming, length in lengths if streaming]
    assert len(set(streamed)) >= 5 and streamed == sorted(streamed), lengths
    # The verified answer, markers as chips; the unsupported sentence is marked, visibly and for
    # screen readers.
    shown = answer.locator(".answer-text").text_content()
    assert shown.replace(" (not supported by the cited abstracts)", "") == chips_for_markers(
        LLM_REPLY
    )
    expect(answer.locator(".chip")).to_have_count(2)
    unsupported = answer.locator(".sentence.unsupported")
    expect(unsupported).to_have_count(1)
    expect(unsupported).to_contain_text("protein folding")
    expect(unsupported.locator(".visually-hidden")).to_have_text(
        " (not supported by the cited abstracts)"
    )
    decoration = unsupported.evaluate("e => getComputedStyle(e).textDecorationStyle")
    assert decoration == "wavy"
    expect(answer.locator(".unsupported-note")).to_contain_text("1 sentence is not supported")
    expect(answer.locator(".badge")).to_contain_text(["openai"])
    expect(page.locator("#send")).to_be_visible()
    screenshot(page, tmp_path, "answered")


def test_a_citation_chip_shows_the_paper_abstract_with_the_quoted_sentence_highlighted(
    page: Page, chat_url: str, tmp_path: Path, pytestconfig: pytest.Config
) -> None:
    tracked = DOCS_SCREENSHOT.stat().st_mtime_ns if DOCS_SCREENSHOT.exists() else None
    open_page(page, chat_url)
    expected = api(chat_url, "/v1/ask", question=MULTI_PAPER_QUESTION)
    ask(page, MULTI_PAPER_QUESTION)
    answer = wait_answered(page)

    # The final answer is shown as is, its markers as chips naming their papers.
    assert answer.locator(".answer-text").text_content() == chips_for_markers(expected["answer"])
    chips = answer.locator(".chip")
    markers = re.findall(r"\[(\d+)\]", expected["answer"])
    expect(chips).to_have_count(len(markers))
    expect(answer.locator(".badge")).to_contain_text(["extractive"])
    by_n = {c["n"]: c for c in expected["citations"]}
    for i, n in enumerate(markers):
        expect(chips.nth(i)).to_have_text(n)
        expect(chips.nth(i)).to_have_attribute("aria-label", f"Source {n}: {by_n[int(n)]['title']}")

    # The sources panel lists the cited papers with their quotes.
    panel = page.locator("#sources")
    items = panel.locator(".source")
    expect(items).to_have_count(len(by_n))
    for item, n in zip(items.all(), sorted(by_n), strict=True):
        expect(item.locator(".source-title")).to_contain_text(by_n[n]["title"])
        expect(item.locator(".quote")).to_contain_text(by_n[n]["quote"])

    # Clicking a chip opens the popover: title, the abstract, the quote highlighted.
    citation = by_n[int(markers[-1])]
    chips.nth(len(markers) - 1).click()
    popover = page.locator("#citation-popover")
    expect(popover).to_be_visible()
    expect(popover.locator("h3")).to_contain_text(citation["title"])
    marks = popover.locator("mark.quoted")
    expect(marks).to_have_count(len(citation["sentence_indices"]))
    # The quote is the marked sentences, " … " where it skips sentences of the abstract.
    joints = [" " if b == a + 1 else " … " for a, b in pairwise(citation["sentence_indices"])]
    marked = marks.all_text_contents()
    assert (
        marked[0] + "".join(j + m for j, m in zip(joints, marked[1:], strict=True))
        == citation["quote"]
    )
    paper = api(chat_url, f"/v1/papers/{citation['paper_id']}")
    shown = popover.locator(".popover-abstract").text_content() or ""
    assert squash(shown.replace("Quoted: ", "")) == squash(" ".join(paper["sentences"]))
    expect(chips.nth(len(markers) - 1)).to_have_attribute("aria-expanded", "true")
    screenshot(page, tmp_path, "popover")

    page.keyboard.press("Escape")
    expect(popover).to_be_hidden()

    # The designated screenshot of the README: a finished answer, its chips, the sources panel
    # and the last chip's abstract (hovered) with the quote highlighted.
    page.evaluate("document.activeElement.blur()")  # no focus ring in the picture
    page.set_viewport_size({"width": 1360, "height": 1000})  # room for the popover below
    page.mouse.move(5, 5)
    chips.nth(len(markers) - 1).hover()
    expect(popover.locator("mark.quoted").first).to_be_visible()
    page.wait_for_timeout(100)  # the chip's hover colour transition
    # Tests never change tracked files: the picture goes to tmp_path, and only `make
    # screenshot` (--docs-screenshot) copies it over the README's.
    picture = tmp_path / DOCS_SCREENSHOT.name
    page.screenshot(path=picture)
    assert picture.read_bytes().startswith(b"\x89PNG")
    target = pytestconfig.getoption("docs_screenshot")
    if target is not None:
        shutil.copyfile(picture, target)
    else:
        assert (DOCS_SCREENSHOT.stat().st_mtime_ns if DOCS_SCREENSHOT.exists() else None) == tracked


def test_a_quote_of_non_adjacent_sentences_shows_the_gap_in_the_panel_and_the_popover(
    page: Page, llm: LlmServer, tmp_path: Path
) -> None:
    sentences = api(llm.url, f"/v1/papers/{SPARSE_ID}")["sentences"]
    # The LLM answers from the first and the third sentence of source 1 (the sparse paper).
    llm.fake.reply_with(f"{sentences[0]} [1] {sentences[2]} [1]", chunk_delay=0.0)
    open_page(page, llm.url)
    ask(page, QUESTION)
    answer = wait_answered(page)
    expect(answer.locator(".chip")).to_have_count(2)

    item = page.locator("#sources .source")
    expect(item).to_have_count(1)
    expect(item.locator(".source-title")).to_contain_text(SPARSE_TITLE)
    quote = item.locator(".quote")
    # The gap is a visible mark of its own between the two verbatim sentences.
    assert squash(quote.text_content() or "") == f"Quote: {sentences[0]} … {sentences[2]}"
    gap = quote.locator(".gap")
    expect(gap).to_have_count(1)
    expect(gap).to_have_text("…")
    expect(gap).to_be_visible()
    expect(gap).to_have_attribute("title", "Sentences of the abstract left out")

    # The popover marks both sentences; the skipped one stands unmarked between them.
    answer.locator(".chip").first.click()
    popover = page.locator("#citation-popover")
    expect(popover).to_be_visible()
    expect(popover.locator("mark.quoted")).to_have_text([sentences[0], sentences[2]])
    expect(popover.locator(".popover-note")).to_contain_text("those between are left out")
    shown = squash(
        (popover.locator(".popover-abstract").text_content() or "").replace("Quoted: ", "")
    )
    assert shown.startswith(" ".join(sentences[:3]))
    screenshot(page, tmp_path, "quote-gap")


def test_hovering_a_chip_previews_the_abstract_and_leaving_it_closes_the_preview(
    page: Page, chat_url: str, tmp_path: Path
) -> None:
    open_page(page, chat_url)
    ask(page, QUESTION)
    answer = wait_answered(page)
    popover = page.locator("#citation-popover")
    answer.locator(".chip").first.hover()
    expect(popover).to_be_visible()
    expect(popover.locator("mark.quoted")).not_to_have_count(0)
    # Into the popover (to scroll or follow the link) keeps it open.
    popover.hover()
    page.wait_for_timeout(400)
    expect(popover).to_be_visible()
    screenshot(page, tmp_path, "hover")
    page.mouse.move(5, 5)
    expect(popover).to_be_hidden()


def test_the_keyboard_sends_reaches_the_chips_and_escape_closes_the_popover(
    page: Page, chat_url: str, tmp_path: Path
) -> None:
    open_page(page, chat_url)
    page.focus("#question")
    page.keyboard.type(QUESTION)
    page.keyboard.press("Shift+Enter")  # a new line, not a send
    expect(page.locator(ANSWER)).to_have_count(0)
    page.keyboard.press("Backspace")
    page.keyboard.press("Enter")
    wait_answered(page)

    # Tab order: from the skip link onwards, the chip is reached by Tab alone.
    page.locator(".skip-link").focus()
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('chip')"):
            break
    else:
        pytest.fail("Tab never reached a citation chip")
    popover = page.locator("#citation-popover")
    expect(popover).to_be_visible()  # focus shows the preview
    page.keyboard.press("Escape")
    expect(popover).to_be_hidden()
    assert page.evaluate("document.activeElement.classList.contains('chip')")

    page.keyboard.press("Enter")  # activation pins it and moves focus into it
    expect(popover).to_be_visible()
    assert page.evaluate("document.activeElement.id") == "citation-popover"
    page.keyboard.press("Tab")
    assert page.evaluate(
        "document.getElementById('citation-popover').contains(document.activeElement)"
    )
    screenshot(page, tmp_path, "keyboard")
    page.keyboard.press("Escape")
    expect(popover).to_be_hidden()
    assert page.evaluate("document.activeElement.classList.contains('chip')")


def test_an_abstention_looks_different_and_lists_related_papers(
    page: Page, chat_url: str, tmp_path: Path
) -> None:
    open_page(page, chat_url)
    ask(page, QUESTION)
    wait_answered(page)
    ask(page, UNANSWERABLE)
    abstention = wait_answered(page)
    expect(abstention).to_have_class(re.compile(r"\babstained\b"))
    expect(abstention.locator(".message-kind")).to_have_text("No answer in the indexed papers")
    expect(abstention.locator(".answer-text")).to_have_text(
        "The indexed papers do not cover this question."
    )
    expect(abstention.locator(".chip")).to_have_count(0)
    related = abstention.locator(".related li")
    expected = api(chat_url, "/v1/ask", question=UNANSWERABLE)["related"]
    expect(related).to_have_count(len(expected))
    expect(related.first).to_contain_text(expected[0]["title"])

    answered = page.locator(ANSWER).first
    style = "e => [getComputedStyle(e).borderTopStyle, getComputedStyle(e).backgroundColor]"
    assert abstention.evaluate(style) != answered.evaluate(style)
    assert abstention.evaluate(style)[0] == "dashed"
    expect(page.locator("#sources .sources-hint")).to_contain_text("No paper answers this question")
    screenshot(page, tmp_path, "abstention")

    # A related paper can be asked about directly.
    related.first.get_by_role("button", name=re.compile("Ask about this paper")).click()
    expect(page.locator("#scope .scope-paper")).to_have_count(1)
    expect(page.locator("#scope")).to_contain_text(expected[0]["title"][:30])


def test_a_conversation_survives_a_reload_and_can_be_reopened(
    page: Page, chat_url: str, tmp_path: Path
) -> None:
    open_page(page, chat_url)
    ask(page, QUESTION)
    wait_answered(page)
    chips_before = page.locator(".chip").count()

    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    chats = page.locator("#chat-list .chat-open")
    expect(chats).to_have_count(1)
    expect(chats.first).to_contain_text(QUESTION[:40])
    expect(chats.first).to_have_attribute("aria-current", "true")
    expect(page.locator(".message.user .question")).to_have_text(QUESTION)
    expect(page.locator(".chip")).to_have_count(chips_before)

    # A new chat starts empty; the old one stays in the list and reopens with its answer.
    page.click("#new-chat")
    expect(page.locator(ANSWER)).to_have_count(0)
    expect(page.locator("#empty-state")).to_be_visible()
    ask(page, UNANSWERABLE)
    wait_answered(page)
    expect(chats).to_have_count(2)
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    expect(chats).to_have_count(2)
    page.locator("#chat-list .chat-open", has_text=QUESTION[:40]).click()
    expect(page.locator(".message.user .question")).to_have_text(QUESTION)
    expect(page.locator(".chip")).to_have_count(chips_before)
    page.locator(".chip").first.click()
    expect(page.locator("#citation-popover mark.quoted")).not_to_have_count(0)
    screenshot(page, tmp_path, "reopened")

    # Deleting a chat removes it from the list (and from storage).
    page.keyboard.press("Escape")
    page.get_by_role("button", name=re.compile("Delete the chat “How long")).click()
    expect(chats).to_have_count(1)
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    expect(chats).to_have_count(1)


def test_copy_copies_the_answer_with_its_sources_and_retry_asks_again(
    page: Page, context: BrowserContext, chat_url: str
) -> None:
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=chat_url)
    open_page(page, chat_url)
    ask(page, QUESTION)
    answer = wait_answered(page)
    expected = api(chat_url, "/v1/ask", question=QUESTION)

    answer.get_by_role("button", name="Copy the answer").click()
    expect(answer.get_by_role("button", name="Copy the answer")).to_have_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith(expected["answer"])
    assert f"Sources:\n[1] {expected['citations'][0]['title']}" in copied

    with page.expect_request(lambda r: r.url.endswith("/v1/ask")) as request:
        answer.get_by_role("button", name="Retry this question").click()
    assert request.value.post_data_json["question"] == QUESTION
    wait_answered(page)
    expect(page.locator(ANSWER)).to_have_count(1)  # retried in place, not appended
    expect(page.locator(".chip")).not_to_have_count(0)


def test_stop_cancels_the_stream_and_keeps_what_was_written(page: Page, llm: LlmServer) -> None:
    llm.fake.reply_with(" ".join([LLM_REPLY] * 6), chunk_delay=0.25)
    open_page(page, llm.url)
    ask(page, QUESTION)
    answer = page.locator(LAST_ANSWER)
    expect(answer.locator(".answer-text")).to_contain_text("Both these")
    page.click("#stop")
    expect(answer).not_to_have_class(re.compile(r"\bstreaming\b"))
    expect(answer.locator(".badge")).to_contain_text(["Stopped"])
    expect(answer.locator(".answer-text")).to_contain_text("Both these")
    expect(page.locator("#send")).to_be_visible()
    expect(page.locator("#stop")).to_be_hidden()
    # The browser really dropped the request: the service left the LLM stream too.
    assert llm.fake.wait_for_disconnect(10)


def test_a_degraded_answer_replaces_the_streamed_text_and_says_why(
    page: Page, llm: LlmServer, chat_url: str, tmp_path: Path
) -> None:
    llm.fake.reply_with(LLM_REPLY, chunk_delay=0.05)
    llm.fake.break_stream_after(4)  # some words arrive, then the LLM connection drops
    open_page(page, llm.url)
    ask(page, QUESTION)
    answer = wait_answered(page)
    extractive = api(chat_url, "/v1/ask", question=QUESTION)
    # The streamed LLM words are gone: the extractive answer replaced them.
    assert answer.locator(".answer-text").text_content() == chips_for_markers(extractive["answer"])
    expect(answer.locator(".chip")).to_have_count(len(re.findall(r"\[\d+\]", extractive["answer"])))
    expect(answer.locator(".badge.warn")).to_have_text("Degraded")
    expect(answer.locator(".badge")).to_contain_text(["extractive"])
    expect(answer.locator(".note.warn")).to_contain_text("The requested backend failed (")
    expect(answer.locator(".note.warn")).to_contain_text("extractive answer")
    screenshot(page, tmp_path, "degraded")


def test_the_chosen_backend_is_sent_with_the_question_and_remembered(
    page: Page, chat_url: str
) -> None:
    open_page(page, chat_url)
    request = ask(page, QUESTION)
    assert "backend" not in request.post_data_json and request.post_data_json["stream"] is True
    wait_answered(page)
    page.select_option("#backend", "extractive")
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator("#backend")).to_have_value("extractive")
    assert ask(page, QUESTION).post_data_json["backend"] == "extractive"
    wait_answered(page)


# -- papers ----------------------------------------------------------------------------------


def test_the_papers_view_lists_and_searches_papers_and_asks_about_one(
    page: Page, chat_url: str, tmp_path: Path
) -> None:
    total = api(chat_url, "/v1/papers?limit=1")["total"]
    open_page(page, chat_url)
    open_papers(page)
    papers = page.locator("#papers-list .paper")
    expect(papers).to_have_count(min(20, total))
    expect(page.locator("#papers-count")).to_have_text(f"1–{min(20, total)} of {total} papers")
    page.click("#papers-next")
    expect(page.locator("#papers-count")).to_contain_text(f"21–{min(40, total)} of {total}")
    page.click("#papers-prev")
    expect(page.locator("#papers-count")).to_contain_text(f"1–{min(20, total)} of {total}")

    # An abstract opens in place.
    papers.first.locator("summary").click()
    expect(papers.first.locator(".paper-abstract")).not_to_have_text("Loading…")

    page.fill("#papers-q", "composable sparse")
    expect(papers).to_have_count(1)
    expect(papers.first.locator(".paper-title")).to_have_text(SPARSE_TITLE)
    expect(page.locator("#papers-count")).to_contain_text(
        "1–1 of 1 papers matching “composable sparse”"
    )
    screenshot(page, tmp_path, "papers")

    papers.first.get_by_role("button", name=re.compile("Ask about this paper")).click()
    expect(page.locator("#chat-view")).to_be_visible()
    scope = page.locator("#scope")
    expect(scope).to_be_visible()
    expect(scope.locator(".scope-paper")).to_have_text([re.compile(r"^Composable Sparse")])
    assert page.evaluate("document.activeElement.id") == "question"

    request = ask(page, "What does this paper propose?")
    assert request.post_data_json["paper_ids"] == [SPARSE_ID]
    answer = wait_answered(page)
    expect(answer.locator(".chip")).not_to_have_count(0)
    for label in answer.locator(".chip").evaluate_all(
        "cs => cs.map(c => c.getAttribute('aria-label'))"
    ):
        assert label.endswith(SPARSE_TITLE)
    expect(page.locator(".message.user .scope-line")).to_contain_text(SPARSE_TITLE)
    screenshot(page, tmp_path, "scoped")

    # The scope stays for the next question until removed.
    page.get_by_role("button", name=re.compile("Remove “Composable")).click()
    expect(scope).to_be_hidden()
    request = ask(page, QUESTION)
    assert "paper_ids" not in request.post_data_json
    wait_answered(page)


def test_asking_about_a_selection_of_papers_scopes_to_all_of_them(
    page: Page, chat_url: str
) -> None:
    open_page(page, chat_url + "/#papers")
    papers = page.locator("#papers-list .paper")
    expect(papers).not_to_have_count(0)
    first_id = papers.nth(0).get_attribute("data-paper-id")
    papers.nth(0).locator(".paper-select").check()
    # The selection outlives a search.
    page.fill("#papers-q", "WavLLM")
    expect(papers).to_have_count(1)
    papers.first.locator(".paper-select").check()
    expect(page.locator("#selection-count")).to_have_text("2 papers selected")
    page.click("#ask-selection")
    expect(page.locator("#scope .scope-paper")).to_have_count(2)
    request = ask(page, "What do these papers propose?")
    assert set(request.post_data_json["paper_ids"]) == {first_id, WAVLLM_ID}
    answer = wait_answered(page)
    cited = answer.locator(".chip").evaluate_all("cs => cs.map(c => c.getAttribute('aria-label'))")
    titles = {api(chat_url, f"/v1/papers/{p}")["title"] for p in (first_id, WAVLLM_ID)}
    assert cited and all(any(label.endswith(t) for t in titles) for label in cited)
    page.get_by_role("button", name="Clear all").click()
    expect(page.locator("#scope")).to_be_hidden()


# -- small screens -----------------------------------------------------------------------------


def test_the_page_is_usable_on_a_phone_sized_screen(
    page: Page, chat_url: str, tmp_path: Path
) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    open_page(page, chat_url)
    ask(page, MULTI_PAPER_QUESTION)
    answer = wait_answered(page)
    no_overflow = "document.documentElement.scrollWidth <= window.innerWidth"
    assert page.evaluate(no_overflow)
    expect(page.locator("#question")).to_be_in_viewport()
    expect(page.locator("#history")).not_to_be_in_viewport()
    expect(page.locator("#sources")).not_to_be_in_viewport()
    screenshot(page, tmp_path, "phone")

    # The cited papers are one tap away, in a drawer.
    page.click("#toggle-sources")
    expect(page.locator("#sources")).to_be_in_viewport()
    expect(page.locator("#sources .source")).not_to_have_count(0)
    screenshot(page, tmp_path, "phone-sources")
    page.keyboard.press("Escape")
    expect(page.locator("#sources")).not_to_be_in_viewport()

    # The popover fits the screen.
    answer.locator(".chip").first.click()
    box = page.locator("#citation-popover").bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390
    expect(page.locator("#citation-popover mark.quoted")).not_to_have_count(0)
    screenshot(page, tmp_path, "phone-popover")
    page.keyboard.press("Escape")

    page.click("#toggle-history")
    expect(page.locator("#history .chat-open")).to_have_count(1)
    open_papers(page)
    expect(page.locator("#papers-list .paper")).not_to_have_count(0)
    assert page.evaluate(no_overflow)
    screenshot(page, tmp_path, "phone-papers")


# -- safety ------------------------------------------------------------------------------------


def test_a_paper_with_a_script_bearing_abstract_is_shown_as_text_and_runs_no_script(
    page: Page, pwned_url: str, tmp_path: Path
) -> None:
    paper = api(pwned_url, f"/v1/papers/{PWNED_ID}")
    assert paper["title"] == PWNED_TITLE and "<script>" in paper["abstract"]  # stored verbatim

    open_page(page, pwned_url)
    question = (
        'Which <img src=x onerror="window.__pwned=4"> tags does the tokenizer keep as plain text?'
    )
    ask(page, question)
    answer = wait_answered(page)
    expect(page.locator(".message.user .question")).to_have_text(question)
    chip = answer.locator(".chip").first
    expect(chip).to_have_attribute("aria-label", f"Source 1: {PWNED_TITLE}")
    expect(page.locator("#sources .source-title").first).to_contain_text(PWNED_TITLE)
    expect(page.locator("#chat-list .chat-title")).to_contain_text("Which <img src=x")

    chip.click()
    popover = page.locator("#citation-popover")
    expect(popover.locator("h3")).to_contain_text(PWNED_TITLE)
    abstract = popover.locator(".popover-abstract")
    expect(abstract).to_contain_text("<script>window.__pwned=1</script>")
    expect(abstract).to_contain_text('<img src=x onerror="window.__pwned=2">')
    expect(popover.locator("mark.quoted")).not_to_have_count(0)
    expect(popover.locator(".popover-meta")).to_contain_text("<b>Mallory</b>")
    # A javascript: URL is not a link.
    expect(popover.locator("a")).to_have_count(0)
    screenshot(page, tmp_path, "pwned-popover")
    page.keyboard.press("Escape")

    open_papers(page)
    item = page.locator(f'#papers-list .paper[data-paper-id="{PWNED_ID}"]')
    expect(item.locator(".paper-title")).to_have_text(PWNED_TITLE)
    item.locator("summary").click()
    expect(item.locator(".paper-abstract")).to_have_text(PWNED_ABSTRACT)
    screenshot(page, tmp_path, "pwned-papers")

    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert (
        page.evaluate("document.querySelectorAll('img[src=x], b, script:not([src])').length") == 0
    )
    assert page.evaluate("document.querySelectorAll('a[href^=javascript]').length") == 0
    assert page.evaluate("[...document.scripts].map(s => s.getAttribute('src'))") == [
        "/static/app.js"
    ]
