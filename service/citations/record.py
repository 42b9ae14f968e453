"""What a citation says about a paper, read once from the indexed record for every format.

Readers store identifiers in different places: the arXiv reader gives ``arxiv:<id>`` ids, an
``arxiv.org/abs`` url and ``metadata.doi``/``categories``/``journal_ref``; OpenAlex gives
``metadata.doi`` (without ``https://doi.org/``), ``venue`` and ``publication_year``; JSON Lines
records keep any ``doi``/``arxiv_id`` field as metadata. The indexer's own arXiv id finder
(the one paper ids come from) reads the url and metadata, so both agree on what is an arXiv id.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

from indexer import Paper, PaperRecord, find_arxiv_id

_DOI = re.compile(r"10\.\d{4,9}/\S+")
_DOI_URL_PREFIXES = ("https://doi.org/", "http://doi.org/", "https://dx.doi.org/", "doi:")
# Lower-case words that belong to the family name ("van der Berg", "de la Cruz").
_PARTICLES = frozenset(
    {"van", "von", "der", "den", "de", "del", "della", "di", "da", "das", "dos", "du"}
    | {"la", "le", "ten", "ter", "bin", "al", "el", "st"}
)
_SUFFIXES = frozenset({"jr", "jr.", "sr", "sr.", "ii", "iii", "iv"})


@dataclass(frozen=True)
class Name:
    """An author's name split as CSL splits it; ``family`` alone for a one-word name."""

    family: str
    given: str = ""
    suffix: str = ""

    @property
    def bibtex(self) -> str:
        """``Family, Given``; with a suffix ``Family, Jr., Given``, as BibTeX reads names."""
        return ", ".join(part for part in (self.family, self.suffix, self.given) if part)

    @property
    def ris(self) -> str:
        """``Family, Given``; with a suffix ``Family, Given, Jr.``, as RIS's AU tag has them."""
        return ", ".join(part for part in (self.family, self.given, self.suffix) if part)


@dataclass(frozen=True)
class CitationRecord:
    paper_id: str
    key: str
    title: str
    authors: list[Name]
    abstract: str
    url: str | None
    doi: str | None
    arxiv_id: str | None  # without the "arxiv:" prefix: 2401.00001 or hep-th/9901001
    primary_class: str | None  # the arXiv category listed first
    venue: str | None  # the journal or source, when the record names one
    year: int | None
    month: int | None
    day: int | None

    @property
    def published_in_venue(self) -> bool:
        """A journal's or DOI'd work (``@article``); else a preprint or other (``@misc``)."""
        return bool(self.venue or (self.doi and not self.doi.lower().startswith("10.48550/")))


def split_name(name: str) -> Name:
    """ "Given [particles] Family [Jr.]" as the readers store names, into its parts."""
    words = name.split()
    if not words:
        return Name(family=name)
    suffix = ""
    if len(words) > 2 and words[-1].casefold().rstrip(",") in _SUFFIXES:
        suffix = words.pop().rstrip(",")
    if len(words) == 1:
        return Name(family=words[0], suffix=suffix)
    start = len(words) - 1
    while start > 1 and words[start - 1] in _PARTICLES:
        start -= 1
    return Name(family=" ".join(words[start:]), given=" ".join(words[:start]), suffix=suffix)


def find_doi(paper: Paper) -> str | None:
    for value in (paper.metadata.get("doi"), paper.url):
        if isinstance(value, str):
            text = value.strip()
            for prefix in _DOI_URL_PREFIXES:
                if text.lower().startswith(prefix):
                    text = text[len(prefix) :]
            match = _DOI.fullmatch(text)
            if match:
                return match.group(0)
    return None


def find_arxiv(paper: Paper) -> str | None:
    if paper.paper_id.startswith("arxiv:"):
        return paper.paper_id.removeprefix("arxiv:")
    probe = PaperRecord(
        title="", abstract="", source="", location="", url=paper.url, metadata=paper.metadata
    )
    found = find_arxiv_id(probe)
    return found.removeprefix("arxiv:") if found else None


def _date(paper: Paper) -> tuple[int | None, int | None, int | None]:
    if paper.published:
        parts = [int(p) for p in paper.published.split("-")[:3] if p.isdigit()]
        parts += [0] * (3 - len(parts))
        return parts[0] or None, parts[1] or None, parts[2] or None
    year = paper.metadata.get("publication_year")
    return (year if isinstance(year, int) else None), None, None


# Letters NFKD does not take apart into an ASCII letter and an accent.
_LETTERS = str.maketrans(
    {
        "ø": "o",
        "Ø": "O",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "ß": "ss",
        "ł": "l",
        "Ł": "L",
        "đ": "d",
        "Đ": "D",
        "þ": "th",
        "ı": "i",
    }
)


def _ascii_word(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.translate(_LETTERS))
    return "".join(c for c in decomposed if c.isascii() and c.isalnum())


def citation_key(paper: Paper, authors: list[Name], year: int | None) -> str:
    """``ruiz2024kelp-3fa2``: first author's family name, year, first word of the title, and
    four hex digits of the paper id, so the key is the same in every export and two papers of
    one author, year and title word still differ. ASCII only, as BibTeX keys must be."""
    family = _ascii_word(authors[0].family).lower() if authors else ""
    words = (_ascii_word(w).lower() for w in paper.title.split())
    word = next((w for w in words if len(w) > 3), "") or "paper"
    digest = hashlib.sha1(paper.paper_id.encode("utf-8")).hexdigest()[:4]
    return f"{family}{year or ''}{word}-{digest}"


def citation_record(paper: Paper) -> CitationRecord:
    authors = [split_name(a) for a in paper.authors if a.strip()]
    year, month, day = _date(paper)
    categories = paper.metadata.get("categories")
    primary = categories[0] if isinstance(categories, list) and categories else None
    venue = paper.metadata.get("journal_ref") or paper.metadata.get("venue")
    return CitationRecord(
        paper_id=paper.paper_id,
        key=citation_key(paper, authors, year),
        title=paper.title,
        authors=authors,
        abstract=paper.abstract,
        url=paper.url,
        doi=find_doi(paper),
        arxiv_id=find_arxiv(paper),
        primary_class=str(primary) if primary else None,
        venue=str(venue) if venue else None,
        year=year,
        month=month,
        day=day,
    )
