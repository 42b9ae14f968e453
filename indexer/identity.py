"""Paper identity: stable ids, content hashes, and merging of duplicate records."""

from __future__ import annotations

import copy
import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from indexer.models import PaperRecord, RecordError

SLUG_MAX_CHARS = 60
TITLE_HASH_CHARS = 8

_WORD = re.compile(r"[a-z0-9]+")
# Archives of pre-2007 arXiv ids ("hep-th/9901001"); listed so that a bare "xx/1234567"
# path elsewhere in the metadata is not taken for one.
_OLD_ARCHIVES = (
    "acc-phys|adap-org|alg-geom|ao-sci|astro-ph|atom-ph|bayes-an|chao-dyn|chem-ph|cmp-lg|"
    "comp-gas|cond-mat|cs|dg-ga|funct-an|gr-qc|hep-ex|hep-lat|hep-ph|hep-th|math-ph|math|"
    "mtrl-th|nlin|nucl-ex|nucl-th|patt-sol|physics|plasm-ph|q-alg|q-bio|quant-ph|solv-int|"
    "supr-con"
)
_NEW_ID = r"(?P<new>\d{4}\.\d{4,5})(?:v\d+)?(?!\d)"
_OLD_ID = rf"(?P<archive>{_OLD_ARCHIVES})(?:\.[A-Za-z]{{2}})?/(?P<number>\d{{7}})(?:v\d+)?(?!\d)"
_PREFIXED_ID = re.compile(
    rf"(?:arxiv\.org/(?:abs|pdf)/|\barxiv[:.]\s?)(?:{_NEW_ID}|{_OLD_ID})", re.IGNORECASE
)
_BARE_OLD_ID = re.compile(rf"(?<![\w./-]){_OLD_ID}")
_BARE_NEW_ID = re.compile(_NEW_ID)


class _PunctuationRemover(dict[int, int | None]):
    """A str.translate table mapping Unicode punctuation to nothing, filled in as chars appear."""

    def __missing__(self, codepoint: int) -> int | None:
        keep = not unicodedata.category(chr(codepoint)).startswith("P")
        self[codepoint] = codepoint if keep else None
        return self[codepoint]


_REMOVE_PUNCTUATION = _PunctuationRemover()


@dataclass
class DedupResult:
    """Distinct papers as (paper_id, merged record) in first-seen order, and one note per merge."""

    papers: list[tuple[str, PaperRecord]] = field(default_factory=list)
    merged: list[RecordError] = field(default_factory=list)


def normalise_title(title: str) -> str:
    """The title as compared for duplicates: NFKC, casefolded, no punctuation, single spaces."""
    text = unicodedata.normalize("NFKC", title).casefold()
    return " ".join(text.translate(_REMOVE_PUNCTUATION).split())


def find_arxiv_id(record: PaperRecord) -> str | None:
    """``arxiv:<id>`` from the record's url or metadata values (version suffix dropped)."""
    if record.url:
        found = _arxiv_id_in(record.url, bare_new=False)
        if found:
            return found
    for key, value in record.metadata.items():
        bare_new = "arxiv" in str(key).casefold()
        for text in _strings(value):
            found = _arxiv_id_in(text, bare_new=bare_new)
            if found:
                return found
    return None


def _arxiv_id_in(text: str, bare_new: bool) -> str | None:
    match = _PREFIXED_ID.search(text) or _BARE_OLD_ID.search(text)
    # A bare "2303.12345" could be any number, so it counts only under an arXiv-named key.
    if match is None and bare_new:
        match = _BARE_NEW_ID.fullmatch(text.strip())
    if match is None:
        return None
    groups = match.groupdict()
    if groups.get("new"):
        return f"arxiv:{groups['new']}"
    return f"arxiv:{match['archive'].lower()}/{match['number']}"


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def make_paper_id(record: PaperRecord) -> str:
    """The record's own id, else its arXiv id, else ``<title-slug>-<8 hex of the title>``."""
    own = (record.id or "").strip()
    if own:
        return own
    return find_arxiv_id(record) or _title_id(record.title, normalise_title(record.title))


def _title_id(title: str, title_key: str) -> str:
    digest = hashlib.sha256(title_key.encode("utf-8")).hexdigest()
    return f"{_slug(title)}-{digest[:TITLE_HASH_CHARS]}"


def _slug(title: str) -> str:
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    words = _WORD.findall(ascii_title.lower())
    slug = ""
    for word in words:
        longer = f"{slug}-{word}" if slug else word
        if len(longer) > SLUG_MAX_CHARS:
            break
        slug = longer
    if not slug and words:
        slug = words[0][:SLUG_MAX_CHARS]
    # A title with no ASCII letters or digits (e.g. all CJK) still needs a readable prefix.
    return slug or "paper"


def content_hash(record: PaperRecord) -> str:
    """sha256 hex of the record's content (not its source or location), key order independent."""
    content = {
        "title": record.title,
        "abstract": record.abstract,
        "authors": record.authors,
        "url": record.url,
        "published": record.published,
        "metadata": record.metadata,
    }
    canonical = json.dumps(
        content, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def deduplicate(
    records: Iterable[PaperRecord], known_titles: Mapping[str, str] | None = None
) -> DedupResult:
    """Give each record its paper id and merge duplicates: same id, or same normalised title
    unless both records carry explicit ids of their own (then the source says they are two
    papers, as in test collections where generic titles like "Information networks" repeat).

    ``known_titles`` maps normalised titles to ids already in the index, so a re-read paper
    keeps its id unless the record carries a different explicit id of its own.
    """
    known = known_titles or {}
    result = DedupResult()
    by_id: dict[str, int] = {}
    by_title: dict[str, int] = {}
    for record in records:
        title_key = normalise_title(record.title)
        paper_id = _assign_id(record, title_key, known)
        index, why = by_id.get(paper_id), "same paper id"
        if index is None and title_key:
            index, why = by_title.get(title_key), "same title"
            if index is not None and _own_id(record) and _own_id(result.papers[index][1]):
                index = None
        if index is None:
            index = len(result.papers)
            result.papers.append((paper_id, _copy(record)))
        else:
            kept_id, kept = result.papers[index]
            fill_empty_fields(kept, record)
            reason = (
                f"duplicate of {kept.source}: {kept.location} ({why}); merged into paper {kept_id}"
            )
            result.merged.append(RecordError(record.source, record.location, reason))
        by_id.setdefault(paper_id, index)
        if title_key:
            by_title.setdefault(title_key, index)
    return result


def _own_id(record: PaperRecord) -> bool:
    return bool((record.id or "").strip())


def _assign_id(record: PaperRecord, title_key: str, known: Mapping[str, str]) -> str:
    own = (record.id or "").strip()
    if own:
        return own
    if title_key and title_key in known:
        return known[title_key]
    return find_arxiv_id(record) or _title_id(record.title, title_key)


def _copy(record: PaperRecord) -> PaperRecord:
    # Merging fills fields in place; the caller's records must stay as they were read.
    kept = copy.copy(record)
    kept.authors = list(record.authors)
    kept.metadata = dict(record.metadata)
    return kept


def fill_empty_fields(kept: PaperRecord, other: PaperRecord) -> None:
    """Fill ``kept``'s empty fields (and missing metadata keys) from ``other``, in place."""
    if not kept.abstract:
        kept.abstract = other.abstract
    if not kept.authors:
        kept.authors = list(other.authors)
    if not kept.url:
        kept.url = other.url
    if not kept.published:
        kept.published = other.published
    for key, value in other.metadata.items():
        kept.metadata.setdefault(key, value)
