"""POST /v1/admin/papers and DELETE /v1/admin/papers/{id}: the indexer's incremental path, then
a reload, so the change is served when the response arrives."""

from __future__ import annotations

import threading
from typing import Any

import httpx

from tests.service.admin.conftest import (
    BEES,
    KELP,
    KELP_QUESTION,
    AdminServer,
    top_paper,
)


def versions(server: AdminServer) -> list[str]:
    return sorted(p.name for p in (server.index_dir / "versions").iterdir())


def test_a_paper_added_over_http_is_searchable_and_answerable_once_the_response_arrives(
    admin: httpx.Client,
) -> None:
    response = admin.post("/v1/admin/papers", json=KELP)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["added"] == [KELP["id"]] and body["updated"] == body["unchanged"] == []
    assert (body["old_version"], body["version"], body["papers"]) == ("v000001", "v000002", 55)

    assert top_paper(admin, KELP_QUESTION) == KELP["id"]
    answer = admin.post("/v1/ask", json={"question": KELP_QUESTION}).json()
    assert not answer["abstained"] and answer["index_version"] == "v000002"
    assert KELP["id"] in {c["paper_id"] for c in answer["citations"]}
    paper = admin.get(f"/v1/papers/{KELP['id']}").json()
    assert paper["authors"] == KELP["authors"] and paper["published"] == KELP["published"]
    assert paper["abstract"] == KELP["abstract"]


def test_adding_updating_and_removing_papers_reports_each_paper_and_the_version_served(
    admin_server: AdminServer, admin: httpx.Client
) -> None:
    assert admin.post("/v1/admin/papers", json=[KELP]).json()["version"] == "v000002"

    id_less_copy = {k: v for k, v in KELP.items() if k != "id"}
    again = admin.post("/v1/admin/papers", json=[KELP, id_less_copy]).json()
    assert again["unchanged"] == [KELP["id"]] and again["added"] == again["updated"] == []
    assert len(again["merged"]) == 1 and again["merged"][0].startswith("papers[1]: duplicate of")
    assert again["version"] == "v000002" and versions(admin_server) == ["v000001", "v000002"]

    revised = KELP | {"abstract": KELP["abstract"] + " Warming reverses the effect."}
    both = admin.post("/v1/admin/papers", json=[revised, BEES]).json()
    assert both["updated"] == [KELP["id"]] and both["added"] == [BEES["id"]]
    assert (both["version"], both["papers"]) == ("v000003", 56)
    assert admin.get(f"/v1/papers/{KELP['id']}").json()["abstract"].endswith("the effect.")

    removed = admin.delete(f"/v1/admin/papers/{KELP['id']}")
    assert removed.status_code == 200, removed.text
    assert removed.json()["removed"] == [KELP["id"]]
    assert (removed.json()["version"], removed.json()["papers"]) == ("v000004", 55)
    assert admin.get(f"/v1/papers/{KELP['id']}").status_code == 404
    assert top_paper(admin, KELP_QUESTION) != KELP["id"]

    unknown = admin.delete(f"/v1/admin/papers/{KELP['id']}")
    assert unknown.status_code == 404
    assert unknown.json()["error"] == {
        "code": "not_found",
        "message": f"no paper with id {KELP['id']!r} in the index",
    }
    assert admin.get("/readyz").json()["index_version"] == "v000004"


def test_a_paper_id_with_a_slash_can_be_fetched_and_removed(admin: httpx.Client) -> None:
    old_style = BEES | {"id": "arxiv:q-bio/0401001"}
    assert admin.post("/v1/admin/papers", json=old_style).json()["added"] == [old_style["id"]]
    # As written, and percent-encoded the way the chat page's encodeURIComponent sends it.
    for path in ("/v1/papers/arxiv:q-bio/0401001", "/v1/papers/arxiv%3Aq-bio%2F0401001"):
        fetched = admin.get(path)
        assert fetched.status_code == 200, path
        assert fetched.json()["paper_id"] == old_style["id"]
    removed = admin.delete(f"/v1/admin/papers/{old_style['id']}")
    assert removed.status_code == 200 and removed.json()["removed"] == [old_style["id"]]


def test_papers_the_indexer_cannot_use_are_refused_naming_the_paper_and_nothing_is_written(
    admin_server: AdminServer, admin: httpx.Client
) -> None:
    cases: list[tuple[Any, int, list[str]]] = [
        ([], 422, ["at least 1 item"]),
        ({"title": "Only a title"}, 422, ["0.abstract", "Field required"]),
        ([KELP, {"title": "   ", "abstract": "Some text."}], 400, ["papers[1]: no title"]),
        ([KELP | {"titel": "typo"}], 422, ["0.titel", "Extra inputs are not permitted"]),
        ([KELP, BEES | {"published": "someday"}], 400, ["papers[1]: unparseable published"]),
        ({"title": 5, "abstract": "x"}, 422, ["0.title"]),
        ("a string", 422, ["Input should be a valid list"]),
    ]
    for body, status, expected in cases:
        response = admin.post("/v1/admin/papers", json=body)
        assert response.status_code == status, (body, response.text)
        error = response.json()["error"]
        assert error["code"] == "invalid_request"
        for part in expected:
            assert part in error["message"], (body, error["message"])
    not_json = admin.post(
        "/v1/admin/papers", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 400 and "not valid JSON" in not_json.json()["error"]["message"]
    assert versions(admin_server) == ["v000001"]
    assert admin.get("/readyz").json()["index_version"] == "v000001"


def test_concurrent_admin_writes_are_applied_one_after_another(
    admin_server: AdminServer,
) -> None:
    responses: dict[str, httpx.Response] = {}

    def add(paper: dict[str, Any]) -> None:
        with admin_server.client() as http:
            responses[paper["id"]] = http.post("/v1/admin/papers", json=paper)

    threads = [threading.Thread(target=add, args=(p,)) for p in (KELP, BEES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert all(r.status_code == 200 for r in responses.values()), responses
    assert {r.json()["version"] for r in responses.values()} == {"v000002", "v000003"}
    with admin_server.client() as http:
        ready = http.get("/readyz").json()
        assert (ready["index_version"], ready["papers"]) == ("v000003", 56)
        assert top_paper(http, KELP_QUESTION) == KELP["id"]
        assert top_paper(http, "honeybee waggle dance thermal cameras") == BEES["id"]
