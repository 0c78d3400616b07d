"""Process entry point for a forking OpenFaaS watchdog: request body on stdin, response body on stdout.

The watchdog (of-watchdog ``mode=streaming``, or the classic watchdog) starts ``python3 index.py`` per request,
passes the request headers as ``Http_*`` environment variables (so ``Http_X_Call_Id`` reaches the logs) and
returns stdout as the response. Logs therefore go to stderr (``FAVE_LOG_STREAM=stderr``, set in the Dockerfile and
defaulted here). Exit status: 0 when the stage succeeded, 1 when it answered ``failed``.
"""

from __future__ import annotations

import json
import os
import sys


def main() -> int:
    os.environ.setdefault("FAVE_LOG_STREAM", "stderr")
    from logging_helper import configure_logging

    configure_logging(os.environ.get("FAVE_LOG_LEVEL", "info"))
    from handler import handle

    body = sys.stdin.buffer.read()
    answer = handle(body)
    sys.stdout.write(answer + "\n")
    sys.stdout.flush()
    return 0 if json.loads(answer).get("status") == "succeeded" else 1


if __name__ == "__main__":
    sys.exit(main())
