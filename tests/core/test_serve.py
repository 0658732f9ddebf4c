"""`gridgov serve --workers 2` answers on its port from several processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx

from tests.conftest import _free_port


def test_serve_with_several_workers(demo_url, tmp_path):
    port = _free_port()
    env = {**os.environ, "GRIDGOV_DATABASE_URL": demo_url, "GRIDGOV_VAR_DIR": str(tmp_path),
           "GRIDGOV_SECRET_KEY": "test-secret-key", "GRIDGOV_WORKER_IN_PROCESS": "false"}
    # The log goes to a file: the server writes a line per request, and a pipe nobody reads fills
    # up after a few hundred of them and blocks the worker that writes next.
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "gridgov.cli", "serve", "--port", str(port), "--workers", "2"],
                                env=env, stdout=subprocess.DEVNULL, stderr=sink, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        ready = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.3)
        why = log.read_text(errors="replace")[-2000:] if proc.poll() is not None else "no answer"
        assert ready is not None and ready.status_code == 200, why
        token = httpx.post(f"http://127.0.0.1:{port}/api/v1/auth/token",
                           data={"username": "dispatcher", "password": "demo-2026"}).json()["access_token"]
        me = httpx.get(f"http://127.0.0.1:{port}/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.json()["username"] == "dispatcher"
        served = requests_until_closed(port, limit=3000)
        # Keep-alive connections are recycled (Settings.keepalive_requests, 100 on average), so that
        # the kernel can hand them to another worker; 3,000 without a close would be odds of 1 in 10^13.
        assert served is not None and served >= 1
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def requests_until_closed(port: int, limit: int) -> int | None:
    """Sends GET /healthz over one keep-alive connection until the server answers
    `connection: close` and closes it; how many requests that took (None: never, within `limit`)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        stream = sock.makefile("rb")
        for n in range(1, limit + 1):
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            status = stream.readline()
            assert status.startswith(b"HTTP/1.1 200"), status
            headers = {}
            while (line := stream.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                headers[name.strip().lower()] = value.strip().lower()
            stream.read(int(headers["content-length"]))
            if headers.get("connection") == "close":
                assert stream.read() == b""  # and the server did close it
                return n
    return None
