"""The numpy ABI check over the base image's lock, against downloading the wheels it scans.

Arms, interleaved:
  scan    `fave-lock abi locks/fave-base --no-cache`: every wheel in the wheel cache, each extension module of
          the wheels that depend on numpy (both architectures) inflated and searched;
  cached  the same with the result cache;
  ranges  the same from a cache without the wheels (pages cached): each wheel's extension modules read with
          HTTP range requests, the rest never fetched (bytes: `scripts/bench-abi-ranges.py`);
  verify  `fave-lock verify fave-base --no-check-abi` into an empty wheel cache (pages cached), its time
          pro-rated to the bytes of the wheels the check scans: what the scan would cost as downloads;
  curl    one `curl --parallel` of the same wheels (the network's limit).
Goals: the scan no slower than the download, the cached check under 50 ms, the range reads and scan together
no slower than downloading the wheels alone.
"""

from __future__ import annotations

import json
import shutil
import subprocess

from . import locked
from .context import Arm, Context
from .stats import Check, Goal, at_most
from .table import Row


def abi(ctx: Context) -> list[Row]:
    name = "abi"
    cache = ctx.cache("abi", "fave-lock")
    env = ctx.env("fave-lock", cache)
    fave, config, lock = str(ctx.fave), str(locked.CONFIG), str(locked.LOCK)
    # Warm up: every wheel in the cache, the results cached; learn which wheels the check scans.
    prime = Arm("verify (priming)", "fave-lock", lambda _n: [fave, "verify", "fave-base", "-q", "--config", config],
                cache=cache)
    ctx.prime(name, [prime])
    report = subprocess.run([fave, "abi", lock, "--format", "json"], env=env, capture_output=True, timeout=ctx.timeout)
    try:
        scanned = [w["filename"] for w in json.loads(report.stdout)[0]["wheels"]]
    except (ValueError, LookupError):
        ctx.notes.append(f"abi: `fave-lock abi --format json` gave no report (exit {report.returncode})")
        return [Row(name, verdict="n/a (no report)")]
    sizes = {w.name: w for w in locked.wheels()}
    scanned_bytes = sum(sizes[n].size for n in scanned if n in sizes)
    share = scanned_bytes / max(1, sum(w.size for w in sizes.values()))
    fresh = ctx.cache("abi-download", "fave-lock")
    ranged = ctx.cache("abi-ranges", "fave-lock")
    curl_dir = ctx.scratch("abi-curl")

    def fresh_cache(_n: int) -> None:
        # Pages from the warm cache, wheels from the network.
        shutil.rmtree(fresh, ignore_errors=True)
        shutil.copytree(cache / "simple-v2", fresh / "simple-v2")

    def ranges_cache(_n: int) -> None:
        shutil.rmtree(ranged, ignore_errors=True)
        shutil.copytree(cache / "simple-v2", ranged / "simple-v2")

    def empty_curl(_n: int) -> None:
        shutil.rmtree(curl_dir, ignore_errors=True)
        curl_dir.mkdir(parents=True)

    scanned_wheels = [sizes[n] for n in scanned if n in sizes]
    arms = [
        Arm("scan", "fave-lock", lambda _n: [fave, "abi", lock, "--no-cache", "--summary"], cache=cache),
        Arm("cached", "fave-lock", lambda _n: [fave, "abi", lock, "--summary"], cache=cache),
        Arm("ranges", "fave-lock", lambda _n: [fave, "abi", lock, "--no-cache", "--summary"], cache=ranged,
            before=ranges_cache),
        Arm("verify download", "fave-lock", lambda _n: [fave, "verify", "fave-base", "-q", "--no-check-abi",
                                                        "--cache-ttl", "86400", "--config", config],
            cache=fresh, before=fresh_cache),
        # The argv is made after `before` emptied the folder: it writes curl's config file there.
        Arm("curl --parallel", "curl", lambda _n: locked.curl_parallel(scanned_wheels, curl_dir), before=empty_curl),
    ]
    summary = ctx.compare(name, arms)
    download = summary["verify download"].scaled(share)
    scanned_note = f"{len(scanned)} wheels, {scanned_bytes / 2**20:.0f} MiB"
    return [
        Row("abi: scan, wheels cached, no result cache", summary["scan"], download, "verify's download (pro-rated)",
            at_most("≤ 1.0× the download (wall)", wall=1.0), outputs=scanned_note),
        Row("abi: wheels not cached, range reads of the modules", summary["ranges"], download,
            "verify's download (pro-rated)", at_most("≤ 1.0× the download (wall)", wall=1.0), outputs=scanned_note),
        Row("abi: result cache", summary["cached"], download, "verify's download (pro-rated)",
            Goal("< 50 ms", (Check("wall", 0.05, relative=False, strict=True),))),
        Row("abi: verify's download of those wheels (pro-rated)", download, summary["curl --parallel"],
            "curl --parallel", None),
    ]
