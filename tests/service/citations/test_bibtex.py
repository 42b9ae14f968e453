"""BibTeX written for the awkward corpus, read back by a real parser (bibtexparser 2)."""

from __future__ import annotations

import bibtexparser
from bibtexparser.middlewares import LatexDecodingMiddleware, SeparateCoAuthors, SplitNameParts
from bibtexparser.model import Entry

from indexer import IndexVersion
from service.citations.formats import citation_file
from tests.service.citations.corpus import (
    KELP_DOI,
    KELP_ID,
    KELP_TITLE,
    OLD_ARXIV_ID,
    PLAIN_ID,
    UNBALANCED_DOI,
    UNBALANCED_ID,
)

ALL = [KELP_ID, UNBALANCED_ID, OLD_ARXIV_ID, PLAIN_ID]


def bibtex_of(index: IndexVersion, *paper_ids: str) -> str:
    papers = [index.papers[p] for p in paper_ids]
    return citation_file(papers, "bibtex").content


def parse(text: str, decode: bool = False) -> list[Entry]:
    middleware = [LatexDecodingMiddleware()] if decode else [SeparateCoAuthors(), SplitNameParts()]
    library = bibtexparser.parse_string(text, append_middleware=middleware)
    assert not library.failed_blocks, [b.error for b in library.failed_blocks]
    return library.entries


def test_an_arxiv_paper_is_cited_with_its_eprint_class_doi_url_and_date(
    citations_index: IndexVersion,
) -> None:
    (entry,) = parse(bibtex_of(citations_index, KELP_ID))
    assert entry.entry_type == "article"  # it has a journal DOI
    assert entry["eprint"] == "2403.01234"
    assert entry["archivePrefix"] == "arXiv"
    assert entry["primaryClass"] == "q-bio.PE"
    assert entry["doi"] == KELP_DOI
    assert entry["url"] == "https://arxiv.org/abs/2403.01234"
    assert entry["year"] == "2024" and entry["month"] == "mar"


def test_authors_are_split_into_their_parts_with_particles_and_suffixes(
    citations_index: IndexVersion,
) -> None:
    (entry,) = parse(bibtex_of(citations_index, KELP_ID))
    names = [(n.first, n.von, n.last, n.jr) for n in entry["author"]]
    assert names == [
        (["Ana"], [], ["Ruiz"], []),
        (["Jan"], ["van", "der"], ["Berg"], []),
        (["Martin", "Luther"], [], ["King"], ["Jr."]),
    ]


def test_a_title_with_bibtex_special_characters_and_accents_reads_back_as_the_title(
    citations_index: IndexVersion,
) -> None:
    text = bibtex_of(citations_index, KELP_ID)
    assert "Café naïve" in text  # Unicode is kept, not turned into TeX accents
    (entry,) = parse(text, decode=True)
    assert entry["title"] == KELP_TITLE


def test_unbalanced_braces_in_a_title_leave_the_entry_balanced_and_parseable(
    citations_index: IndexVersion,
) -> None:
    text = bibtex_of(citations_index, UNBALANCED_ID)
    (entry,) = parse(text)
    title = entry["title"]
    assert title == (
        r"An unbalanced \textbraceright{} brace and a lone \textbraceleft{} in Zoë's title"
    )
    assert entry["doi"] == UNBALANCED_DOI
    assert entry["journal"] == "Journal of Marine Ecology"
    # Every entry that follows still parses: the file's braces balance.
    entries = parse(bibtex_of(citations_index, UNBALANCED_ID, PLAIN_ID))
    assert [e.key for e in entries][1:] == [parse(bibtex_of(citations_index, PLAIN_ID))[0].key]


def test_an_old_style_arxiv_preprint_is_a_misc_entry_with_backslash_tilde_and_caret_escaped(
    citations_index: IndexVersion,
) -> None:
    (entry,) = parse(bibtex_of(citations_index, OLD_ARXIV_ID), decode=True)
    assert entry.entry_type == "misc"
    assert entry["eprint"] == "hep-th/9901001" and entry["archivePrefix"] == "arXiv"
    assert entry["title"].startswith("Strings on a lattice with a back\\slash, ~tilde and ")
    assert "doi" not in entry.fields_dict


def test_citation_keys_are_unique_and_the_same_in_every_export(
    citations_index: IndexVersion,
) -> None:
    together = [e.key for e in parse(bibtex_of(citations_index, *ALL))]
    alone = [parse(bibtex_of(citations_index, p))[0].key for p in ALL]
    assert together == alone
    assert len(set(together)) == len(ALL)
    assert together[0].startswith("ruiz2024kelp-")
    assert together[1].startswith("odegaard2023unbalanced-")  # Ø made ASCII
    assert all(key.isascii() for key in together)
