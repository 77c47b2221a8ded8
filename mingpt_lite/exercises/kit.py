"""The small kit every chapter's checker uses: a shape guard, one closeness test, and the
"known wrong variant -> hint" matcher.

A checker compares the reader's attempt with the package's reference. When they differ, the
useful answer is *which* mistake was made, so a checker computes the plausible wrong answers
(the variance over C - 1, eps outside the square root, ...) and names the first one the attempt
equals. These three helpers are that pattern, written once:

    y = require_tensor(attempt(x), x.shape, fix="use keepdim=True")
    if close(y, reference):
        return "correct"
    match_variants(y, [(wrong_1, "hint 1"), (wrong_2, "hint 2")])
    raise Hint(f"differs by up to {largest_difference(y, reference):.3g}")
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import torch

from . import Hint

__all__ = ["close", "largest_difference", "match_variants", "require_tensor"]


def require_tensor(got: Any, shape: Sequence[int] | torch.Size | None = None, *, what: str = "your function",
                   fix: str = "") -> torch.Tensor:
    """Return ``got`` if it is a tensor (of ``shape``, when given); raise a :class:`Hint` otherwise.

    ``fix`` is appended to the shape hint: the usual reason a shape is wrong (a missing
    ``keepdim=True``, a transposed result) is known to the exercise, not to the kit.
    """
    if not isinstance(got, torch.Tensor):
        raise Hint(f"{what} returned a {type(got).__name__}; return a tensor")
    if shape is not None and tuple(got.shape) != tuple(shape):
        message = f"{what} returned shape {tuple(got.shape)}; the expected shape is {tuple(shape)}"
        raise Hint(f"{message}. {fix}" if fix else message)
    return got


def close(got: Any, want: torch.Tensor, *, rtol: float = 1e-5, atol: float = 1e-8) -> bool:
    """True when ``got`` is a tensor of ``want``'s shape and equal to it within the tolerances.

    Unlike :func:`torch.allclose` it answers False, not an error, for another shape or type,
    so it can be asked of any attempt.
    """
    return (isinstance(got, torch.Tensor) and got.shape == want.shape
            and bool(torch.allclose(got.to(want.dtype), want, rtol=rtol, atol=atol)))


def largest_difference(got: torch.Tensor, want: torch.Tensor) -> float:
    """The largest absolute elementwise difference, for a hint that has nothing better to say."""
    return (got.to(want.dtype) - want).abs().max().item()


def match_variants(got: Any, variants: Iterable[tuple[Any, str]], *, rtol: float = 0.0,
                   atol: float = 1e-9) -> None:
    """Raise ``Hint(hint)`` for the first ``(wrong_answer, hint)`` that ``got`` equals; else return.

    ``wrong_answer`` is a tensor compared with :func:`close`, or any other value compared with
    ``==`` (a set of kept token ids, a parameter name). The default tolerance is tight because
    the variants are computed in float64 on the same inputs as the attempt.
    """
    for wrong, hint in variants:
        if isinstance(wrong, torch.Tensor):
            matched = close(got, wrong, rtol=rtol, atol=atol)
        else:
            matched = got == wrong
        if matched:
            raise Hint(hint)
