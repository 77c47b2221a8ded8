"""``python -m mingpt_lab ...`` is the ``mingpt-lite`` console script."""
import sys

from mingpt_lab.cli import console_main

if __name__ == "__main__":
    sys.exit(console_main())
