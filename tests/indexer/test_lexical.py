"""BM25 terms: our tokenizer gives exactly the terms bm25s's does, so indexes built before and
after it rank the same."""

from __future__ import annotations

import json
import random
import threading
from pathlib import Path

import bm25s
import Stemmer

from indexer.lexical import distinct_terms, tokenize

ROOT = Path(__file__).resolve().parents[2]
CISI = ROOT.parent / "shared" / "benchmarks" / "cisi" / "corpus.jsonl"


def _bm25s(texts: list[str]) -> list[list[str]]:
    stemmer = Stemmer.Stemmer("english")
    return bm25s.tokenize(
        texts, stopwords="en", stemmer=stemmer, return_ids=False, show_progress=False
    )


def _texts() -> list[str]:
    texts = (ROOT / "data" / "daily-papers.txt").read_text(encoding="utf-8").splitlines()
    if CISI.exists():
        for line in CISI.open(encoding="utf-8"):
            doc = json.loads(line)
            texts.append(f"{doc['title']}. {doc['text']}")
    return [*texts, "", "   ", "a I x", "Naïve café DÉJÀ-vu 3D 42 x86_64 l'été", "The the THE"]


def test_tokenize_gives_the_terms_bm25s_gives_for_every_bundled_and_cisi_text() -> None:
    texts = _texts()

    assert tokenize(texts) == _bm25s(texts)
    # One text at a time too (its stems then come from the remembered ones).
    assert [tokenize([t])[0] for t in texts[:200]] == _bm25s(texts[:200])


def test_tokenize_gives_bm25s_terms_for_random_mixes_of_word_and_other_characters() -> None:
    # Our token pattern drops bm25s's \b assertions (indexer/lexical.py): the same tokens
    # wherever words of one character, underscores, digits, accents, combining marks, other
    # scripts and punctuation meet.
    alphabet = [*"ab_1 é-.,'\tZ9ß", "e\u0301", "\u4e2d", "\u0660"]
    rng = random.Random(0)
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))) for _ in range(3000)]

    assert tokenize(texts) == _bm25s(texts)


def test_distinct_terms_are_the_sets_of_the_terms_bm25s_gives() -> None:
    rng = random.Random(1)
    noise = ["".join(rng.choice("ab_1 é-.,'Z9ß") for _ in range(20)) for _ in range(200)]
    texts = [*_texts(), *noise]

    assert distinct_terms(texts) == [frozenset(terms) for terms in _bm25s(texts)]
    assert distinct_terms([]) == []


def test_tokenize_from_several_threads_gives_the_same_terms() -> None:
    texts = _texts()[:400]
    expected = _bm25s(texts)
    results: dict[int, list[list[str]]] = {}

    def run(i: int) -> None:
        results[i] = [tokenize([t])[0] for t in texts]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert all(r == expected for r in results.values())
