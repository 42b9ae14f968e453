"""CSL-JSON, the item format of the Citation Style Language (citeproc-js, citeproc-py, Pandoc,
Zotero): ``type`` ``article-journal`` for journal or DOI'd works, ``article`` (CSL's type for
preprints) otherwise; an arXiv paper has ``archive: arXiv`` and ``number`` (its id), as Zotero
writes them, and the id in ``note`` too, which styles that print no archive still show."""

from __future__ import annotations

import json
from typing import Any

from service.citations.record import CitationRecord, Name


def _name(name: Name) -> dict[str, str]:
    if not name.given:
        return {"literal": name.family} if not name.suffix else {"family": name.family}
    out = {"family": name.family, "given": name.given}
    if name.suffix:
        out["suffix"] = name.suffix
    return out


def item(record: CitationRecord) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": record.paper_id,
        "citation-key": record.key,
        "type": "article-journal" if record.published_in_venue else "article",
        "title": record.title,
        "author": [_name(n) for n in record.authors],
        "abstract": record.abstract,
    }
    if record.year:
        parts = [record.year, record.month, record.day if record.month else None]
        out["issued"] = {"date-parts": [[p for p in parts if p]]}
    if record.venue:
        out["container-title"] = record.venue
    if record.doi:
        out["DOI"] = record.doi
    if record.url:
        out["URL"] = record.url
    if record.arxiv_id:
        out["archive"] = "arXiv"
        out["number"] = record.arxiv_id
        out["note"] = f"arXiv:{record.arxiv_id}"
    return out


def render(records: list[CitationRecord]) -> str:
    return json.dumps([item(r) for r in records], ensure_ascii=False, indent=2) + "\n"
