"""The daily-papers page dump reader."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from indexer.readers import read_file
from indexer.readers.daily import is_abstract_line, read_daily

HEADER = [
    "new",
    "Get trending papers in your email inbox!",
    "Subscribe",
    "byAK and the research community",
    "Mar 13",
]


def _dump(pairs: list[tuple[str, str]], header: list[str] = HEADER) -> str:
    lines = [*header]
    for title, abstract in pairs:
        lines += [title, abstract]
    return "\n\n".join(lines) + "\n"


def test_daily_reader_finds_all_54_papers_of_the_bundled_file(bundled_daily_file: Path) -> None:
    result = read_file(bundled_daily_file)

    assert result.format == "daily"
    assert result.errors == []
    assert len(result.records) == 54
    first, last = result.records[0], result.records[-1]
    assert first.title == "Composable Sparse Fine-Tuning for Cross-Lingual Transfer"
    assert first.abstract.startswith("Fine-tuning the entire set of parameters")
    assert first.location == "line 11"
    assert last.title == (
        "Emergent mechanisms for long timescales depend on training curriculum and affect "
        "performance in memory tasks"
    )
    assert last.abstract.endswith("improves the RNN's performance.")


def test_bundled_papers_have_distinct_titles_and_long_abstracts(bundled_daily_file: Path) -> None:
    records = read_file(bundled_daily_file).records

    assert len({record.title for record in records}) == 54
    assert all(len(record.abstract) >= 200 for record in records)
    assert all(record.source == str(bundled_daily_file) for record in records)


def test_header_lines_are_not_read_as_papers(bundled_daily_file: Path) -> None:
    titles = {record.title for record in read_file(bundled_daily_file).records}

    assert titles.isdisjoint(HEADER)


def test_listing_date_of_the_header_is_kept_in_metadata(bundled_daily_file: Path) -> None:
    records = read_file(bundled_daily_file).records

    assert {record.metadata.get("listing_date") for record in records} == {"Mar 13"}


def test_crlf_line_endings_give_the_same_papers(
    bundled_daily_file: Path, write_file: Callable[[str, str | bytes], Path]
) -> None:
    text = bundled_daily_file.read_text(encoding="utf-8")
    crlf = write_file("crlf.txt", text.replace("\n", "\r\n"))

    expected = read_file(bundled_daily_file).records
    got = read_file(crlf).records

    assert [(r.title, r.abstract, r.location) for r in got] == [
        (r.title, r.abstract, r.location) for r in expected
    ]


def test_pairs_are_found_without_blank_lines_between_title_and_abstract(
    make_abstract: Callable[[str], str],
) -> None:
    text = "\n".join(["Subscribe", "First Paper", make_abstract("a"), "Second Paper"])
    text += "\n" + make_abstract("b")

    result = read_daily(text, "dump.txt")

    assert [(r.title, r.location) for r in result.records] == [
        ("First Paper", "line 2"),
        ("Second Paper", "line 4"),
    ]
    assert result.errors == []


def test_extra_blank_lines_trailing_spaces_and_no_final_newline_are_fine(
    make_abstract: Callable[[str], str],
) -> None:
    text = (
        "new\n\n\n\nMar 13   \n\n\n  Spaced   Title  \t\n\n\n\n"
        + make_abstract("spacing")
        + "   \n\n\nLast Title\n"
        + make_abstract("the end")
    )

    result = read_daily(text, "dump.txt")

    assert [r.title for r in result.records] == ["Spaced Title", "Last Title"]
    assert result.records[0].abstract == make_abstract("spacing")
    assert result.records[0].location == "line 8"
    assert result.errors == []


def test_header_of_any_length_is_skipped(make_abstract: Callable[[str], str]) -> None:
    header = ["Daily Papers", "by the community", "Sort by", "trending", "Mar 14", "Today"]
    text = _dump([("A Title", make_abstract("x"))], header=header)

    result = read_daily(text, "dump.txt")

    assert [r.title for r in result.records] == ["A Title"]
    assert result.records[0].metadata == {"listing_date": "Mar 14"}


def test_file_without_a_header_reads_from_the_first_line(
    make_abstract: Callable[[str], str],
) -> None:
    result = read_daily(_dump([("Only Paper", make_abstract("y"))], header=[]), "dump.txt")

    assert [(r.title, r.location, r.metadata) for r in result.records] == [
        ("Only Paper", "line 1", {})
    ]


def test_abstract_whitespace_is_collapsed(make_abstract: Callable[[str], str]) -> None:
    abstract = make_abstract("whitespace").replace(" ", "  \t ")

    record = read_daily(_dump([("T", abstract)]), "dump.txt").records[0]

    assert record.abstract == make_abstract("whitespace")


def test_a_short_two_sentence_paragraph_counts_as_an_abstract() -> None:
    short = "We propose a simple method for sparse attention. It matches dense attention on "
    short += "three long-context benchmarks while using far less memory."

    assert 120 <= len(short) < 200
    assert is_abstract_line(short)
    long_title = (
        "Selecting Influential Samples for Long Context Alignment via Homologous Models' "
        "Guidance and Contextual Awareness Measurement"
    )
    assert len(long_title) >= 120
    assert not is_abstract_line(long_title)
    assert not is_abstract_line("Subscribe")
