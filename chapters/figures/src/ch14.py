"""Chapter 14's diagram: GPT-2's byte-level BPE on one short text, step by step: the pre-split
into chunks, each chunk's UTF-8 bytes (with the printable stand-ins GPT-2's files write for them),
the merges applied by rank, and the ids. Every value is computed here with the package, so the
picture cannot drift from the code."""

from __future__ import annotations

from draw import arrow, box, label, matrix, canvas

from mingpt_lite.tokenizer import bytes_to_unicode, gpt2_tokenizer, merge_pair

TEXT = "Hi Karpathy!"
CHUNK = " Karpathy"  # the chunk followed through the merges


def _merge_steps(tokenizer, chunk: bytes) -> list[list[int]]:
    """The ids of ``chunk`` after each merge, the loop of Tokenizer.encode_chunk written out."""
    byte_id = {b: i for i, b in enumerate(tokenizer.byte_order)}
    ids = [byte_id[b] for b in chunk]
    steps = [ids]
    rank = {pair: 256 + r for r, pair in enumerate(tokenizer.merges)}
    while True:
        pairs = [p for p in zip(ids, ids[1:]) if p in rank]
        if not pairs:
            return steps
        best = min(pairs, key=rank.get)
        ids = merge_pair(ids, best, rank[best])
        steps.append(ids)


def bpe_pipeline():
    gpt2 = gpt2_tokenizer()
    stand_in = bytes_to_unicode()
    chunks = gpt2.split(TEXT)
    raw = CHUNK.encode("utf-8")
    steps = _merge_steps(gpt2, raw)
    assert steps[-1] == gpt2.encode(CHUNK)
    fig, ax = canvas(24.0, 19.0, scale=0.5)
    x0 = 3.0
    label(ax, 12.0, 18.4, "GPT-2's byte-level BPE on one text: pre-split, bytes, merges by rank, ids", fontsize=11)
    box(ax, x0, 16.4, 5.0, 1.0, repr(TEXT), color="neutral", fontsize=10)
    arrow(ax, (x0 + 2.5, 16.4), (x0 + 2.5, 15.5))
    label(ax, x0 + 3.0, 15.95, "1. pre-split (a regex; merges never cross a chunk)", ha="left", fontsize=9)
    x = x0
    for c in chunks:
        w = 0.4 * len(c) + 1.0
        box(ax, x, 14.4, w, 0.9, repr(c), color="data" if c == CHUNK else "neutral", fontsize=9)
        x += w + 0.3
    arrow(ax, (x0 + 2.5, 14.4), (x0 + 2.5, 13.5))
    label(ax, x0 + 3.0, 13.95, "2. each chunk as UTF-8 bytes: 256 base tokens", ha="left", fontsize=9)
    matrix(ax, x0, 13.3, values=[list(raw), [stand_in[b] for b in raw]], colors=[["data"] * len(raw)] * 2,
           fontsize=8, row_labels=["byte", "stand-in"])
    label(ax, x0 + len(raw) + 0.5, 12.3, "the stand-in: the printable character GPT-2's vocab.bpe writes for\n"
          "a byte (the space, byte 32, is written as chr(288) = Ġ); a storage detail only", ha="left", fontsize=8)
    arrow(ax, (x0 + 2.5, 11.2), (x0 + 2.5, 10.3))
    label(ax, x0 + 3.0, 10.75, "3. merge the adjacent pair learned first (lowest rank), repeat", ha="left", fontsize=9)
    y = 10.1
    for ids in steps[1:]:
        pieces = [gpt2.vocab[i].decode("utf-8", "replace").replace(" ", "␣") for i in ids]
        matrix(ax, x0, y, values=[pieces], colors=[["new"] * len(ids)], fontsize=8, cell=1.0)
        y -= 1.15
    last = steps[-1]
    arrow(ax, (x0 + 2.5, y + 0.1), (x0 + 2.5, y - 0.7))
    label(ax, x0 + 3.0, y - 0.3, "4. no adjacent pair has a rank: the chunk's token ids", ha="left", fontsize=9)
    matrix(ax, x0, y - 0.9, values=[last], colors=[["value"] * len(last)], fontsize=8, cell=1.6)
    label(ax, 12.0, 0.5, f"{len(raw)} bytes -> {len(last)} tokens; decode joins the tokens' bytes, so nothing is lost",
          fontsize=9)
    return fig


FIGURES = {"14_bpe_pipeline.svg": bpe_pipeline}
