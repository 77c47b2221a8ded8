"""Training data that lives on the training device: the sort task, character-level text, and
the same text as BPE tokens (:class:`TokenDataset`, chapter 14).

All of them hand out whole batches with one call, ``x, y = data.get_batch(split,
batch_size, generator)``, built with a few vectorised tensor operations directly on
the generator's device. minGPT builds one sample at a time in Python and moves it
through a DataLoader; for models this small that costs as much as the model step.

All share the small interface the :class:`~mingpt_lite.trainer.Trainer` uses:
``vocab_size``, ``block_size``, ``splits`` and ``get_batch``.

Randomness comes only from the ``torch.Generator`` you pass in, so a seeded
generator gives the same batches every time on the same device (CPU and CUDA
generators produce different streams; each is reproducible on its own).
"""

from __future__ import annotations

import functools
import math
import numbers
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from .loss import IGNORE_INDEX
from .tokenizer import Tokenizer

SPLITS = ("train", "test")
_MASK32 = 0xFFFFFFFF


# ---------------------------------------------------------------------------
# A fixed integer hash, so the train/test split is the same on every machine
# ---------------------------------------------------------------------------


def mix32(x: torch.Tensor) -> torch.Tensor:
    """A fixed 32-bit integer mixing function (each output bit depends on every input bit).

    Works elementwise on an int64 tensor and returns values in ``[0, 2**32)``. All
    intermediate products stay below 2**63, so int64 never overflows and the result
    is the same on every device and machine. (Python's ``hash`` of a string or bytes
    object is salted per process, which is why minGPT's test split moves between runs.)
    """
    x = x & _MASK32
    x = x ^ (x >> 16)
    x = (x * 0x45D9F3B) & _MASK32
    x = x ^ (x >> 16)
    x = (x * 0x45D9F3B) & _MASK32
    x = x ^ (x >> 16)
    return x


@functools.lru_cache(maxsize=64)
def _position_digit_table(length: int, num_digits: int, salt: int, device: str) -> torch.Tensor:
    """(length, num_digits) table of fixed pseudo-random 32-bit codes, one per (position, digit)."""
    index = torch.arange(length * num_digits, dtype=torch.long, device=device)
    return mix32(mix32(index + (salt & _MASK32) * 0x9E3779B1 + 1)).view(length, num_digits)


# ---------------------------------------------------------------------------
# The sort task
# ---------------------------------------------------------------------------


def most_distinct_kept(length: int) -> int:
    """The repeat boost's threshold: a boosted draw of ``length`` digits is kept only if it
    has at most this many distinct digits (``length // 2``, as in minGPT's demo)."""
    return length // 2


def repeat_boost_active(length: int, num_digits: int) -> bool:
    """Whether :class:`SortTask`'s repeat boost can reject any draw of a task of this size.

    A problem has at most ``min(length, num_digits)`` distinct digits; the boost rejects
    draws with more than :func:`most_distinct_kept` of them. When no problem can have that
    many (few symbols, e.g. 3 digits at length 6 or more), the boost never fires and the
    draws are plain uniform. No task is built, so any size can be asked about.
    """
    for name, value in (("length", length), ("num_digits", num_digits)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return min(length, num_digits) > most_distinct_kept(length)


@dataclass(frozen=True)
class SortTask:
    """minGPT's sort problem: read ``length`` digits, then write them in sorted order.

    For ``length=6, num_digits=3`` a problem ``0 0 2 1 0 1`` becomes the sequence
    ``0 0 2 1 0 1 | 0 0 0 1 1 2``; the model sees all but the last token and must
    predict the next token at each position. Targets over the unsorted half are -1
    (ignored by the loss): the input is random, there is nothing to learn there::

        x:  0  0  2  1  0  1  0  0  0  1  1
        y: -1 -1 -1 -1 -1  0  0  0  1  1  2

    Splits: every distinct problem belongs to exactly one split, decided by a fixed
    integer hash of its digits (``test_fraction`` of all problems are test), so the
    split is identical across processes, machines and devices.

    Sampling (as minGPT's demo): draw digits uniformly; with probability
    ``boost_probability`` reject a draw that has more than ``length // 2`` distinct
    digits (so problems with many repeats, which the model finds hard, turn up more
    often); reject draws from the other split; repeat until accepted.

    Attributes:
        length: digits per problem.
        num_digits: size of the alphabet; digits are ``0 .. num_digits-1`` (= the vocabulary).
        test_fraction: share of distinct problems held out as the test split.
        boost_probability: chance that a draw is subject to the repeat-boosting rejection.
        split_salt: changes which problems are test (0 everywhere by default).
    """

    length: int = 6
    num_digits: int = 3
    test_fraction: float = 0.25
    boost_probability: float = 0.5
    split_salt: int = 0

    def __post_init__(self) -> None:
        for name in ("length", "num_digits"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"SortTask.{name} must be a positive integer, got {value!r}")
        if self.num_digits < 2:
            raise ValueError(f"SortTask.num_digits must be at least 2, got {self.num_digits}")
        if not 0.0 < self.test_fraction < 1.0:
            raise ValueError(f"test_fraction must be in (0, 1), got {self.test_fraction!r}")
        if not 0.0 <= self.boost_probability <= 1.0:
            raise ValueError(f"boost_probability must be in [0, 1], got {self.boost_probability!r}")
        if self.num_problems <= 1 << 16:
            # small enough to check: both splits must contain at least one problem
            n_test = int(self.is_test(self.all_problems()).sum())
            if n_test in (0, self.num_problems):
                raise ValueError(
                    f"with length={self.length}, num_digits={self.num_digits} the "
                    f"{'test' if n_test == 0 else 'train'} split is empty; use a bigger task"
                )

    # -- sizes ---------------------------------------------------------------
    splits = SPLITS

    @property
    def vocab_size(self) -> int:
        """Number of token ids the model needs: the digits themselves."""
        return self.num_digits

    @property
    def block_size(self) -> int:
        """Model context: problem and answer concatenated, minus the last token (2·length − 1)."""
        return 2 * self.length - 1

    @property
    def num_problems(self) -> int:
        """Number of distinct problems, ``num_digits ** length`` (a Python int, may be huge)."""
        return self.num_digits**self.length

    def _check_split(self, split: str) -> None:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")

    # -- the split -------------------------------------------------------------
    def problem_hash(self, digits: torch.Tensor) -> torch.Tensor:
        """A fixed 32-bit hash of each problem in ``digits`` (N, length) -> (N,) int64.

        Each (position, digit) pair has a fixed pseudo-random code; a problem's hash
        mixes the sum of its codes. Vectorised: a handful of kernels whatever the length.
        """
        table = _position_digit_table(self.length, self.num_digits, self.split_salt, str(digits.device))
        codes = table.gather(1, digits.t().long())  # (length, N): code of digit at each position
        return mix32(codes.sum(0))

    def is_test(self, digits: torch.Tensor) -> torch.Tensor:
        """Boolean (N,): which problems in ``digits`` (N, length) belong to the test split."""
        self._check_digits(digits)
        threshold = int(self.test_fraction * 2**32)
        return self.problem_hash(digits) < threshold

    def _check_digits(self, digits: torch.Tensor) -> None:
        if not isinstance(digits, torch.Tensor) or digits.dim() != 2 or digits.size(1) != self.length:
            shape = tuple(digits.shape) if isinstance(digits, torch.Tensor) else type(digits).__name__
            raise ValueError(f"problems must be an (N, {self.length}) tensor of digits, got {shape}")
        if digits.is_floating_point():
            raise TypeError(f"problems must be integer digits, got dtype {digits.dtype}")

    # -- problems and examples ---------------------------------------------------
    def sample_problems(
        self,
        split: str,
        n: int,
        generator: torch.Generator | None = None,
        device=None,
        boost: bool = True,
        sync_free: bool | None = None,
    ) -> torch.Tensor:
        """Draw ``n`` problems (n, length) of ``split`` by the demo's rejection sampling.

        Draws happen on ``generator``'s device (or ``device`` / the CPU without one).
        Problems may repeat, as in minGPT's demo. ``boost=False`` skips the
        repeat-boosting rejection (plain uniform problems of the split).

        ``sync_free`` (default: on every device but the CPU: CUDA, MPS, ...) never reads a
        count back to the host, so a GPU training step does not wait for the device here: one pool of candidates,
        sized so that running short has probability below 1e-15 (and even then no
        problem of the other split is returned, an accepted one is repeated). Without
        it, a short pool is simply drawn again, which is exact.
        """
        self._check_split(split)
        if n < 0:
            raise ValueError(f"n must be non-negative, got {n}")
        if generator is not None:
            device = generator.device
        device = torch.device("cpu") if device is None else torch.device(device)
        want_test = split == "test"
        if sync_free is None:
            sync_free = device.type != "cpu"  # reading a count from any accelerator waits for it
        pool = self._pool_size(split, n, boost, sync_free)
        while True:
            # Draw a pool of candidates and keep the first n accepted ones, in draw order.
            digits = torch.randint(
                self.num_digits, (pool, self.length), generator=generator, device=device
            )
            coin = torch.rand(pool, generator=generator, device=device)
            accept = self.is_test(digits) == want_test
            if boost and self.boost_probability > 0:
                subject = coin < self.boost_probability
                accept &= ~subject | (self.count_distinct(digits) <= most_distinct_kept(self.length))
            # accepted rows first (a stable sort keeps their draw order); avoids boolean
            # indexing, which needs the count on the host and is slow on the CPU
            order = torch.argsort((~accept).to(torch.uint8), stable=True)
            count = accept.sum()
            if sync_free:
                # No host sync: the pool is sized so that fewer than n accepted rows happens
                # with probability < 1e-15; if it ever does, accepted rows are reused
                # (never a row of the wrong split).
                rows = order[torch.arange(n, device=device) % count.clamp(min=1)]
                break
            if int(count) >= n:
                # Given how many were accepted, the accepted rows are independent draws from
                # the target distribution, so taking the first n is exact rejection sampling.
                rows = order[:n]
                break
        return digits.index_select(0, rows)

    def count_distinct(self, digits: torch.Tensor) -> torch.Tensor:
        """Number of distinct digits in each row of ``digits`` (N, length) -> (N,)."""
        if self.num_digits <= 4096:
            # mark which digits occur in each row, then count the marks (no sort needed)
            present = digits.new_zeros(digits.size(0), self.num_digits, dtype=torch.bool)
            present.scatter_(1, digits, True)
            return present.sum(1)
        s = digits.sort(dim=1).values
        return 1 + (s[:, 1:] != s[:, :-1]).sum(1)

    def acceptance_rate(self, split: str, boost: bool = True) -> float:
        """Share of uniform draws that the rejection step keeps for ``split`` (estimated once, cached)."""
        return _acceptance_rate(self, split, boost)

    def _pool_size(self, split: str, n: int, boost: bool, sync_free: bool) -> int:
        """How many candidates to draw so that (almost always) n of them are accepted."""
        p = self.acceptance_rate(split, boost)
        if not sync_free:
            # the CPU path checks and redraws when short, so a modest margin is enough
            return int(n / p * 1.15) + 16
        # the GPU path never checks (no host sync): size the pool so that a shortfall is
        # at least 8 standard deviations of the binomial count away (probability < 1e-15),
        # with the estimated rate discounted by 20% for its own sampling error
        p = 0.8 * p
        z = 8.0
        root = (z * math.sqrt(p * (1 - p)) + math.sqrt(z * z * p * (1 - p) + 4 * p * n)) / (2 * p)
        return int(math.ceil(root * root)) + 16

    def examples(self, digits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Model inputs and targets ``(x, y)``, each (N, 2·length − 1), for problems ``digits``."""
        self._check_digits(digits)
        digits = digits.long()
        solution = digits.sort(dim=1).values
        sequence = torch.cat([digits, solution], dim=1)
        x = sequence[:, :-1]
        y = sequence[:, 1:].clone()
        y[:, : self.length - 1] = IGNORE_INDEX  # no loss while the model reads the input
        return x, y

    def get_batch(
        self, split: str, batch_size: int, generator: torch.Generator | None = None, device=None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """A random batch ``(x, y)`` of ``split``, built on ``generator``'s device (see :meth:`sample_problems`)."""
        return self.examples(self.sample_problems(split, batch_size, generator, device))

    def fixed_problems(self, split: str, n: int, seed: int = 0, device=None) -> torch.Tensor:
        """The same ``n`` problems of ``split`` every time for a given ``seed``: an evaluation set.

        Drawn with the training distribution (boosted, repeats allowed) from a CPU
        generator, so the set is identical on every machine, then moved to ``device``.
        """
        generator = torch.Generator().manual_seed(seed)
        problems = self.sample_problems(split, n, generator)
        return problems if device is None else problems.to(device)

    def all_problems(self, split: str | None = None, limit: int = 1 << 22, device=None) -> torch.Tensor:
        """Every distinct problem (of ``split``, or of both if None), in lexicographic order.

        Only for small tasks: refuses when ``num_digits ** length`` exceeds ``limit``
        (length 64 over 64 digits has 2**384 problems; use :meth:`fixed_problems`).
        """
        if split is not None:
            self._check_split(split)
        if self.num_problems > limit:
            raise ValueError(
                f"{self.num_problems:.3g} problems ({self.num_digits}**{self.length}) are too many "
                f"to enumerate (limit {limit}); sample a fixed set with fixed_problems() instead"
            )
        index = torch.arange(self.num_problems, dtype=torch.long, device=device)
        powers = self.num_digits ** torch.arange(self.length - 1, -1, -1, device=device)
        digits = (index[:, None] // powers) % self.num_digits
        if split is None:
            return digits
        return digits[self.is_test(digits) == (split == "test")]

    def solves(self, digits: torch.Tensor, answers: torch.Tensor) -> torch.Tensor:
        """Boolean (N,): whether each of ``answers`` (N, length) is the sorted ``digits``."""
        return (answers == digits.sort(dim=1).values).all(dim=1)


@functools.lru_cache(maxsize=256)
def _acceptance_rate(task: SortTask, split: str, boost: bool) -> float:
    # 8192 uniform draws from a fixed CPU generator: the same estimate on every machine
    generator = torch.Generator().manual_seed(1234)
    digits = torch.randint(task.num_digits, (8192, task.length), generator=generator)
    coin = torch.rand(8192, generator=generator)
    accept = task.is_test(digits) == (split == "test")
    if boost and task.boost_probability > 0:
        accept &= (coin >= task.boost_probability) | (task.count_distinct(digits) <= most_distinct_kept(task.length))
    # at least a few accepted draws' worth, so a rare split still gets a finite pool
    return max(int(accept.sum()), 8) / 8192


@torch.no_grad()
def sort_accuracy(
    model,
    task: SortTask,
    problems: torch.Tensor,
    batch_size: int = 1000,
    method: str = "generate",
) -> float:
    """Fraction of ``problems`` (N, length) the model sorts exactly, as in minGPT's demo.

    ``method="generate"``: greedy generation of ``length`` tokens after the problem
    (``model.generate(..., do_sample=False)``), exactly what the demo scores.

    ``method="teacher_forced"``: one forward pass over the true sequence; a problem
    counts as solved when the argmax at every answer position is the right digit.
    This is the same verdict (greedy decoding reproduces the answer if and only if
    each step's argmax, given the correct prefix, is correct) at 1/length of the cost;
    it can differ from generation only where two logits tie exactly.

    The model is put in eval mode for the call and restored afterwards.
    """
    if method not in ("generate", "teacher_forced"):
        raise ValueError(f"method must be 'generate' or 'teacher_forced', got {method!r}")
    if problems.numel() == 0:
        raise ValueError("no problems to evaluate")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    L = task.length
    solved = torch.zeros((), dtype=torch.long, device=device)
    try:
        for start in range(0, problems.size(0), batch_size):
            digits = problems[start : start + batch_size].to(device)
            if method == "generate":
                out = model.generate(digits, L, do_sample=False)
                answers = out[:, L:]
            else:
                x, _ = task.examples(digits)
                logits = model(x)
                answers = logits[:, L - 1 :].argmax(-1)  # predictions for the answer positions
            solved += task.solves(digits, answers).sum()
    finally:
        model.train(was_training)
    return solved.item() / problems.size(0)


# ---------------------------------------------------------------------------
# Character-level text
# ---------------------------------------------------------------------------


def default_corpus() -> str:
    """About 460k characters of English prose and code that ship with every Python.

    The text of Python's own documentation topics (``pydoc_data.topics``, what
    ``help("for")`` prints), joined in a fixed order. Some trimmed Python builds
    leave ``pydoc_data`` out; then the docstrings of the built-in functions and
    types are used instead (smaller, also always there).
    """
    try:
        from pydoc_data.topics import topics
    except ImportError:  # pragma: no cover - depends on how Python was packaged
        import builtins

        docs = (getattr(builtins, name).__doc__ for name in sorted(dir(builtins)))
        return "\n\n".join(d for d in docs if d)
    return "\n\n".join(topics[key] for key in sorted(topics))


def split_text(text, val_fraction: float = 0.1):
    """``(train, val)``: the first ``int(len(text) * (1 - val_fraction))`` items train, the rest validate.

    nanoGPT's ``shakespeare_char`` cut, the one every dataset here uses; ``text`` may be a
    string or a 1-D tensor of token ids.
    """
    n_train = int(len(text) * (1.0 - val_fraction))
    return text[:n_train], text[n_train:]


def tiny_shakespeare() -> str:
    """Tiny Shakespeare: 1,115,394 characters of Shakespeare's plays, shipped with the package.

    The file is char-rnn's ``data/tinyshakespeare/input.txt``
    (https://github.com/karpathy/char-rnn), the corpus of minGPT's char demo and
    nanoGPT's first example; the plays are in the public domain. It is read from the
    installed package (``mingpt_lite/corpora``), so no network is needed.
    """
    from importlib.resources import files

    return files("mingpt_lite").joinpath("corpora", "tinyshakespeare.txt").read_text(encoding="utf-8")


#: Corpora available offline by name (:func:`load_corpus`, ``CharDataset.from_corpus``).
CORPORA = {"tinyshakespeare": tiny_shakespeare, "python-docs": default_corpus}


def load_corpus(name: str) -> str:
    """The text of a corpus that ships with the package or with Python: ``"tinyshakespeare"`` or ``"python-docs"``."""
    if name not in CORPORA:
        raise ValueError(f"unknown corpus {name!r}; available offline: {', '.join(CORPORA)}")
    return CORPORA[name]()


def read_text_file(path: str | os.PathLike) -> str:
    """The text of a file: UTF-8 (a byte-order mark is dropped) or UTF-16 with its byte-order mark.

    Anything else (a binary file, Latin-1, UTF-16 without a mark) is a ValueError that
    names the file and the first offending byte, instead of a bare UnicodeDecodeError.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder, not a text file")
    if not path.is_file():
        raise FileNotFoundError(f"no text file at {path}")
    raw = path.read_bytes()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as err:
            raise ValueError(f"{path} starts like UTF-16 text but is not ({err.reason} at byte {err.start})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ValueError(
            f"{path} is not UTF-8 text: byte 0x{raw[err.start]:02x} at offset {err.start} cannot be decoded "
            f"(a binary file, or another encoding such as Latin-1; convert it, e.g. "
            f"iconv -f latin1 -t utf-8 {path.name} > {path.stem}.utf8{path.suffix})"
        ) from None
    if "\x00" in text:
        raise ValueError(f"{path} holds NUL bytes: it looks like a binary file, not text")
    return text


def _same_device(a, b) -> bool:
    """Whether two devices are one: ``cuda`` (the current GPU) matches ``cuda:0`` and so on."""
    a, b = torch.device(a), torch.device(b)
    return a.type == b.type and (a.index is None or b.index is None or a.index == b.index)


class CharDataset:
    """A text as a stream of characters: vocabulary, encode/decode, train/val split, random windows.

    The vocabulary is the sorted set of characters in the text, so token id ``i`` is
    ``chars[i]``. The first ``1 - val_fraction`` of the text is the training split,
    the rest validation (``splits == ("train", "val")``). A batch is ``batch_size``
    random windows of ``block_size + 1`` characters: ``x`` the first ``block_size``,
    ``y`` the same shifted by one.

    Build from a string, from a file (:meth:`from_file`), or from the offline
    default corpus (:meth:`default`). ``device`` is where the encoded text lives
    (and batches are built); use ``.to(device)`` to move it. A batch asked for on
    another device (a generator there, as the Trainer's is on the training device)
    moves the text there first, once, like :class:`SortTask`, which draws on the
    generator's device.
    """

    splits = ("train", "val")

    def __init__(self, text: str, block_size: int = 64, val_fraction: float = 0.1, device=None):
        self._check_arguments(text, block_size, val_fraction)
        self.chars: list[str] = sorted(set(text))
        if len(self.chars) < 2:
            raise ValueError("text needs at least two distinct characters to learn anything")
        self.stoi = {c: i for i, c in enumerate(self.chars)}
        self.block_size = block_size
        self.val_fraction = val_fraction
        data = self.encode(text)
        train, val = split_text(data, val_fraction)
        self.data = {"train": train, "val": val}
        self._check_splits_and_place("characters", device)

    @staticmethod
    def _check_arguments(text, block_size, val_fraction) -> None:
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
            raise ValueError(f"block_size must be a positive integer, got {block_size!r}")
        if not 0.0 < val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction!r}")

    def _check_splits_and_place(self, unit: str, device) -> None:
        """Every split must hold one window and its next token; then move the data to ``device``."""
        for split, part in self.data.items():
            if part.numel() < self.block_size + 1:
                raise ValueError(
                    f"the {split} split has {part.numel()} {unit}, fewer than "
                    f"block_size + 1 = {self.block_size + 1}; use a longer text or a smaller block_size"
                )
        if device is not None:
            self.to(device)

    @classmethod
    def from_file(cls, path: str | os.PathLike, block_size: int = 64, val_fraction: float = 0.1, device=None):
        """Read a UTF-8 text file (e.g. Tiny Shakespeare) and build the dataset."""
        return cls(read_text_file(path), block_size, val_fraction, device)

    @classmethod
    def default(cls, block_size: int = 64, val_fraction: float = 0.1, device=None):
        """The dataset over :func:`default_corpus`, available offline on any machine."""
        return cls(default_corpus(), block_size, val_fraction, device)

    @classmethod
    def from_corpus(cls, name: str = "tinyshakespeare", block_size: int = 64, val_fraction: float = 0.1, device=None):
        """The dataset over a corpus named in :data:`CORPORA` (default Tiny Shakespeare), offline.

        With the default ``val_fraction=0.1`` the validation split is the last 10% of
        the text, cut where nanoGPT's ``prepare.py`` cuts it (``int(0.9 * len(text))``).
        """
        return cls(load_corpus(name), block_size, val_fraction, device)

    def to(self, device) -> "CharDataset":
        """Move the encoded text to ``device`` (in place); returns self."""
        self.data = {k: v.to(device) for k, v in self.data.items()}
        return self

    @property
    def device(self) -> torch.device:
        """Where the encoded text lives."""
        return self.data["train"].device

    @property
    def vocab_size(self) -> int:
        """Number of distinct characters."""
        return len(self.chars)

    def __len__(self) -> int:
        return sum(v.numel() for v in self.data.values())

    def encode(self, text: str) -> torch.Tensor:
        """Token ids (1-D long tensor, CPU) of ``text``; unknown characters are an error."""
        try:
            return torch.tensor([self.stoi[c] for c in text], dtype=torch.long)
        except KeyError as err:
            raise ValueError(f"character {err.args[0]!r} is not in this dataset's vocabulary") from None

    def decode(self, ids) -> str:
        """The text for token ids (a 1-D tensor or a list of ints)."""
        if isinstance(ids, torch.Tensor):
            if ids.dim() != 1:
                raise ValueError(f"decode takes one sequence (1-D), got shape {tuple(ids.shape)}")
            if ids.is_floating_point() or ids.is_complex():
                raise TypeError(f"token ids must be integers, got dtype {ids.dtype}")
            ids = ids.tolist()
        ids = list(ids)
        bad = [i for i in ids if isinstance(i, bool) or not isinstance(i, numbers.Integral) or not 0 <= i < self.vocab_size]
        if bad:
            raise ValueError(f"token ids must be integers in [0, {self.vocab_size}), got {bad[0]!r}")
        return "".join(self.chars[i] for i in ids)

    def get_batch(
        self, split: str, batch_size: int, generator: torch.Generator | None = None, device=None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``batch_size`` random windows of ``split``: ``x`` and ``y`` (batch_size, block_size).

        Built on ``generator``'s device (else on ``device``, else where the text lives),
        with offsets drawn from ``generator``. If the text lives elsewhere it is moved
        there first, once (it stays there, see :meth:`to`): a dataset built on the CPU
        then works with a Trainer on a GPU, and no batch mixes devices.
        """
        if split not in self.data:
            raise ValueError(f"split must be one of {tuple(self.data)}, got {split!r}")
        if generator is not None and device is not None and not _same_device(device, generator.device):
            raise ValueError(
                f"the generator is on {generator.device} but device={str(device)!r} was asked for; "
                f"make the generator with torch.Generator(device={str(device)!r})"
            )
        target = generator.device if generator is not None else device
        if target is not None and not _same_device(target, self.device):
            self.to(target)
        data = self.data[split]
        T = self.block_size
        starts = torch.randint(
            data.numel() - T, (batch_size,), generator=generator, device=data.device
        )
        windows = starts[:, None] + torch.arange(T + 1, device=data.device)  # (B, T+1)
        chunk = data[windows]
        return chunk[:, :-1], chunk[:, 1:]


class TokenDataset(CharDataset):
    """A text as a stream of BPE tokens, with :class:`CharDataset`'s interface.

    The text is cut into train and validation *by characters*, where :class:`CharDataset`
    cuts it (the first ``int(len(text) * (1 - val_fraction))`` characters train), and each
    part is tokenised on its own. So both datasets hold the same validation text, which is
    what lets a character model and a token model be scored on it side by side (in bits per
    character). ``block_size`` counts tokens: a window of 64 tokens holds more characters
    than one of 64 characters. Batches come from :meth:`CharDataset.get_batch` unchanged:
    random windows, built on the generator's device.

    Args:
        text: the whole text.
        tokenizer: a :class:`~mingpt_lite.tokenizer.Tokenizer` (e.g. from ``train_bpe`` or
            ``Tokenizer.load``); its ``vocab_size`` is the dataset's.
    """

    def __init__(self, text: str, tokenizer: Tokenizer, block_size: int = 64, val_fraction: float = 0.1,
                 device=None):
        self._check_arguments(text, block_size, val_fraction)
        if not isinstance(tokenizer, Tokenizer):
            raise TypeError(f"tokenizer must be a mingpt_lite.tokenizer.Tokenizer, got {type(tokenizer).__name__}")
        self.tokenizer = tokenizer
        self.block_size = block_size
        self.val_fraction = val_fraction
        train, val = split_text(text, val_fraction)
        #: the text of each split, as cut before tokenising
        self.texts = {"train": train, "val": val}
        self.data = {split: self.encode(part) for split, part in self.texts.items()}
        self._check_splits_and_place("tokens", device)

    @classmethod
    def from_file(cls, path: str | os.PathLike, tokenizer: Tokenizer, block_size: int = 64,
                  val_fraction: float = 0.1, device=None):
        """Read a UTF-8 text file and build the dataset."""
        return cls(read_text_file(path), tokenizer, block_size, val_fraction, device)

    @classmethod
    def default(cls, tokenizer: Tokenizer, block_size: int = 64, val_fraction: float = 0.1, device=None):
        """The dataset over :func:`default_corpus`, available offline on any machine."""
        return cls(default_corpus(), tokenizer, block_size, val_fraction, device)

    @classmethod
    def from_corpus(cls, tokenizer: Tokenizer, name: str = "tinyshakespeare", block_size: int = 64,
                    val_fraction: float = 0.1, device=None):
        """The dataset over a corpus named in :data:`CORPORA` (default Tiny Shakespeare), offline."""
        return cls(load_corpus(name), tokenizer, block_size, val_fraction, device)

    @property
    def vocab_size(self) -> int:
        """The tokenizer's number of ids."""
        return self.tokenizer.vocab_size

    def encode(self, text: str) -> torch.Tensor:
        """Token ids (1-D long tensor, CPU) of ``text``."""
        return torch.tensor(self.tokenizer.encode(text), dtype=torch.long)

    def decode(self, ids) -> str:
        """The text for token ids (a 1-D tensor or a list of ints); a character cut in two
        by the slice of ids decodes to U+FFFD."""
        if isinstance(ids, torch.Tensor):
            if ids.dim() != 1:
                raise ValueError(f"decode takes one sequence (1-D), got shape {tuple(ids.shape)}")
            if ids.is_floating_point() or ids.is_complex():
                raise TypeError(f"token ids must be integers, got dtype {ids.dtype}")
        return self.tokenizer.decode(ids)


__all__ = [
    "CORPORA",
    "CharDataset",
    "SortTask",
    "TokenDataset",
    "default_corpus",
    "read_text_file",
    "load_corpus",
    "mix32",
    "most_distinct_kept",
    "repeat_boost_active",
    "sort_accuracy",
    "split_text",
    "tiny_shakespeare",
]
