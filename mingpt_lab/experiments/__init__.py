"""The experiments behind the chapters' committed data, one module per chapter it serves.

- :mod:`~mingpt_lab.experiments.results`: resumable result files of many runs side by side (all of them);
- :mod:`~mingpt_lab.experiments.norms`: chapter 6, LayerNorm placement;
- :mod:`~mingpt_lab.experiments.generation`: chapter 7, its two models over seeds;
- :mod:`~mingpt_lab.experiments.sorting`: chapter 8, steps until a sort task is solved;
- :mod:`~mingpt_lab.experiments.char`: chapter 9, the character model on Tiny Shakespeare;
- :mod:`~mingpt_lab.experiments.cli`: ``mingpt-lite experiments`` (the command line that writes chapters/data/).
"""
