#!/usr/bin/env python3
"""Hold N slowloris connections open to a loopback `fave-lock serve` for a bounded time.

Each connection sends a request line and then one header byte a second, never finishing its head; when
the server closes one (its header timeout), it is reopened, so N stay open. At the end it prints how
many connections it opened and how many the server closed. Loopback only.

Usage: scripts/test/slowloris.py PORT [CONNECTIONS=500] [SECONDS=30]
"""

import asyncio
import sys
import time

HOST = "127.0.0.1"


async def hold(port: int, end: float, stats: dict) -> None:
    while time.monotonic() < end:
        try:
            reader, writer = await asyncio.open_connection(HOST, port)
        except OSError:
            stats["refused"] += 1
            await asyncio.sleep(0.5)
            continue
        stats["opened"] += 1
        try:
            writer.write(f"GET /healthz HTTP/1.1\r\nHost: {HOST}\r\nX-Slow: ".encode())
            while time.monotonic() < end:
                try:
                    # The server sends nothing on a header timeout: any read result is its close.
                    await asyncio.wait_for(reader.read(1), 1.0)
                    stats["closed by server"] += 1
                    break
                except asyncio.TimeoutError:
                    writer.write(b"a")
                    await writer.drain()
        except OSError:
            stats["closed by server"] += 1
        finally:
            writer.close()


async def main() -> None:
    port = int(sys.argv[1])
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    seconds = min(float(sys.argv[3]) if len(sys.argv) > 3 else 30.0, 600.0)
    stats = {"opened": 0, "closed by server": 0, "refused": 0}
    end = time.monotonic() + seconds
    await asyncio.gather(*(hold(port, end, stats) for _ in range(count)))
    print(f"slowloris: {count} connections held for {seconds:.0f} s: {stats}")


if __name__ == "__main__":
    asyncio.run(main())
