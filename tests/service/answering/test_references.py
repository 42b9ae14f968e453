"""Abstracts' own bracketed reference numbers are dropped from the text answers carry."""

from __future__ import annotations

import pytest

from service.answering.references import drop_references


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Kelp forests collapse when sea otters decline [2].", "Kelp forests collapse when sea otters decline."),
        ("Prior work [12, 13] models grazing.", "Prior work models grazing."),
        ("Urchin barrens spread [2-4]; otters return [5–7, 9].", "Urchin barrens spread; otters return."),
        ("[3] The model is new.", "The model is new."),
    ],
)  # fmt: skip
def test_reference_numbers_single_lists_and_ranges_are_dropped(
    sentence: str, expected: str
) -> None:
    assert drop_references(sentence) == expected


def test_brackets_that_hold_words_or_decimals_are_kept() -> None:
    text = "The [CLS] token scores in [0.5, 1.0] and [MASK] stays."
    assert drop_references(text) == text
