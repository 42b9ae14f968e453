"""The arXiv metadata snapshot: one JSON object per line, as arXiv publishes it (Kaggle).

Fields used: ``id`` (``0704.0001`` or old-style ``math/0601001``), ``title``, ``abstract``
(both with hard line breaks and indentation, collapsed here), ``authors_parsed`` (``[[last,
first, suffix], ...]``, else the ``authors`` string), ``versions`` (the first one's
``created`` is the publication date), ``categories`` (space-separated), ``doi``,
``journal-ref`` and ``update_date``. The paper id is ``arxiv:<id>``, the form
``indexer.identity`` gives arXiv ids found in urls, so the same paper read from another
source merges with it.
"""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from typing import Any

from indexer.identity import find_arxiv_id
from indexer.models import PaperRecord
from indexer.readers._tally import Tally
from indexer.readers._text import clean_text, parse_authors

ABS_URL = "https://arxiv.org/abs/"
# Keys that tell an arXiv snapshot line from other JSON Lines.
SIGNATURE = frozenset({"authors_parsed", "versions", "submitter", "journal-ref"})


def looks_like_arxiv(first: dict[str, Any]) -> bool:
    return {"id", "title", "abstract"} <= first.keys() and bool(SIGNATURE & first.keys())


def arxiv_record(fields: dict[str, Any], location: str, tally: Tally) -> PaperRecord:
    arxiv_id = clean_text(fields.get("id")) if isinstance(fields.get("id"), str) else ""
    url = f"{ABS_URL}{arxiv_id}" if arxiv_id else None
    probe = PaperRecord(title="", abstract="", source="", location="", url=url)
    paper_id = (find_arxiv_id(probe) or f"arxiv:{arxiv_id}") if arxiv_id else None
    metadata = {
        "categories": str(fields.get("categories") or "").split(),
        "doi": clean_text(fields.get("doi")),
        "journal_ref": clean_text(fields.get("journal-ref")),
        "update_date": clean_text(fields.get("update_date")),
    }
    return PaperRecord(
        title=clean_text(fields.get("title")),
        abstract=clean_text(fields.get("abstract")),
        source=tally.source,
        location=location,
        id=paper_id,
        authors=_authors(fields),
        url=url,
        published=_first_version_date(fields.get("versions"), location, tally),
        metadata={key: value for key, value in metadata.items() if value},
    )


def _authors(fields: dict[str, Any]) -> list[str]:
    parsed = fields.get("authors_parsed")
    if isinstance(parsed, list) and parsed:
        names = []
        for parts in parsed:
            if isinstance(parts, list):
                # [last, first, suffix]: "First Last Suffix"
                words = [clean_text(p) for p in (parts[1:2] + parts[:1] + parts[2:3])]
                name = " ".join(word for word in words if word)
                if name:
                    names.append(name)
        if names:
            return names
    return parse_authors(fields.get("authors"))


def _first_version_date(versions: Any, location: str, tally: Tally) -> str | None:
    if not isinstance(versions, list) or not versions or not isinstance(versions[0], dict):
        return None
    created = versions[0].get("created")
    if not isinstance(created, str) or not created.strip():
        return None
    try:
        return parsedate_to_datetime(created).date().isoformat()
    except (TypeError, ValueError):
        tally.warning(location, f"unparseable version date {clean_text(created)!r}; date dropped")
        return None
