#!/usr/bin/env python3
"""own-rss.py -- CMD [ARGS...]: the peak resident memory of CMD's own process, beside that of its whole tree.

`scripts/bench` reports `ru_maxrss` from `wait4`: the largest of the tool and every descendant it reaped (a build's
Python, for both fave-lock and uv). To tell which one it was, this samples the tool's own high-water mark
(`VmHWM` in /proc/PID/status) every 10 ms until it exits, and prints both. The mark only grows, so the last
sample before exit is the process's peak to within the final 10 ms. Output of CMD goes to /dev/null; run it
with the tool's cache variable set (FAVE_LOCK_CACHE_DIR, UV_CACHE_DIR) to an empty folder for a cold run.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    own_kib = 0
    while child.poll() is None:
        try:
            with open(f"/proc/{child.pid}/status") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        own_kib = max(own_kib, int(line.split()[1]))
        except OSError:
            pass  # exited between poll() and open()
        time.sleep(0.01)
    tree_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(f"exit {child.returncode}; own VmHWM {own_kib / 1024:.1f} MiB; "
          f"ru_maxrss of the tree {tree_kib / 1024:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
