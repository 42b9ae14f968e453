"""BibTeX entries: ``@article`` for works in a journal or with a DOI, ``@misc`` otherwise; an
arXiv paper carries ``eprint``/``archivePrefix``/``primaryClass`` (biblatex and natbib styles
print these as the arXiv link). Values keep their Unicode (biber, and bibtex with
``\\usepackage[utf8]{inputenc}``, read it) and have BibTeX's special characters escaped."""

from __future__ import annotations

from service.citations.record import CitationRecord

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_ESCAPES = {
    "\\": r"\textbackslash{}",
    "%": r"\%",
    "&": r"\&",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


def escape(text: str) -> str:
    """``text`` as a braced BibTeX value that reads back as ``text``. BibTeX counts every brace
    of a value, escaped or not, so braces become ``\\{``/``\\}`` only where they pair up;
    otherwise ``\\textbraceleft{}``/``\\textbraceright{}``, which leave the count balanced."""
    braces = (
        {"{": r"\{", "}": r"\}"}
        if _balanced(text)
        else {"{": r"\textbraceleft{}", "}": r"\textbraceright{}"}
    )
    table = {**_ESCAPES, **braces}
    return "".join(table.get(char, char) for char in " ".join(text.split()))


def entry(record: CitationRecord) -> str:
    fields: list[tuple[str, str]] = [("title", escape(record.title))]
    if record.authors:
        names = " and ".join(escape(name.bibtex) for name in record.authors)
        fields.append(("author", names))
    if record.venue:
        fields.append(("journal", escape(record.venue)))
    if record.year:
        fields.append(("year", str(record.year)))
    if record.doi:
        fields.append(("doi", escape(record.doi)))
    if record.arxiv_id:
        fields.append(("eprint", record.arxiv_id))
        fields.append(("archivePrefix", "arXiv"))
        if record.primary_class:
            fields.append(("primaryClass", escape(record.primary_class)))
    if record.url:
        # The url field is read verbatim (the url package), so only % and # need escaping.
        fields.append(("url", record.url.replace("%", r"\%").replace("#", r"\#")))
    fields.append(("abstract", escape(record.abstract)))
    kind = "article" if record.published_in_venue else "misc"
    lines = [f"@{kind}{{{record.key},"]
    lines += [f"  {name} = {{{value}}}," for name, value in fields]
    if record.month:
        # An unbraced month macro: bibtex styles print it in the document's language.
        lines.append(f"  month = {_MONTHS[record.month - 1]},")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(records: list[CitationRecord]) -> str:
    return "\n".join(entry(r) for r in records)
