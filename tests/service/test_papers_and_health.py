"""/healthz, /readyz, /v1/papers, OpenAPI docs."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from indexer.embedders.base import Embedder
from service.app import create_app
from service.settings import Settings
from tests.fakes.live_server import LiveServer


def test_readyz_reports_the_index_version_and_paper_count(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["index_version"] == "v000001" and ready.json()["papers"] == 54


def test_readyz_says_warm_once_the_background_warm_up_has_ended(
    corpus_index_dir: Path, embedder: Embedder
) -> None:
    app = create_app(Settings(index_dir=corpus_index_dir), embedder=embedder)
    with LiveServer(app) as server, httpx.Client(base_url=server.url) as http:
        deadline = time.monotonic() + 120
        while (body := http.get("/readyz")).status_code != 200 or not body.json()["warm"]:
            assert time.monotonic() < deadline, body.json()
            time.sleep(0.05)
        # What the warm-up does is done: every sentence vector of the small index is embedded.
        assert app.state.service.loaded.sentences.complete
        assert http.get("/readyz").json()["warm"] is True


def test_readyz_is_503_with_the_reason_when_the_index_cannot_be_loaded(
    tmp_path: Path, embedder: Embedder
) -> None:
    app = create_app(Settings(index_dir=tmp_path / "missing"), embedder=embedder)
    with LiveServer(app) as server, httpx.Client(base_url=server.url) as http:
        assert http.get("/healthz").status_code == 200
        for _ in range(200):
            body = http.get("/readyz")
            if body.json()["status"] == "failed":
                break
        assert body.status_code == 503
        assert "no index at" in body.json()["error"]
        search = http.post("/v1/search", json={"query": "x"})
        assert search.status_code == 503 and search.json()["error"]["code"] == "index_not_ready"


def test_papers_can_be_paged_and_searched(client: httpx.Client) -> None:
    first = client.get("/v1/papers", params={"limit": 20}).json()
    second = client.get("/v1/papers", params={"limit": 20, "offset": 20}).json()
    third = client.get("/v1/papers", params={"limit": 20, "offset": 40}).json()
    assert first["total"] == 54 and len(first["papers"]) == 20 and len(third["papers"]) == 14
    ids = [p["paper_id"] for page in (first, second, third) for p in page["papers"]]
    assert len(set(ids)) == 54
    found = client.get("/v1/papers", params={"q": "japanese ACCEPTABILITY"}).json()
    assert [p["paper_id"] for p in found["papers"]] == [
        "jcola-japanese-corpus-of-linguistic-acceptability-06dece5f"
    ]


def test_a_paper_has_its_abstract_and_sentences(client: httpx.Client) -> None:
    paper = client.get("/v1/papers/the-consciousness-prior-6a422aac").json()
    assert paper["title"] == "The Consciousness Prior"
    assert " ".join(paper["sentences"]) == paper["abstract"]


def test_openapi_describes_every_field(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    assert {
        "/v1/search",
        "/v1/ask",
        "/v1/papers",
        "/v1/papers/{paper_id}",
        "/healthz",
        "/readyz",
    } <= set(spec["paths"])
    for name in ("SearchRequest", "AskResponse", "CitationOut"):
        properties = spec["components"]["schemas"][name]["properties"]
        assert properties
    assert client.get("/docs").status_code == 200


def test_every_field_of_every_schema_is_described(client: httpx.Client) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    ours = {
        name: s
        for name, s in schemas.items()
        if not name.startswith(("HTTPValidationError", "ValidationError"))
    }
    undocumented = [
        f"{name}.{field}"
        for name, schema in ours.items()
        for field, spec in schema.get("properties", {}).items()
        if not spec.get("description")
    ]
    assert undocumented == []
