#!/usr/bin/env python3
"""Compare fave-lock with uv on the real-world requirement corpus (tests/corpus/): the outcome of every set.

A thin wrapper: the runs, the outcome classes and the table live in scripts/benchlib/corpus.py, which
`scripts/bench --only corpus` shares for the timing per set. `--help` lists the options.
Exit 1 when any set is fave-timeout, different, sdist-needed or fave-fail, 2 on a usage error, else 0.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib.corpus import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
