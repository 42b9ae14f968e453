"""A small corpus of papers whose citations are awkward to write: arXiv ids (new and old style),
DOIs, titles with BibTeX's special characters, accents, name particles and suffixes; read by
the real readers (arXiv snapshot, OpenAlex, JSON Lines) from files written to a tmp path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

KELP_ID = "arxiv:2403.01234"
KELP_TITLE = "Kelp forests {re}absorb 50% of CO_2 & $5 #1 carbon: Café naïve"
KELP_DOI = "10.1234/kelp.2024.5"
UNBALANCED_ID = "openalex:W4200000001"
UNBALANCED_TITLE = "An unbalanced } brace and a lone { in Zoë's title"
UNBALANCED_DOI = "10.5555/oa.77"
OLD_ARXIV_ID = "arxiv:hep-th/9901001"
OLD_ARXIV_TITLE = "Strings on a lattice with a back\\slash, ~tilde and ^caret"
PLAIN_ID = "tide-pools-2021"
PLAIN_TITLE = "Tide pool snails return home at dusk"

ARXIV = {
    "id": "2403.01234",
    "submitter": "Ana Ruiz",
    "authors": "Ana Ruiz, Jan van der Berg, Martin Luther King Jr.",
    "title": KELP_TITLE,
    "abstract": (
        "We measure how giant kelp forests absorb carbon dioxide along the Pacific coast. "
        "Kelp canopies take up carbon faster in cold upwelling water than in warm water. "
        "Ocean acidification slows the growth of young kelp."
    ),
    "categories": "q-bio.PE physics.ao-ph",
    "doi": KELP_DOI,
    "journal-ref": None,
    "versions": [{"version": "v1", "created": "Tue, 5 Mar 2024 10:00:00 GMT"}],
    "authors_parsed": [
        ["Ruiz", "Ana", ""],
        ["van der Berg", "Jan", ""],
        ["King", "Martin Luther", "Jr."],
    ],
}

OPENALEX = {
    "id": "https://openalex.org/W4200000001",
    "doi": f"https://doi.org/{UNBALANCED_DOI}",
    "title": UNBALANCED_TITLE,
    "publication_date": "2023-07-01",
    "publication_year": 2023,
    "primary_location": {
        "landing_page_url": "https://example.org/papers/77",
        "source": {"display_name": "Journal of Marine Ecology"},
    },
    "authorships": [
        {"author": {"display_name": "Zoë Ødegaard"}},
        {"author": {"display_name": "Ngozi Okafor"}},
    ],
    "abstract_inverted_index": {
        "Sea": [0],
        "urchins": [1],
        "graze": [2],
        "kelp": [3],
        "forests": [4],
        "at": [5],
        "night.": [6],
    },
}

JSONL = [
    {
        "title": OLD_ARXIV_TITLE,
        "abstract": "We put strings on a lattice. The lattice spacing sets the string tension.",
        "authors": ["The Lattice Collaboration", "Wei Zhang"],
        "url": "https://arxiv.org/abs/hep-th/9901001v2",
        "published": "1999-01-04",
    },
    {
        "id": PLAIN_ID,
        "title": PLAIN_TITLE,
        "abstract": "Tide pool snails return to their home scar at dusk. They follow mucus trails.",
        "authors": ["Ana Ruiz"],
        "published": "2021",
    },
]


def _lines(records: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def write_corpus(root: Path) -> list[Path]:
    """The corpus's three files under ``root``, one per reader."""
    files = {
        root / "arxiv-metadata.jsonl": [ARXIV],
        root / "openalex-works.jsonl": [OPENALEX],
        root / "papers.jsonl": JSONL,
    }
    for path, records in files.items():
        path.write_text(_lines(records), encoding="utf-8")
    return list(files)
