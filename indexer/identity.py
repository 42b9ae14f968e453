"""Paper identity: stable ids, content hashes, and merging of duplicate records."""

from __future__ import annotations

import copy
import hashlib
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
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


class Deduplicator:
    """Gives each record its paper id and merges duplicates as records stream by: same id, or
    same normalised title unless both records carry explicit ids of their own (then the source
    says they are two papers, as in test collections where generic titles like "Information
    networks" repeat).

    ``known_title`` maps a normalised title to the id a paper of that title already has in the
    index, so a re-read paper keeps its id unless the record carries another id of its own. A
    kept record is merged into (its empty fields filled) until ``release`` lets it go; a later
    duplicate of a released one is still reported, but no longer changes it. Memory: one key
    per paper seen, plus the records not yet released.
    """

    def __init__(self, known_title: Callable[[str], str | None] | None = None) -> None:
        self._known_title = known_title or (lambda key: None)
        self._kept: dict[str, PaperRecord | None] = {}  # id -> record, None once released
        self._first_at: dict[str, str] = {}  # id -> where its first record was read
        self._by_title: dict[str, tuple[str, bool]] = {}  # title key -> (id, has own id)

    def admit(self, record: PaperRecord) -> tuple[str, PaperRecord | None, RecordError | None]:
        """(paper id, a copy of the record to keep if it is a new paper, else None and the
        duplicate's warning)."""
        title_key = normalise_title(record.title)
        paper_id = self._assign_id(record, title_key)
        same, why = paper_id in self._kept, "same paper id"
        if not same and title_key in self._by_title:
            other_id, other_own = self._by_title[title_key]
            if not (_own_id(record) and other_own):
                paper_id, same, why = other_id, True, "same title"
        if same:
            kept = self._kept[paper_id]
            if kept is not None:
                fill_empty_fields(kept, record)
            where = self._first_at[paper_id]
            reason = f"duplicate of {where} ({why}); merged into paper {paper_id}"
            return paper_id, None, RecordError(record.source, record.location, reason)
        kept = _copy(record)
        self._kept[paper_id] = kept
        self._first_at[paper_id] = f"{record.source}: {record.location}"
        if title_key:
            self._by_title.setdefault(title_key, (paper_id, _own_id(record)))
        return paper_id, kept, None

    def release(self, paper_ids: Iterable[str]) -> None:
        for paper_id in paper_ids:
            self._kept[paper_id] = None

    def _assign_id(self, record: PaperRecord, title_key: str) -> str:
        if _own_id(record):
            return make_paper_id(record)
        known = self._known_title(title_key) if title_key else None
        return known or find_arxiv_id(record) or _title_id(record.title, title_key)


def deduplicate(
    records: Iterable[PaperRecord], known_titles: Mapping[str, str] | None = None
) -> DedupResult:
    """Every record's paper id with duplicates merged (``Deduplicator``), all at once."""
    known = known_titles or {}
    dedup = Deduplicator(known.get)
    result = DedupResult()
    for record in records:
        paper_id, kept, merged = dedup.admit(record)
        if kept is not None:
            result.papers.append((paper_id, kept))
        if merged is not None:
            result.merged.append(merged)
    return result


def _own_id(record: PaperRecord) -> bool:
    return bool((record.id or "").strip())


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
