"""CSL-JSON written for the awkward corpus, loaded and rendered by a real CSL processor
(citeproc-py, with its bundled Harvard style)."""

from __future__ import annotations

import json

import pytest
from citeproc import (
    Citation,
    CitationItem,
    CitationStylesBibliography,
    CitationStylesStyle,
    formatter,
)
from citeproc.source.json import CiteProcJSON

from indexer import IndexVersion
from service.citations.formats import citation_file
from tests.service.citations.corpus import (
    KELP_DOI,
    KELP_ID,
    KELP_TITLE,
    OLD_ARXIV_ID,
    PLAIN_ID,
    UNBALANCED_ID,
)

ALL = [KELP_ID, UNBALANCED_ID, OLD_ARXIV_ID, PLAIN_ID]


def csl_of(index: IndexVersion, *paper_ids: str) -> list[dict]:  # type: ignore[type-arg]
    content = citation_file([index.papers[p] for p in paper_ids], "csl-json").content
    return json.loads(content)  # type: ignore[no-any-return]


@pytest.mark.filterwarnings(
    # citeproc-py predates CSL 1.0.2 and warns about its citation-key variable; it renders the rest.
    "ignore:The following arguments for Reference are unsupported:UserWarning"
)
def test_citeproc_renders_a_bibliography_with_every_title_and_author(
    citations_index: IndexVersion,
) -> None:
    items = csl_of(citations_index, *ALL)
    style = CitationStylesStyle("harvard-cite-them-right", validate=False)
    bibliography = CitationStylesBibliography(style, CiteProcJSON(items), formatter.plain)
    for paper_id in ALL:
        bibliography.register(Citation([CitationItem(paper_id)]))
    rendered = "\n".join(str(entry) for entry in bibliography.bibliography())
    for fragment in (
        "Ruiz, A.",
        "van der Berg, J.",
        "Ødegaard, Z.",
        "(2024)",
        "Kelp forests {re}absorb 50% of CO_2 & $5 #1 carbon: Café naïve",
        "An unbalanced } brace and a lone { in Zoë's title",
        "Journal of Marine Ecology",
        "Tide pool snails return home at dusk",
    ):
        assert fragment in rendered, (fragment, rendered)


def test_an_arxiv_paper_has_its_doi_url_date_and_arxiv_archive_and_number(
    citations_index: IndexVersion,
) -> None:
    (item,) = csl_of(citations_index, KELP_ID)
    assert item["id"] == KELP_ID and item["title"] == KELP_TITLE
    assert item["type"] == "article-journal"
    assert item["author"][2] == {"family": "King", "given": "Martin Luther", "suffix": "Jr."}
    assert item["issued"] == {"date-parts": [[2024, 3, 5]]}
    assert item["DOI"] == KELP_DOI
    assert item["URL"] == "https://arxiv.org/abs/2403.01234"
    assert (item["archive"], item["number"]) == ("arXiv", "2403.01234")
    (old,) = csl_of(citations_index, OLD_ARXIV_ID)
    assert old["type"] == "article"  # CSL's type for preprints
    assert (old["archive"], old["number"]) == ("arXiv", "hep-th/9901001")
    assert "DOI" not in old
