"""What a citation reads from a paper's record: names, DOIs and arXiv ids wherever the readers
put them."""

from __future__ import annotations

import json

from indexer import Paper
from service.citations.formats import citation_file
from service.citations.record import Name, citation_record, split_name


def paper(**fields: object) -> Paper:
    base: dict[str, object] = {
        "paper_id": "p1",
        "title": "A title",
        "abstract": "An abstract.",
        "sentences": ["An abstract."],
        "content_hash": "0",
    }
    return Paper(**{**base, **fields})  # type: ignore[arg-type]


def test_names_keep_particles_with_the_family_name_and_suffixes_apart() -> None:
    assert split_name("Ana Ruiz") == Name("Ruiz", "Ana")
    assert split_name("Ludwig van Beethoven") == Name("van Beethoven", "Ludwig")
    assert split_name("Maria de la Cruz") == Name("de la Cruz", "Maria")
    assert split_name("Martin Luther King Jr.") == Name("King", "Martin Luther", "Jr.")
    assert split_name("Aristotle") == Name("Aristotle")


def test_a_one_word_author_is_a_literal_name_in_csl_json() -> None:
    text = citation_file([paper(authors=["OpenAI", "Wei Zhang"])], "csl-json").content
    assert json.loads(text)[0]["author"] == [
        {"literal": "OpenAI"},
        {"family": "Zhang", "given": "Wei"},
    ]


def test_a_doi_is_found_in_the_metadata_or_a_doi_url() -> None:
    assert citation_record(paper(metadata={"doi": "doi:10.1000/xyz.1"})).doi == "10.1000/xyz.1"
    assert citation_record(paper(url="https://doi.org/10.1145/3292500.3330701")).doi == (
        "10.1145/3292500.3330701"
    )
    assert citation_record(paper(metadata={"doi": "not a doi"})).doi is None


def test_an_arxiv_id_is_found_in_the_id_the_url_or_an_arxiv_metadata_field() -> None:
    assert citation_record(paper(paper_id="arxiv:2401.00001")).arxiv_id == "2401.00001"
    assert citation_record(paper(url="https://arxiv.org/pdf/2305.12345v3")).arxiv_id == (
        "2305.12345"
    )
    assert citation_record(paper(metadata={"arxiv_id": "2202.01234"})).arxiv_id == "2202.01234"
    # A bare number under another key is not taken for one.
    assert citation_record(paper(metadata={"pages": "2202.01234"})).arxiv_id is None


def test_an_arxiv_doi_alone_leaves_a_paper_a_preprint() -> None:
    preprint = citation_record(
        paper(paper_id="arxiv:2401.00001", metadata={"doi": "10.48550/arXiv.2401.00001"})
    )
    assert not preprint.published_in_venue
    assert citation_file([paper(metadata={"doi": "10.1000/x"})], "bibtex").content.startswith(
        "@article{"
    )
