"""``--where`` filters: parsing, matching record fields and metadata, and counting."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from indexer.errors import InputError
from indexer.models import PaperRecord
from indexer.readers import ReadOptions, open_records, parse_where

WriteFile = Callable[[str, str | bytes], Path]


def _record(**fields: object) -> PaperRecord:
    base: dict[str, object] = {"title": "T", "abstract": "A", "source": "s", "location": "line 1"}
    return PaperRecord(**(base | fields))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("expression", "field", "patterns", "year_op", "year"),
    [
        ("categories=cs.CL,cs.LG", "categories", ("cs.CL", "cs.LG"), None, 0),
        (" title = *Attention* ", "title", ("*Attention*",), None, 0),
        ("year>=2020", "year", (), ">=", 2020),
        ("year <= 1999", "year", (), "<=", 1999),
        ("year=2007", "year", (), "=", 2007),
    ],
)
def test_where_expressions_parse(
    expression: str, field: str, patterns: tuple[str, ...], year_op: str | None, year: int
) -> None:
    parsed = parse_where(expression)

    assert (parsed.field, parsed.patterns, parsed.year_op, parsed.year) == (
        field,
        patterns,
        year_op,
        year,
    )


@pytest.mark.parametrize(
    ("expression", "complaint"),
    [
        ("categories", "expected FIELD=PATTERN"),
        ("year>2020", "expected FIELD=PATTERN"),
        ("year>=soon", "year>= needs a year"),
        ("title=", "an empty pattern"),
        ("categories=cs.CL,,", "an empty pattern"),
        ("=x", "expected FIELD=PATTERN"),
    ],
)
def test_a_bad_where_expression_is_an_input_error_naming_it(
    expression: str, complaint: str
) -> None:
    with pytest.raises(InputError) as raised:
        parse_where(expression)

    assert f"bad --where {expression!r}" in str(raised.value)
    assert complaint in str(raised.value)


def test_globs_are_case_sensitive_and_a_list_field_matches_by_any_element() -> None:
    categories = parse_where("categories=cs.C?,math.*")

    assert categories.matches(_record(metadata={"categories": ["hep-th", "cs.CL"]}))
    assert categories.matches(_record(metadata={"categories": ["math.AG"]}))
    assert not categories.matches(_record(metadata={"categories": ["CS.CL"]}))
    assert not categories.matches(_record(metadata={}))
    assert parse_where("authors=*Turing").matches(_record(authors=["Ada", "Alan Turing"]))
    assert parse_where("title=Deep*").matches(_record(title="Deep nets"))
    assert not parse_where("title=deep*").matches(_record(title="Deep nets"))


def test_year_filters_compare_the_published_year_and_undated_records_fail_them() -> None:
    recent, old, undated = (
        _record(published="2021-03-01"),
        _record(published="1999-12-31"),
        _record(),
    )

    assert [parse_where("year>=2020").matches(r) for r in (recent, old, undated)] == [
        True,
        False,
        False,
    ]
    assert [parse_where("year<=1999").matches(r) for r in (recent, old, undated)] == [
        False,
        True,
        False,
    ]
    assert parse_where("year=2021").matches(recent)


def test_filters_are_anded_and_filtered_records_are_counted_not_reported(
    write_file: WriteFile,
) -> None:
    rows = [
        {"title": "A", "abstract": "a", "date": "2021-01-01", "venue": "ACL"},
        {"title": "B", "abstract": "b", "date": "2019-01-01", "venue": "ACL"},
        {"title": "C", "abstract": "c", "date": "2022-01-01", "venue": "NeurIPS"},
        {"title": "D", "date": "2023-01-01", "venue": "ACL"},
    ]
    path = write_file("p.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    options = ReadOptions(where=(parse_where("venue=ACL"), parse_where("year>=2020")))

    with open_records(path, options) as stream:
        titles = [r.title for r in stream]

    assert titles == ["A", "D"]
    assert stream.n_filtered == 2 and stream.n_title_only == 1
    assert stream.errors == [] and stream.warnings == []
