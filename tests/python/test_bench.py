"""The bench's shared module (scripts/benchlib): statistics, goals, table rendering, the interleaving order, the
measured child runs (exit codes, the timeout killing the whole process group), and the parsers it relies on.

Plain unittest, so it runs under scripts/test/python.sh's pytest and alone:
    python3 -m unittest discover -s tests/python -p test_bench.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

from benchlib import chain, corpus, measure, serve  # noqa: E402
from benchlib.context import pins  # noqa: E402
from benchlib.measure import Measurement  # noqa: E402
from benchlib.stats import Check, Goal, Summary, at_most, interleaved, ratio, summarize, total  # noqa: E402
from benchlib.table import Row, render, seconds  # noqa: E402


def sample(wall: float, cpu: float = 0.1, rss: float = 50.0) -> Measurement:
    return Measurement(["x"], 0, wall, cpu, rss, False)


class Statistics(unittest.TestCase):
    def test_medians_of_every_metric(self) -> None:
        s = summarize([sample(3.0, 0.3, 70), sample(1.0, 0.1, 90), sample(2.0, 0.5, 80)], failed=1)
        self.assertEqual((s.wall, s.cpu, s.rss, s.runs, s.failed), (2.0, 0.3, 80, 3, 1))

    def test_even_count_takes_the_mean_of_the_middle_two(self) -> None:
        self.assertEqual(summarize([sample(1.0), sample(4.0)]).wall, 2.5)

    def test_total_sums_times_and_keeps_the_largest_rss(self) -> None:
        t = total([Summary(1.0, 0.5, 40, 3), Summary(2.5, 1.0, 90, 3, failed=1)])
        self.assertEqual((t.wall, t.cpu, t.rss, t.runs, t.failed), (3.5, 1.5, 90, 6, 1))
        self.assertIsNone(total([Summary(1.0, None, 40, 1), Summary(1.0, 1.0, 40, 1)]).cpu)

    def test_ratio_without_a_denominator_is_none(self) -> None:
        self.assertEqual(ratio(1.0, 4.0), 0.25)
        self.assertIsNone(ratio(1.0, 0.0))
        self.assertIsNone(ratio(None, 1.0))

    def test_scaled_pro_rates_times_not_rss(self) -> None:
        s = Summary(2.0, 1.0, 64, 5).scaled(0.25)
        self.assertEqual((s.wall, s.cpu, s.rss), (0.5, 0.25, 64))

    def test_interleaving_rotates_the_order_each_round(self) -> None:
        self.assertEqual(list(interleaved(3, ["a", "b"])),
                         [(0, "a"), (0, "b"), (1, "b"), (1, "a"), (2, "a"), (2, "b")])
        order = [arm for _, arm in interleaved(3, ["a", "b", "c"])]
        self.assertEqual(order, ["a", "b", "c", "b", "c", "a", "c", "a", "b"])


class Goals(unittest.TestCase):
    fave = Summary(0.6, 0.5, 80, 3)
    uv = Summary(1.0, 0.4, 100, 3)

    def test_met_when_every_check_holds(self) -> None:
        self.assertEqual(at_most("≤ 0.6×", wall=0.6, rss=0.8).judge(self.fave, self.uv), "met")

    def test_not_met_names_the_missed_check(self) -> None:
        verdict = at_most("≤ 0.5× wall, ≤ 0.7× RSS", wall=0.5, rss=0.7).judge(self.fave, self.uv)
        self.assertEqual(verdict, "not met (wall 0.60× > 0.5×; rss 0.80× > 0.7×)")

    def test_strict_check_fails_on_equality(self) -> None:
        goal = Goal("RSS < uv's", (Check("rss", 1.0, strict=True),))
        self.assertEqual(goal.judge(Summary(1, 1, 100, 1), Summary(1, 1, 100, 1)), "not met (rss 1.00× ≥ 1×)")
        self.assertEqual(goal.judge(Summary(1, 1, 99, 1), Summary(1, 1, 100, 1)), "met")

    def test_absolute_check_ignores_the_reference(self) -> None:
        goal = Goal("< 50 ms", (Check("wall", 0.05, relative=False, strict=True),))
        self.assertEqual(goal.judge(Summary(0.012, None, None, 3), None), "met")
        self.assertEqual(goal.judge(Summary(0.2, None, None, 3), None), "not met (wall 0.2 s ≥ 0.05 s)")

    def test_missing_figures_or_failed_runs_are_never_met(self) -> None:
        goal = at_most("≤ 1×", wall=1.0)
        self.assertTrue(goal.judge(self.fave, None).startswith("n/a"))
        self.assertTrue(goal.judge(Summary(0.1, 0.1, 1, 3, failed=1), self.uv).startswith("n/a"))
        self.assertTrue(goal.judge(self.fave, Summary(1.0, 1.0, 1, 3, failed=2)).startswith("n/a"))
        self.assertTrue(goal.judge(None, self.uv).startswith("n/a"))


class Table(unittest.TestCase):
    def test_one_aligned_line_per_row_with_ratios_goal_and_verdict(self) -> None:
        rows = [
            Row("resolve-cold", Summary(0.5, 0.25, 40, 3), Summary(1.0, None, 20, 3),
                goal=at_most("≤ 0.5× wall", wall=0.5), outputs="same 53 pins"),
            Row("verify: a|b", Summary(1.2, 0.3, 30, 3), Summary(1.0, 0.1, 16, 3), "curl --parallel"),
            Row("serve: /", fave_text="25,000 req/s", verdict="met"),
        ]
        lines = render(rows).splitlines()
        self.assertEqual(len(lines), 2 + len(rows))
        self.assertEqual(len({len(line) for line in lines}), 1, "columns are padded to one width")
        self.assertIn("fave-lock/uv wall, CPU, RSS", lines[0])
        first = [cell.strip() for cell in lines[2].strip("|").split("|")]
        self.assertEqual(first, ["resolve-cold", "0.500 s / 0.250 s / 40.0 MiB", "1.00 s / – / 20.0 MiB",
                                 "0.50×, –, 2.00×", "≤ 0.5× wall", "met", "same 53 pins"])
        self.assertIn("verify: a\\|b", lines[3], "a pipe in a cell is escaped")
        self.assertIn("curl --parallel: 1.00 s", lines[3])
        self.assertIn("25,000 req/s", lines[4])
        self.assertEqual(lines[4].count("|"), 8)

    def test_failed_runs_show_in_the_cell(self) -> None:
        self.assertIn("(1 of 3 failed)", render([Row("x", Summary(1.0, 1.0, 1.0, 3, failed=1))]))

    def test_seconds_keep_three_digits_under_one_second(self) -> None:
        self.assertEqual([seconds(0.0456), seconds(4.567), seconds(123.4), seconds(None)],
                         ["0.046 s", "4.57 s", "123 s", "–"])


class Runs(unittest.TestCase):
    env = dict(os.environ)

    def test_exit_code_cpu_and_rss_of_the_child(self) -> None:
        result = measure.run(["sh", "-c", "exit 3"], self.env, timeout=30)
        self.assertEqual((result.exit_code, result.timed_out), (3, False))
        self.assertGreater(result.rss, 0)
        self.assertGreaterEqual(result.cpu, 0)

    def test_output_goes_to_the_given_files(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            out, err = Path(tmp) / "out", Path(tmp) / "err"
            measure.run(["sh", "-c", "echo to-out; echo to-err >&2"], self.env, 30, out, err)
            self.assertEqual((out.read_text(), err.read_text()), ("to-out\n", "to-err\n"))

    def test_the_timeout_kills_the_whole_process_group(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            pidfile = Path(tmp) / "pid"
            result = measure.run(["sh", "-c", f"sleep 60 & echo $! > {pidfile}; wait"], self.env, timeout=0.5)
            self.assertTrue(result.timed_out)
            self.assertIsNone(result.exit_code)
            grandchild = int(pidfile.read_text())
            self.assertTrue(wait_gone(grandchild), "the child's own child outlived the timeout")


def wait_gone(pid: int) -> bool:
    """True once `pid` no longer runs (gone, or a zombie waiting for init); waits for the kill to land."""
    for _ in range(100):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


class Parsers(unittest.TestCase):
    def test_pins_normalise_names_and_drop_markers_and_hashes(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            lock = Path(tmp) / "lock.txt"
            lock.write_text("# header\nNumPy==2.1.0 \\\n    --hash=sha256:aa\nzope.interface==7.0 ; "
                            "platform_machine == 'x86_64'\n-e ./local\n")
            self.assertEqual(pins(lock), {"numpy==2.1.0", "zope-interface==7.0"})

    def test_corpus_entries_skip_included_files_and_select_by_name(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            (root / "app").mkdir()
            (root / "app" / "base.txt").write_text("django\n")
            (root / "app" / "prod.txt").write_text("-r base.txt\ngunicorn\n")
            (root / "solo.txt").write_text("-c app/base.txt\nflask\n")
            entries = corpus.entry_files(root)
            self.assertEqual([str(e.relative_to(root)) for e in entries], ["app/prod.txt", "solo.txt"])
            chosen, unknown = corpus.select(entries, ["solo.txt", "app/prod.txt", "nope.txt"], root)
            self.assertEqual([e.name for e in chosen], ["solo.txt", "prod.txt"])
            self.assertEqual(unknown, ["nope.txt"])

    def test_serve_rows_judge_the_dashboard_and_the_first_view(self) -> None:
        output = "\n".join([
            "| target | connections | body bytes | req/s | p50 | p99 | server-side p99 |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
            "| `/` dashboard (cached) | 16 | 14879 | 26279 | 0.53ms | 3.68ms | ≤ 0.05 ms |",
            "| `/` dashboard (cached) | 64 | 14879 | 9000 | 2.71ms | 8.54ms | ≤ 0.05 ms |",
            "| `/healthz` (baseline) | 32 | 44 | 25868 | 1.06ms | 1.20s | ≤ 0.05 ms |",
            "| first view | seconds |",
            "| `/images/big` with 1000 tags, cold (tag list + 1000 manifests + config) | 2.5 |",
        ])
        rows = serve.rows_of(output)
        self.assertEqual([r.judged() for r in rows], ["met", "not met", "–", "not met"])
        self.assertEqual(serve.milliseconds("850.00us"), 0.85)
        self.assertEqual(serve.milliseconds("1.20s"), 1200.0)


if __name__ == "__main__":
    unittest.main()


# A lock as `fave-lock resolve` writes it (excerpt of a real run: one-line and list `# via`, an input pin),
# and `resolve -v` log lines of the same run's requests.
LOCK = """\
librosa==0.10.2 \\
    --hash=sha256:aa
    # via -r base-image/requirements.in
llvmlite==0.43.0 \\
    --hash=sha256:bb
    # via numba
numba==0.60.0 \\
    --hash=sha256:cc
    # via
    #   librosa
    #   resampy
numpy==2.1.3 \\
    --hash=sha256:dd
    # via
    #   -r base-image/requirements.in
    #   librosa
    #   numba
resampy==0.4.3 \\
    --hash=sha256:ee
    # via librosa
"""
LOG = """\
   0.011s DEBUG GET url=https://pypi.org/simple/librosa/ status=200 ms=10
   0.012s DEBUG GET url=https://pypi.org/simple/numpy/ status=200 ms=7
   0.050s DEBUG GET url=https://files.pythonhosted.org/packages/aa/librosa-0.10.2-py3-none-any.whl.metadata status=200 ms=20
   0.090s DEBUG GET url=https://pypi.org/simple/numba/ status=200 ms=30
   0.095s DEBUG GET url=https://files.pythonhosted.org/packages/bb/numba-0.59.0-cp311-cp311-linux_x86_64.whl.metadata status=200 ms=500
   0.120s DEBUG GET url=https://files.pythonhosted.org/packages/bb/numba-0.60.0-cp311-cp311-linux_x86_64.whl.metadata status=404 ms=5
   0.130s DEBUG GET url=https://files.pythonhosted.org/packages/bb/numba-0.60.0-cp311-cp311-linux_x86_64.whl status=206 ms=15
   0.150s DEBUG GET url=https://pypi.org/simple/resampy/ status=200 ms=1
   0.160s DEBUG GET url=https://pypi.org/simple/llvmlite/ status=200 ms=40
   0.200s DEBUG GET url=https://files.pythonhosted.org/packages/cc/llvmlite-0.43.0-cp311-cp311-linux_x86_64.whl.metadata status=200 ms=25
   0.210s DEBUG GET url=https://pypi.org/simple/unrelated/ status=200 ms=900
   0.220s DEBUG trying package=numba version=0.60.0
"""


class Chain(unittest.TestCase):
    def test_the_lock_gives_pins_and_parents_from_both_via_forms(self) -> None:
        lock = chain.read_lock(LOCK)
        self.assertEqual(lock.versions["numba"], "0.60.0")
        self.assertEqual(lock.parents["librosa"], {"-r"})
        self.assertEqual(lock.parents["numba"], {"librosa", "resampy"})
        self.assertEqual(lock.parents["numpy"], {"-r", "librosa", "numba"})

    def test_costs_count_the_page_and_the_locked_file_only(self) -> None:
        costs = chain.request_costs(LOG, chain.read_lock(LOCK))
        # numba: its page, the 404 for 0.60.0's .metadata and the range read of its wheel; not 0.59.0's 500 ms.
        self.assertEqual(costs["numba"], 30 + 5 + 15)
        self.assertEqual(costs["librosa"], 10 + 20)
        self.assertNotIn("unrelated", costs)

    def test_the_critical_path_follows_the_earliest_parent_to_the_slowest_package(self) -> None:
        lock = chain.read_lock(LOCK)
        found = chain.critical_path(lock, chain.request_costs(LOG, lock))
        # numba is reached through librosa (30 ms) rather than resampy (30 + 1 ms), then llvmlite (65 ms).
        self.assertEqual(found.packages, ["librosa", "numba", "llvmlite"])
        self.assertEqual(found.milliseconds, 30 + 50 + 65)
        self.assertEqual(chain.depth(lock), 3)

    def test_a_cycle_in_the_lock_ends(self) -> None:
        lock = chain.read_lock("a==1\n    # via b\nb==1\n    # via\n    #   a\n    #   -r in.txt\n")
        found = chain.critical_path(lock, {"a": 5.0, "b": 7.0})
        self.assertEqual((found.packages, found.milliseconds), (["b", "a"], 12.0))
