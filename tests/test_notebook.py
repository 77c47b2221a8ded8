"""Tests for mingpt_lite/notebook.py: the chapters' set-up and summary helpers."""

import random

import pytest
import torch

from mingpt_lite.notebook import SIZE_ENV, book_size, spread, start_chapter


def test_spread_formats_min_and_max_whatever_the_order():
    assert spread([0.5, 0.25, 0.75], ".2f") == "0.25 to 0.75"
    assert spread([3], "d") == "3 to 3"


def test_spread_counts_runs_when_asked():
    assert spread([1.0, 2.0, 1.5], ".1f", count=True) == "1.0 to 2.0 (3 runs)"


def test_spread_accepts_a_generator_and_percent_format():
    assert spread((x / 4 for x in range(1, 5)), ".0%") == "25% to 100%"


def test_spread_says_what_empty_means_when_told():
    assert spread([], "d", empty="never") == "never"
    assert spread([4, 2], "d", empty="never") == "2 to 4"


def test_spread_rejects_empty_and_non_numbers():
    with pytest.raises(ValueError, match="at least one value"):
        spread([])
    with pytest.raises(TypeError, match=r"\.item\(\)"):
        spread([torch.tensor(1.0)])


def test_book_size_default_and_bad_value(monkeypatch):
    monkeypatch.delenv(SIZE_ENV, raising=False)
    assert book_size() == "small"
    monkeypatch.setenv(SIZE_ENV, "full")
    assert book_size() == "full"
    monkeypatch.setenv(SIZE_ENV, "huge")
    with pytest.raises(ValueError, match="must be one of"):
        book_size()


def test_start_chapter_seeds_every_rng(capsys):
    start_chapter(3, device="cpu")
    first = (random.random(), torch.rand(2).tolist())
    device = start_chapter(3, device="cpu")
    assert device.type == "cpu"
    assert (random.random(), torch.rand(2).tolist()) == first
    assert "book size" in capsys.readouterr().out


def test_start_chapter_quiet(capsys):
    start_chapter(0, device="cpu", verbose=False)
    assert capsys.readouterr().out == ""
