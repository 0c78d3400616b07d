"""The base image's lock (locks/fave-base/pylock.toml) as the abi and verify scenarios need it."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass

from .context import ROOT

LOCK = ROOT / "locks" / "fave-base" / "pylock.toml"
CONFIG = ROOT / "fave-lock.toml"


@dataclass(frozen=True)
class Wheel:
    name: str
    url: str
    size: int


def wheels(x86_64_only: bool = False) -> list[Wheel]:
    """Every wheel of the lock; with `x86_64_only`, those the linux/amd64 image installs."""
    with open(LOCK, "rb") as file:
        lock = tomllib.load(file)
    found = []
    for package in lock.get("packages", []):
        marker = package.get("marker", "")
        if x86_64_only and marker and "x86_64" not in marker:
            continue
        for wheel in package.get("wheels", []):
            if x86_64_only and "aarch64" in wheel["name"]:
                continue
            found.append(Wheel(wheel["name"], wheel["url"], wheel.get("size", 0)))
    return found


def curl_parallel(wheels_: list[Wheel], folder, parallel: int = 8) -> list[str]:
    """One `curl --parallel` (HTTP/2 multiplexing on one connection, as fave-lock fetches) of `wheels_`."""
    config = folder / "curl.cfg"
    config.write_text("".join(f'url = "{w.url}"\noutput = "{folder / w.name}"\n' for w in wheels_))
    return ["curl", "-sSf", "--retry", "3", "--parallel", "--parallel-max", str(parallel), "--config", str(config)]
