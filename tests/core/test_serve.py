"""`gridgov serve --workers 2` answers on its port from several processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx

from tests.conftest import _free_port


def test_serve_with_several_workers(demo_url, tmp_path):
    port = _free_port()
    env = {**os.environ, "GRIDGOV_DATABASE_URL": demo_url, "GRIDGOV_VAR_DIR": str(tmp_path),
           "GRIDGOV_SECRET_KEY": "test-secret-key", "GRIDGOV_WORKER_IN_PROCESS": "false"}
    proc = subprocess.Popen([sys.executable, "-m", "gridgov.cli", "serve", "--port", str(port), "--workers", "2"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        ready = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.3)
        why = proc.stderr.read().decode()[-2000:] if proc.poll() is not None else "no answer"
        assert ready is not None and ready.status_code == 200, why
        token = httpx.post(f"http://127.0.0.1:{port}/api/v1/auth/token",
                           data={"username": "dispatcher", "password": "demo-2026"}).json()["access_token"]
        me = httpx.get(f"http://127.0.0.1:{port}/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.json()["username"] == "dispatcher"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
