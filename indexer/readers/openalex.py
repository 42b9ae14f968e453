"""OpenAlex works, one JSON object per line (the snapshot's or the API's ``results``).

The abstract comes as ``abstract_inverted_index`` (``{word: [positions]}``) and is rebuilt by
putting each word at its positions. The paper id is ``openalex:<work id>`` (``openalex:W2741809807``
for ``https://openalex.org/W2741809807``); metadata keeps the DOI (without its URL prefix), the
year, the venue and compact lists of concept and topic names.
"""

from __future__ import annotations

from typing import Any

from indexer.models import PaperRecord
from indexer.readers._tally import Tally
from indexer.readers._text import checked_date, clean_text

WORK_PREFIX = "https://openalex.org/"
DOI_PREFIX = "https://doi.org/"
MAX_NAMES = 10  # concept and topic names kept; OpenAlex lists dozens of weak concepts


def looks_like_openalex(first: dict[str, Any]) -> bool:
    work = first.get("id")
    return "abstract_inverted_index" in first or (
        isinstance(work, str) and work.startswith(WORK_PREFIX)
    )


def openalex_record(fields: dict[str, Any], location: str, tally: Tally) -> PaperRecord:
    work = fields.get("id")
    work_id = clean_text(work).removeprefix(WORK_PREFIX) if isinstance(work, str) else ""
    doi = clean_text(fields.get("doi")) if isinstance(fields.get("doi"), str) else ""
    primary = _mapping(fields.get("primary_location"))
    url = clean_text(primary.get("landing_page_url")) or doi or None
    metadata = {
        "doi": doi.removeprefix(DOI_PREFIX),
        "publication_year": fields.get("publication_year"),
        "venue": clean_text(_mapping(primary.get("source")).get("display_name")),
        "concepts": _names(fields.get("concepts")),
        "topics": _names(fields.get("topics")),
    }
    date = fields.get("publication_date") or fields.get("publication_year")
    return PaperRecord(
        title=clean_text(fields.get("title") or fields.get("display_name")),
        abstract=rebuild_abstract(fields.get("abstract_inverted_index")),
        source=tally.source,
        location=location,
        id=f"openalex:{work_id}" if work_id else None,
        authors=_authors(fields.get("authorships")),
        url=url,
        published=checked_date(date, location, tally),
        metadata={key: value for key, value in metadata.items() if value},
    )


def rebuild_abstract(index: Any) -> str:
    """The text of an inverted index: each word at each of its positions, joined by spaces."""
    placed = [
        (position, word)
        for word, positions in _mapping(index).items()
        for position in _list(positions)
        if isinstance(position, int) and not isinstance(position, bool)
    ]
    placed.sort(key=lambda pair: pair[0])
    return clean_text(" ".join(str(word) for _, word in placed))


def _authors(authorships: Any) -> list[str]:
    authors = (_mapping(_mapping(item).get("author")) for item in _list(authorships))
    names = (clean_text(author.get("display_name")) for author in authors)
    return [name for name in names if name]


def _names(items: Any) -> list[str]:
    names = [clean_text(_mapping(item).get("display_name")) for item in _list(items)]
    return [name for name in names if name][:MAX_NAMES]


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
