"""fave-lock's benchmarks in one place (Python 3.11 standard library only).

`scripts/bench` is the entry point; `scripts/corpus-compare.py` is a thin wrapper over `corpus`.

  measure   one child run: wall, CPU (user+sys from os.wait4), peak RSS; its process group killed at a timeout
  stats     medians, ratios, goals (met / not met), the interleaving order of the runs
  table     the one Markdown table every scenario's rows go into
  context   binaries, per-tool cache dirs, targets, the resolve commands, the record of every raw run
  resolve   resolve-cold/-warm/-offline/-cold-default, backtrack, diagnose-seed (against uv)
  corpus    the real-world corpus (tests/corpus/) against uv, and corpus-compare.py's outcome classes
  abi, verify, check, serve   the numpy ABI check, verify, check and the dashboard
  cli       arguments, the scenario list, the header and the table
"""
