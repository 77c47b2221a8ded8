"""The lab beside the core: everything that runs ``mingpt_lite`` from the shell or at scale.

- :mod:`mingpt_lab.cli`: the ``mingpt-lite`` console script (train, eval, sample, and the two below);
- :mod:`mingpt_lab.experiments`: the precomputed runs behind the chapters' committed data;
- :mod:`mingpt_lab.sweeps`: side-by-side runs in worker processes;
- :mod:`mingpt_lab.bench`: benchmarks against minGPT and nanoGPT.

The core (``mingpt_lite``) never imports this package; ``make test`` checks that with import-linter.
"""
