"""Chapter 12's checker: the reference answer passes, and plausible wrong answers fail with the
hint that names their mistake."""

from __future__ import annotations

import jax  # noqa: F401  (a required test dependency: imported, so a missing one fails loudly)

from mingpt_lite.exercises import check

from conftest import failed as _failed


def test_12_1_eight_programs_pass():
    result = check("12.1", 8, quiet=True)
    assert result and "cropped" in result.message


def test_12_1_one_per_token_is_named_as_the_missing_crop():
    assert "without the crop" in _failed("12.1", 20)


def test_12_1_off_by_one_is_named():
    assert "off by one" in _failed("12.1", 7)
    assert "off by one" in _failed("12.1", 9)


def test_12_1_a_non_integer_is_refused():
    assert "whole number" in _failed("12.1", 8.0)
