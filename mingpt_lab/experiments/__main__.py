"""``python -m mingpt_lab.experiments`` is ``mingpt-lite experiments``."""
from mingpt_lab.experiments.cli import main

if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
