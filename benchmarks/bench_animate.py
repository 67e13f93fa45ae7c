"""Wall time per stage and peak memory of `cinescape animate`: a thin wrapper over `cinescape bench`.

    python benchmarks/bench_animate.py                                   # the four sizes, both loop modes
    python benchmarks/bench_animate.py --sizes 1024x576 --frames 101 --json bench.json

Takes the options of `cinescape bench` (see `cinescape bench --help` and cinescape.eval.bench).
"""

from __future__ import annotations

import sys

from cinescape.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
