"""Benchmarks: ``python -m mingpt_lite.bench NAME [options]``; each prints one JSON object as its last line."""
