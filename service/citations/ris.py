"""RIS (the Research Information Systems tagged format EndNote, Zotero and Mendeley import):
``TAG  - value`` lines, CRLF line ends as the format's specification has them, one ``AU`` per
author, each record closed by ``ER  -``."""

from __future__ import annotations

from service.citations.record import CitationRecord


def _line(tag: str, value: str) -> str:
    return f"{tag}  - {' '.join(value.split())}".rstrip()


def entry(record: CitationRecord) -> str:
    lines = [_line("TY", "JOUR" if record.published_in_venue else "GEN"), _line("ID", record.key)]
    lines.append(_line("TI", record.title))
    lines += [_line("AU", name.ris) for name in record.authors]
    if record.year:
        lines.append(_line("PY", str(record.year)))
        # DA is YYYY/MM/DD/other; unknown parts stay empty.
        month = f"{record.month:02d}" if record.month else ""
        day = f"{record.day:02d}" if record.day and record.month else ""
        lines.append(_line("DA", f"{record.year}/{month}/{day}/"))
    if record.venue:
        lines.append(_line("JO", record.venue))
    if record.doi:
        lines.append(_line("DO", record.doi))
    if record.url:
        lines.append(_line("UR", record.url))
    if record.arxiv_id:
        lines.append(_line("N1", f"arXiv:{record.arxiv_id}"))
        if record.primary_class:
            lines.append(_line("KW", record.primary_class))
    lines.append(_line("AB", record.abstract))
    lines.append("ER  - ")
    return "\r\n".join(lines) + "\r\n"


def render(records: list[CitationRecord]) -> str:
    return "\r\n".join(entry(r) for r in records)
