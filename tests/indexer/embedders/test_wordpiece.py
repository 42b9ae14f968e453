"""The word-cache tokenizer gives the Rust tokenizer's word pieces, or declines the text."""

from __future__ import annotations

import json
import random
import string
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from indexer.config import BUNDLED_MODEL
from indexer.embedders.local import _resolve
from indexer.embedders.wordpiece import FastWordPiece

BENCHMARKS = Path(__file__).resolve().parents[3].parent / "shared" / "benchmarks"
TOKENIZER = Path(_resolve(BUNDLED_MODEL)[0]) / "tokenizer.json"


@pytest.fixture(scope="module")
def rust() -> Tokenizer:
    tokenizer = Tokenizer.from_file(str(TOKENIZER))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


@pytest.fixture
def fast() -> FastWordPiece:
    loaded = FastWordPiece.load(TOKENIZER)
    assert loaded is not None
    return loaded


def _rust_pieces(rust: Tokenizer, texts: list[str]) -> list[list[int]]:
    return [encoding.ids for encoding in rust.encode_batch(texts, add_special_tokens=False)]


def _generated(count: int, seed: int) -> list[str]:
    """Printable ASCII in every arrangement: punctuation runs, digits inside words, mixed case,
    tabs and line breaks, words past WordPiece's 100-character limit, brackets."""
    rng = random.Random(seed)
    alphabet = string.ascii_letters + string.digits + string.punctuation + " \t\n\r" + "[]" * 4
    texts = [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 300))) for _ in range(count)
    ]
    texts += [
        "",
        "   ",
        "a" * 100,
        "a" * 101 + " b",
        "x" * 250,
        "GPT-4o's F1=0.93 (p<0.05), i.e. 3x-faster; see [12] & arXiv:2401.01234v2.",
        "TransformerXL\tLSTM\r\nCNN",
    ]
    return texts


def test_generated_ascii_texts_get_the_rust_tokenizers_pieces(
    rust: Tokenizer, fast: FastWordPiece
) -> None:
    texts = _generated(3000, seed=1)
    ours = [fast.pieces(text) for text in texts]
    # Only texts holding an added token ("[PAD]" and the like, in any case) are declined.
    declined = [text for text, ids in zip(texts, ours, strict=True) if ids is None]
    assert all("[" in text and "]" in text for text in declined)
    taken = [(text, ids) for text, ids in zip(texts, ours, strict=True) if ids is not None]
    assert len(taken) > 2900
    assert [ids for _, ids in taken] == _rust_pieces(rust, [text for text, _ in taken])


def test_a_cache_that_fills_starts_again_mid_text_without_losing_a_token(
    rust: Tokenizer,
) -> None:
    small = FastWordPiece.load(TOKENIZER, cache_tokens=4)
    assert small is not None
    texts = ["alpha beta gamma", "delta epsilon", "four five six seven eight nine", "alpha beta"]
    assert [small.pieces(text) for text in texts] == _rust_pieces(rust, texts)


def test_a_second_pass_from_the_cache_gives_the_same_pieces(
    rust: Tokenizer, fast: FastWordPiece
) -> None:
    texts = _generated(200, seed=2)
    first = [fast.pieces(text) for text in texts]
    assert [fast.pieces(text) for text in texts] == first


@pytest.mark.parametrize("collection", ["cisi", "cacm"])
def test_development_collections_are_taken_with_the_rust_tokenizers_pieces(
    rust: Tokenizer, fast: FastWordPiece, collection: str
) -> None:
    corpus = BENCHMARKS / collection / "corpus.jsonl"
    if not corpus.is_file():
        pytest.skip(f"{corpus} is not on this machine")
    with corpus.open(encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines]
    texts = [f"{r.get('title', '')}\n{r.get('text', '')}" for r in records]
    ours = [fast.pieces(text) for text in texts]
    # CACM holds two abstracts with a control character (\x19), which the normalizer removes.
    declined = [text for text, ids in zip(texts, ours, strict=True) if ids is None]
    assert len(declined) <= 2 and all(not text.isprintable() for text in declined)
    taken = [(text, ids) for text, ids in zip(texts, ours, strict=True) if ids is not None]
    assert [ids for _, ids in taken] == _rust_pieces(rust, [text for text, _ in taken])


@pytest.mark.parametrize(
    "text",
    [
        "Ünïcödé accents",  # normalization strips accents: the Rust tokenizer's job
        "a\x00b",  # control characters are removed by the normalizer
        "a\x0bb\x0cc",  # vertical tab and form feed: control, not whitespace, to it
        "\x7f delete",
        "mask [MASK] token",
        "lower-case [pad] is an added token too",
        "中文 characters",
    ],
)
def test_texts_the_normalizer_would_change_or_with_added_tokens_are_declined(
    rust: Tokenizer, fast: FastWordPiece, text: str
) -> None:
    assert fast.pieces(text) is None


def test_framing_truncates_like_the_rust_tokenizer(fast: FastWordPiece) -> None:
    tokenizer = Tokenizer.from_file(str(TOKENIZER))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=16)
    for text in ("word " * 40, "two words", ""):
        pieces = fast.pieces(text)
        assert pieces is not None
        assert fast.framed(pieces, 16) == tokenizer.encode(text).ids


@pytest.mark.parametrize(
    ("part", "change"),
    [
        ("normalizer", {"type": "Lowercase"}),
        ("pre_tokenizer", {"type": "Whitespace"}),
        ("post_processor", None),
    ],
)
def test_other_tokenizer_layouts_get_no_fast_path(
    tmp_path: Path, part: str, change: object
) -> None:
    spec = json.loads(TOKENIZER.read_text(encoding="utf-8"))
    spec[part] = change
    other = tmp_path / "tokenizer.json"
    other.write_text(json.dumps(spec), encoding="utf-8")
    assert FastWordPiece.load(other) is None
