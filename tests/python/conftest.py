"""Fixtures for the FAVE helper tests: a real S3-compatible server (s3s-fs), a fault-injecting proxy, storages.

The server binary comes from ``$FAVE_S3S_BIN`` (set by scripts/test/python.sh), else ``.cache/s3s/bin/s3s-fs``,
else ``s3s-fs`` on PATH. It is started once per session on an ephemeral loopback port (``--port 0``; the port is
read from its log) with a temporary data folder and authentication on, checked to be alive, and killed by PID
at the end.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMMON = ROOT / "base-image" / "common"
ORCHESTRATOR = ROOT / "functions" / "orchestrator"
for _path in (COMMON, ORCHESTRATOR):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

try:
    import boto3  # noqa: F401
    import librosa  # noqa: F401
    import minio  # noqa: F401
    import pydantic  # noqa: F401
    import soundfile  # noqa: F401
except ImportError as exc:  # pragma: no cover - wrong interpreter
    raise ImportError(
        f"{exc}. The tests in tests/python need the venv built from locks/fave-base/requirements.txt: "
        "run them with scripts/test/python.sh (which makes .venv/helpers)."
    ) from exc

import storage_helper  # noqa: E402

ACCESS_KEY = "fave-test-access"
SECRET_KEY = "fave-test-secret-0123456789"
MIB = 1024 * 1024

# Environment variables that would leak the machine's settings into the helpers under test.
_ENV_PREFIXES = ("FAVE_", "AWS_")
_ENV_NAMES = ("OPENFAAS_NAME", "faas_function", "Http_X_Call_Id")


def _find_s3s() -> str:
    candidates = [os.environ.get("FAVE_S3S_BIN"), str(ROOT / ".cache" / "s3s" / "bin" / "s3s-fs"), shutil.which("s3s-fs")]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail(
        "no s3s-fs binary: run scripts/test/python.sh (it builds one into .cache/s3s) or set FAVE_S3S_BIN",
        pytrace=False,
    )


@dataclass
class S3Server:
    """A running s3s-fs."""

    endpoint: str
    host: str
    port: int
    data_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""


def _wait_for_port(log_path: Path, process: subprocess.Popen[bytes], timeout: float) -> int:
    pattern = re.compile(r"server is running at http://127\.0\.0\.1:(\d+)")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"s3s-fs exited with code {process.returncode}:\n{log_path.read_text(errors='replace')}")
        match = pattern.search(log_path.read_text(errors="replace"))
        if match:
            return int(match.group(1))
        time.sleep(0.05)
    raise RuntimeError(f"s3s-fs did not report its port within {timeout}s:\n{log_path.read_text(errors='replace')}")


def _check_alive(host: str, port: int, timeout: float = 10.0) -> None:
    """An unauthenticated request must get an HTTP answer (403 with auth on) from the server."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=2) as sock:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: " + f"{host}:{port}".encode() + b"\r\nConnection: close\r\n\r\n")
                reply = sock.recv(64)
            if reply.startswith(b"HTTP/1."):
                return
            last = RuntimeError(f"unexpected reply {reply!r}")
        except OSError as exc:
            last = exc
        time.sleep(0.05)
    raise RuntimeError(f"s3s-fs on {host}:{port} does not answer HTTP: {last}")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    binary = _find_s3s()
    base = tmp_path_factory.mktemp("s3s")
    data_dir = base / "data"
    data_dir.mkdir()
    log_path = base / "s3s.log"
    env = dict(os.environ, RUST_LOG="info", NO_COLOR="1")
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            [binary, "--host", "127.0.0.1", "--port", "0", "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY, str(data_dir)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
    try:
        port = _wait_for_port(log_path, process, timeout=30)
        _check_alive("127.0.0.1", port)
        yield S3Server(f"http://127.0.0.1:{port}", "127.0.0.1", port, data_dir, process, log_path)
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests see no FAVE_*/AWS_*/OpenFaaS variables from the machine; the default storage is rebuilt per test."""
    for name in list(os.environ):
        if name.startswith(_ENV_PREFIXES) or name in _ENV_NAMES:
            monkeypatch.delenv(name, raising=False)
    storage_helper.reset_default_storage()
    yield
    storage_helper.reset_default_storage()


@pytest.fixture(params=["boto3", "minio"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


StorageFactory = Callable[..., storage_helper.Storage]


@pytest.fixture
def make_storage(s3_server: S3Server, backend: str) -> StorageFactory:
    """Make a Storage of the test's backend against the server; keyword arguments override config fields."""

    def make(**overrides: Any) -> storage_helper.Storage:
        settings: dict[str, Any] = {
            "endpoint": s3_server.endpoint,
            "access_key": ACCESS_KEY,
            "secret_key": SECRET_KEY,
            "region": "us-east-1",
            "backoff_base": 0.01,
            "backoff_max": 0.05,
            "connect_timeout": 5.0,
            "read_timeout": 30.0,
        }
        settings.update(overrides)
        return storage_helper.get_storage(backend, config=storage_helper.StorageConfig(**settings))

    return make


@pytest.fixture
def storage(make_storage: StorageFactory) -> storage_helper.Storage:
    return make_storage()


@pytest.fixture(scope="session")
def admin(s3_server: S3Server) -> Any:
    """A plain boto3 client for setting up and inspecting the server independently of the code under test."""
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}),
    )


@pytest.fixture
def bucket(admin: Any) -> str:
    """A new, empty bucket."""
    name = f"t-{uuid.uuid4().hex[:20]}"
    admin.create_bucket(Bucket=name)
    return name


# ---------------------------------------------------------------------------------------------------------------
# A TCP proxy in front of the server that records HTTP requests and can answer some of them with errors.
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class ProxyRequest:
    method: str
    target: str


@dataclass
class FaultProxy:
    """Forwards bytes between clients and the server, parsing each request head on the way in.

    ``fail_next(n)`` answers the next ``n`` requests itself with HTTP ``status`` and an S3 XML error ``code``
    instead of forwarding them. ``requests`` lists every request seen (forwarded or failed), ``failed`` the ones
    answered with an error.
    """

    upstream: tuple[str, int]
    listener: socket.socket
    requests: list[ProxyRequest] = field(default_factory=list)
    failed: list[ProxyRequest] = field(default_factory=list)
    _fail_budget: int = 0
    _fail_status: int = 503
    _fail_code: str = "SlowDown"
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _closed: bool = False
    _sockets: list[socket.socket] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        host, port = self.listener.getsockname()[:2]
        return f"http://{host}:{port}"

    def fail_next(self, count: int, status: int = 503, code: str = "SlowDown") -> None:
        with self._lock:
            self._fail_budget = count
            self._fail_status = status
            self._fail_code = code

    def requests_matching(self, method: str, needle: str = "") -> list[ProxyRequest]:
        with self._lock:
            return [r for r in self.requests if r.method == method and needle in r.target]

    def serve(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _take_failure(self) -> tuple[int, str] | None:
        with self._lock:
            if self._fail_budget > 0:
                self._fail_budget -= 1
                return self._fail_status, self._fail_code
            return None

    def _handle(self, client: socket.socket) -> None:
        upstream: socket.socket | None = None
        with self._lock:
            self._sockets.append(client)
        try:
            reader = client.makefile("rb")
            while True:
                head = _read_head(reader)
                if head is None:
                    return
                request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
                method, target = (request_line.split(" ") + ["", ""])[:2]
                headers = _parse_headers(head)
                record = ProxyRequest(method, target)
                with self._lock:
                    self.requests.append(record)
                chunked = "chunked" in headers.get("transfer-encoding", "").lower()
                length = int(headers.get("content-length", "0") or 0)
                failure = None if chunked else self._take_failure()
                if failure is not None:
                    if headers.get("expect", "").lower() != "100-continue" and length:
                        reader.read(length)
                    status, code = failure
                    with self._lock:
                        self.failed.append(record)
                    body = (
                        '<?xml version="1.0" encoding="UTF-8"?><Error><Code>'
                        f"{code}</Code><Message>injected by the test proxy</Message></Error>"
                    ).encode()
                    client.sendall(
                        f"HTTP/1.1 {status} Injected\r\nContent-Type: application/xml\r\n"
                        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                        + body
                    )
                    return
                if upstream is None:
                    upstream = socket.create_connection(self.upstream, timeout=30)
                    with self._lock:
                        self._sockets.append(upstream)
                    threading.Thread(target=_pump, args=(upstream, client), daemon=True).start()
                upstream.sendall(head)
                if chunked:
                    # Not parsed further: pass the rest of this connection through untouched.
                    _pump(reader, upstream)
                    return
                remaining = length
                while remaining > 0:
                    chunk = reader.read(min(remaining, 1 << 16))
                    if not chunk:
                        return
                    upstream.sendall(chunk)
                    remaining -= len(chunk)
        except OSError:
            return
        finally:
            for sock in (client, upstream):
                if sock is not None:
                    try:
                        sock.close()
                    except OSError:
                        pass

    def close(self) -> None:
        self._closed = True
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() in serve()
        except OSError:
            pass
        self.listener.close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            try:
                sock.close()
            except OSError:
                pass


def _read_head(reader: Any) -> bytes | None:
    lines: list[bytes] = []
    while True:
        line = reader.readline(65537)
        if not line:
            return None
        if line in (b"\r\n", b"\n") and not lines:
            continue
        lines.append(line)
        if line in (b"\r\n", b"\n"):
            return b"".join(lines)


def _parse_headers(head: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for raw in head.split(b"\r\n")[1:]:
        if b":" in raw:
            name, value = raw.split(b":", 1)
            headers[name.decode("latin-1").strip().lower()] = value.decode("latin-1").strip()
    return headers


def _pump(source: Any, dest: socket.socket) -> None:
    try:
        while True:
            data = source.recv(1 << 16) if isinstance(source, socket.socket) else source.read1(1 << 16)
            if not data:
                break
            dest.sendall(data)
    except (OSError, ValueError):
        pass
    finally:
        try:
            dest.shutdown(socket.SHUT_WR)
        except OSError:
            pass


@pytest.fixture
def proxy(s3_server: S3Server) -> Iterator[FaultProxy]:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    fault_proxy = FaultProxy((s3_server.host, s3_server.port), listener)
    thread = threading.Thread(target=fault_proxy.serve, daemon=True)
    thread.start()
    yield fault_proxy
    fault_proxy.close()
    thread.join(timeout=5)


@pytest.fixture
def free_port() -> int:
    """A loopback port with nothing listening on it (bound then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
