"""``riskcast serve`` as a user runs it: a real process, SIGTERM with load in flight."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from riskcast.testing.server import free_port

T0 = 1_600_000_000  # 2020-09-13: every test time stays in the past


def start(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "RISKCAST_LOG_LEVEL": "warning", "RISKCAST_AUTH": "false"}
    with (tmp_path / "serve.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "riskcast.cli.main", "serve", "--port", str(port),
             "--data-dir", str(tmp_path / "data"), *extra],
            env=env, stdout=subprocess.PIPE, stderr=log)
    url = f"http://127.0.0.1:{port}"
    assert proc.stdout is not None
    # serve prints its banner once it is listening.
    banner = proc.stdout.readline().decode()
    if "ready on" not in banner:
        proc.kill()
        pytest.fail(f"serve did not start: {(tmp_path / 'serve.log').read_text()}")
    assert url in banner, banner
    assert httpx.get(f"{url}/health/ready").status_code == 200
    return proc, url


def test_sigterm_drains_and_reports_shutdown(tmp_path: Path) -> None:
    proc, _url = start(tmp_path)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) in (0, -signal.SIGTERM)
    assert proc.stdout is not None
    proc.stdout.close()
    log = (tmp_path / "serve.log").read_text()
    assert "Traceback" not in log, log


def test_sigterm_with_load_in_flight_loses_nothing_acknowledged(tmp_path: Path) -> None:
    proc, url = start(tmp_path)
    httpx.post(f"{url}/api/v1/sites", json={"id": "s1"}).raise_for_status()
    acknowledged: set[int] = set()
    lock = threading.Lock()
    enough = threading.Event()
    stop = threading.Event()

    def client(worker: int) -> None:
        batch = 0
        with httpx.Client(timeout=30) as http:
            while not stop.is_set():
                base = (worker * 100_000 + batch) * 200
                body = {"readings": [{"site": "s1", "variable": "temp_c", "value": 1.0,
                                      "time": T0 + base + i} for i in range(200)]}
                batch += 1
                try:
                    r = http.post(f"{url}/api/v1/readings", json=body)
                except httpx.TransportError:
                    return  # the server went away: this batch was never acknowledged
                if r.status_code == 200:
                    assert r.json()["accepted"] == 200
                    with lock:
                        acknowledged.update(T0 + base + i for i in range(200))
                        if len(acknowledged) >= 20_000:
                            enough.set()
                elif r.status_code != 503:
                    raise AssertionError(r.text)

    threads = [threading.Thread(target=client, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    assert enough.wait(60), "the server did not acknowledge 20,000 readings"
    proc.send_signal(signal.SIGTERM)
    # uvicorn re-raises the signal after its graceful shutdown, so the status says SIGTERM.
    assert proc.wait(60) in (0, -signal.SIGTERM)
    assert proc.stdout is not None
    proc.stdout.close()
    stop.set()
    for t in threads:
        t.join(30)
    conn = sqlite3.connect(tmp_path / "data" / "riskcast.db")
    stored = {t // 1_000_000 for (t,) in conn.execute("SELECT time FROM readings")}
    conn.close()
    missing = acknowledged - stored
    assert not missing, f"{len(missing)} acknowledged readings were lost"
    assert len(acknowledged) >= 20_000


def test_bad_setting_stops_with_a_clear_message(tmp_path: Path) -> None:
    env = {**os.environ, "RISKCAST_RETENTION": "forever"}
    out = subprocess.run([sys.executable, "-m", "riskcast.cli.main", "serve", "--data-dir",
                          str(tmp_path)], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "retention" in out.stderr and "forever" in out.stderr
