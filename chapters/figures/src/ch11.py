"""Diagrams of chapter 11: what DistributedDataParallel does in one training step."""

from __future__ import annotations

from draw import arrow, box, canvas, label


def ddp_allreduce():
    """Two ranks, each with a full replica: half a batch each, gradients all-reduced, identical steps."""
    fig, ax = canvas(43.0, 15.0, scale=0.34)
    label(ax, 21.5, 14.3, "one DDP training step, 2 processes (ranks), global batch 32 = 16 + 16", fontsize=11,
          weight="bold")
    lanes = {0: 9.2, 1: 2.2}  # lower y of each rank's lane
    h = 2.6
    for rank, y in lanes.items():
        mid = y + h / 2
        label(ax, 0.2, mid + 1.9, f"rank {rank}", fontsize=10, ha="left", weight="bold")
        rows = "0 .. 15" if rank == 0 else "16 .. 31"
        box(ax, 0.2, y, 6.0, h, f"batch rows\n{rows}\n(16, 11) tokens", color="data", fontsize=8.5)
        box(ax, 8.0, y, 6.2, h, "replica of the GPT\nweights θ\n(equal on both ranks)", color="neutral", fontsize=8.5)
        arrow(ax, (6.2, mid), (8.0, mid))
        box(ax, 16.4, y, 5.4, h, f"gradient g{rank}\n26,016 numbers\nof its half", color="attention", fontsize=8.5)
        arrow(ax, (14.2, mid), (16.4, mid), text="forward,\nbackward", fontsize=7.5, text_offset=(0, 0.9))
        box(ax, 29.0, y, 5.4, h, "ḡ = (g0 + g1) / 2\nthe full batch's\ngradient", color="value", fontsize=8.5)
        box(ax, 36.6, y, 6.0, h, "AdamW step\nθ ← θ − update(ḡ)\nsame on both", color="neutral", fontsize=8.5)
        arrow(ax, (34.4, mid), (36.6, mid))
    # The all-reduce in the middle, spanning both lanes.
    box(ax, 23.4, lanes[1], 4.2, lanes[0] + h - lanes[1], "all-reduce\n\nsum over\nranks,\nresult on\nevery rank,\nthen / 2\n\n(in buckets,\nwhile backward\nstill runs)",
        color="weights", fontsize=8.5)
    for rank, y in lanes.items():
        mid = y + h / 2
        arrow(ax, (21.8, mid), (23.4, mid))
        arrow(ax, (27.6, mid), (29.0, mid))
    # The broadcast at start-up, and the chapter's demo numbers.
    label(ax, 11.6, 7.0, "at construction, DDP\nbroadcasts rank 0's θ\nto every rank", fontsize=8, color="#555555", ha="left")
    arrow(ax, (11.1, lanes[0]), (11.1, lanes[1] + h), color="#888888", linestyle="--")
    label(ax, 25.5, 0.9, "the chapter's demo: rank 0 sends [1, 10], rank 1 sends [2, 20];\n"
          "both get the sum [3, 30], and [1.5, 15] after dividing by 2",
          fontsize=8, color="#555555")
    label(ax, 39.6, 6.2, "replicas stay equal\nwithout sending\nany weights", fontsize=8, color="#555555")
    return fig


FIGURES = {"11_ddp_allreduce.svg": ddp_allreduce}
