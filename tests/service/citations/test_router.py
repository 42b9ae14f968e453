"""Citation files over a real server: ``GET /v1/papers/{id}?format=``, ``POST
/v1/citations/export`` and the ``citation_format`` of ``/v1/ask``."""

from __future__ import annotations

import json
from collections.abc import Iterator

import bibtexparser
import httpx
import pytest

from tests.service.citations.corpus import KELP_ID, OLD_ARXIV_ID, PLAIN_ID, UNBALANCED_ID
from tests.service.security.conftest import ALLOWED_ORIGIN, KEYS, KeyedServer, bearer, keyed_server
from tests.service.sse import stream_ask

__all__ = ["keyed_server"]  # the keyed server of tests/service/security, shared

MEDIA_TYPES = {
    "bibtex": ("application/x-bibtex", ".bib"),
    "ris": ("application/x-research-info-systems", ".ris"),
    "csl-json": ("application/vnd.citationstyles.csl+json", ".json"),
}


@pytest.fixture
def http(citations_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=citations_url, timeout=60) as client:
        yield client


def bibtex_keys(text: str) -> list[str]:
    library = bibtexparser.parse_string(text)
    assert not library.failed_blocks
    return [entry.key for entry in library.entries]


@pytest.mark.parametrize("format", list(MEDIA_TYPES))
def test_a_paper_is_sent_as_a_citation_file_with_its_media_type_and_file_name(
    http: httpx.Client, format: str
) -> None:
    response = http.get(f"/v1/papers/{OLD_ARXIV_ID}", params={"format": format})
    assert response.status_code == 200, response.text
    media_type, extension = MEDIA_TYPES[format]
    assert response.headers["content-type"] == f"{media_type}; charset=utf-8"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="collaboration1999strings-')
    assert disposition.endswith(f'{extension}"')
    assert "hep-th/9901001" in response.text


def test_a_paper_without_a_format_is_still_its_json_record(http: httpx.Client) -> None:
    for params in ({}, {"format": "json"}):
        paper = http.get(f"/v1/papers/{KELP_ID}", params=params)
        assert paper.headers["content-type"] == "application/json"
        assert paper.json()["paper_id"] == KELP_ID and "sentences" in paper.json()


def test_an_unknown_format_is_a_422_naming_the_allowed_values(http: httpx.Client) -> None:
    response = http.get(f"/v1/papers/{KELP_ID}", params={"format": "endnote"})
    assert response.status_code == 422
    message = response.json()["error"]["message"]
    assert message.startswith("query.format:")
    for allowed in ("'json'", "'bibtex'", "'ris'", "'csl-json'"):
        assert allowed in message
    export = http.post("/v1/citations/export", json={"paper_ids": [KELP_ID], "format": "xml"})
    assert export.status_code == 422
    assert "'bibtex', 'ris' or 'csl-json'" in export.json()["error"]["message"]


def test_an_export_cites_every_paper_once_in_the_order_asked(http: httpx.Client) -> None:
    ids = [PLAIN_ID, KELP_ID, UNBALANCED_ID, KELP_ID]
    response = http.post("/v1/citations/export", json={"paper_ids": ids, "format": "csl-json"})
    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"] == 'attachment; filename="citations.json"'
    assert [item["id"] for item in response.json()] == [PLAIN_ID, KELP_ID, UNBALANCED_ID]
    bib = http.post("/v1/citations/export", json={"paper_ids": ids, "format": "bibtex"})
    keys = bibtex_keys(bib.text)
    assert len(keys) == 3 and keys[0].startswith("ruiz2021tide-")


def test_an_unknown_paper_in_an_export_is_a_404_naming_it(http: httpx.Client) -> None:
    body = {"paper_ids": [KELP_ID, "no-such-paper"], "format": "ris"}
    response = http.post("/v1/citations/export", json=body)
    assert response.status_code == 404
    assert response.json()["error"] == {
        "code": "not_found",
        "message": "no paper with id 'no-such-paper' in the index",
    }
    empty = http.post("/v1/citations/export", json={"paper_ids": [], "format": "ris"})
    assert empty.status_code == 422 and "paper_ids" in empty.json()["error"]["message"]


def test_an_answer_carries_the_export_of_the_papers_it_cites_when_asked(
    http: httpx.Client,
) -> None:
    question = "How fast do kelp forests absorb carbon dioxide?"
    answer = http.post("/v1/ask", json={"question": question, "citation_format": "bibtex"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    cited = list(
        dict.fromkeys(c["paper_id"] for c in sorted(body["citations"], key=lambda c: c["n"]))
    )
    assert KELP_ID in cited
    export = body["citation_export"]
    assert export["format"] == "bibtex" and export["media_type"] == "application/x-bibtex"
    library = bibtexparser.parse_string(export["content"])
    assert [e["eprint"] for e in library.entries if "eprint" in e][:1] == ["2403.01234"]
    assert len(library.entries) == len(cited)
    # The same export as the endpoint gives for those papers, and the same in a stream.
    direct = http.post("/v1/citations/export", json={"paper_ids": cited, "format": "bibtex"})
    assert export["content"] == direct.text
    events = dict(
        stream_ask(http, {"question": question, "citation_format": "bibtex", "stream": True})
    )
    assert events["citations"]["citation_export"] == export


def test_an_answer_has_no_export_unless_asked(http: httpx.Client) -> None:
    body = http.post("/v1/ask", json={"question": "Where do tide pool snails go at dusk?"}).json()
    assert body["citations"] and body["citation_export"] is None
    bad = http.post("/v1/ask", json={"question": "Snails?", "citation_format": "word"})
    assert bad.status_code == 422 and "citation_format" in bad.json()["error"]["message"]


def test_the_openapi_schema_documents_the_formats(http: httpx.Client) -> None:
    spec = http.get("/openapi.json").json()
    paper = spec["paths"]["/v1/papers/{paper_id}"]["get"]
    assert set(MEDIA_TYPES[f][0] for f in MEDIA_TYPES) <= set(paper["responses"]["200"]["content"])
    assert "/v1/citations/export" in spec["paths"]
    ask = spec["components"]["schemas"]["AskRequest"]["properties"]["citation_format"]
    assert "bibtex" in json.dumps(ask) and ask["description"]
    assert spec["components"]["schemas"]["AskResponse"]["properties"]["citation_export"]


def test_an_abstention_has_no_export(client: httpx.Client) -> None:
    body = {"question": "What is the best recipe for sourdough bread?", "citation_format": "ris"}
    answer = client.post("/v1/ask", json=body).json()
    assert answer["abstained"] and answer["citations"] == []
    assert answer["citation_export"] is None


def test_a_page_of_a_configured_origin_can_read_the_file_name(keyed_server: KeyedServer) -> None:
    headers = {"Origin": ALLOWED_ORIGIN, **bearer(KEYS[0])}
    body = {"paper_ids": ["the-consciousness-prior-6a422aac"], "format": "bibtex"}
    response = httpx.post(f"{keyed_server.url}/v1/citations/export", json=body, headers=headers)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    exposed = response.headers["access-control-expose-headers"].lower()
    assert "content-disposition" in exposed
    assert response.headers["content-disposition"].startswith('attachment; filename="')
    refused = httpx.post(f"{keyed_server.url}/v1/citations/export", json=body)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "api_key_required"
