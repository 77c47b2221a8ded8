"""Benchmarks: ``mingpt-lite bench NAME [options]``; each prints one JSON object as its last line."""

import argparse

PRECISIONS = ("fp32", "bf16")


def add_device_options(parser: argparse.ArgumentParser, peer: str) -> None:
    """``--device`` and ``--precision``, which both sides of a comparison (ours and ``peer``) use alike."""
    parser.add_argument("--device", default=None,
                        help=f"cpu, cuda, mps (default: $MINGPT_DEVICE, else the best available); ours and {peer} "
                        "both run there")
    parser.add_argument("--precision", choices=PRECISIONS, default="fp32",
                        help=f"fp32 (default) or bf16 autocast, for ours and {peer} alike")
