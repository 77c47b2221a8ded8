"""mingpt_lite/exercises/kit.py: the shape guard, the closeness test and the wrong-variant matcher
that every chapter's checker shares."""

from __future__ import annotations

import pytest
import torch

from mingpt_lite.exercises import Hint
from mingpt_lite.exercises.kit import close, largest_difference, match_variants, require_tensor


def test_require_tensor_passes_a_tensor_of_the_right_shape_through():
    x = torch.zeros(2, 3)
    assert require_tensor(x, (2, 3)) is x
    assert require_tensor(x) is x


def test_require_tensor_names_the_type_the_shape_and_the_fix():
    with pytest.raises(Hint, match="my_fn returned a list; return a tensor"):
        require_tensor([1.0], what="my_fn")
    with pytest.raises(Hint, match=r"shape \(2, 1\); the expected shape is \(2, 3\)\. use keepdim"):
        require_tensor(torch.zeros(2, 1), (2, 3), fix="use keepdim")


def test_close_answers_false_for_another_shape_or_type_instead_of_raising():
    want = torch.ones(3, dtype=torch.float64)
    assert close(torch.ones(3), want)                      # float32 attempt against a float64 reference
    assert not close(torch.ones(4), want)
    assert not close([1.0, 1.0, 1.0], want)
    assert not close(want + 1e-3, want)
    assert close(want + 1e-3, want, atol=1e-2)


def test_largest_difference():
    assert largest_difference(torch.tensor([1.0, 2.5]), torch.tensor([1.0, 2.0])) == 0.5


def test_match_variants_raises_the_first_matching_hint_and_returns_otherwise():
    want = torch.tensor([1.0, 2.0])
    variants = [(want * 2, "doubled"), (want + 1, "shifted"), ({1, 2}, "a set")]
    with pytest.raises(Hint, match="shifted"):
        match_variants(want + 1, variants)
    with pytest.raises(Hint, match="a set"):
        match_variants({2, 1}, variants)
    assert match_variants(want, variants) is None                # no known mistake: the caller goes on
    assert match_variants(want + 1 + 1e-6, variants) is None     # the default tolerance is tight
    with pytest.raises(Hint, match="shifted"):
        match_variants(want + 1 + 1e-6, variants, atol=1e-4)
