"""``riskcast keys`` and the first start's admin key, as a user runs them."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
from typer.testing import CliRunner

from riskcast.cli.main import app
from riskcast.testing.server import free_port

runner = CliRunner()


def keys(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["keys", *args])
    return result.exit_code, result.stdout, result.stderr


def test_create_prints_the_key_once_and_stores_only_its_hash(tmp_path: Path) -> None:
    code, out, err = keys("create", "--role", "operator", "--name", "loader",
                          "--sites", "s1,s2", "--data-dir", str(tmp_path))
    assert code == 0, err
    key = out.strip()
    assert key.startswith("rk_") and len(key) > 40
    assert "shown only once" in err
    raw = (tmp_path / "auth.db").read_bytes()
    wal = tmp_path / "auth.db-wal"
    raw += wal.read_bytes() if wal.exists() else b""
    assert key.encode() not in raw
    secret = key.split("_", 2)[2]
    assert secret.encode() not in raw
    code, listed, _ = keys("list", "--data-dir", str(tmp_path))
    assert code == 0
    assert "operator" in listed and "site:s1,site:s2" in listed and "loader" in listed
    assert key not in listed


def test_revoke_marks_the_key_and_refuses_unknown_ids(tmp_path: Path) -> None:
    _, out, _ = keys("create", "--role", "viewer", "--data-dir", str(tmp_path))
    key_id = out.strip().split("_")[1]
    code, out, _ = keys("revoke", key_id, "--data-dir", str(tmp_path))
    assert code == 0 and key_id in out
    _, listed, _ = keys("list", "--data-dir", str(tmp_path))
    assert "revoked" in listed
    code, _, err = keys("revoke", key_id, "--data-dir", str(tmp_path))
    assert code == 1 and "no active key" in err
    conn = sqlite3.connect(tmp_path / "auth.db")
    actions = [r[0] for r in conn.execute("SELECT action FROM audit_log ORDER BY id")]
    conn.close()
    assert actions == ["key.create", "key.revoke"]


def test_bad_role_is_a_clear_error(tmp_path: Path) -> None:
    code, _, err = keys("create", "--role", "root", "--data-dir", str(tmp_path))
    assert code == 2 and "--role" in err and "viewer, operator or admin" in err


def _serve(data: Path, port: int, env: dict[str, str]) -> list[str]:
    """Start serve, read stdout up to its banner, stop it; the lines before the banner."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "riskcast.cli.main", "serve", "--port", str(port),
         "--data-dir", str(data)], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    lines = []
    try:
        for line in proc.stdout:
            if "ready on" in line:
                break
            lines.append(line)
        else:
            raise AssertionError(f"serve exited: {lines}")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        proc.stdout.close()
    return lines


def test_first_start_prints_an_admin_key_once(tmp_path: Path) -> None:
    env = {**os.environ, "RISKCAST_LOG_LEVEL": "warning", "RISKCAST_AUTH": "true"}
    env.pop("RISKCAST_ADMIN_KEY", None)
    port = free_port()
    first = "".join(_serve(tmp_path / "data", port, env))
    assert "shown only this once" in first
    key = next(w for w in first.split() if w.startswith("rk_"))
    assert f"http://127.0.0.1:{port}/?key={key}" in first
    second = "".join(_serve(tmp_path / "data", port, env))
    assert "rk_" not in second and "admin key" not in second
    # the key works
    proc = subprocess.Popen(
        [sys.executable, "-m", "riskcast.cli.main", "serve", "--port", str(port),
         "--data-dir", str(tmp_path / "data")], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    try:
        assert "ready on" in proc.stdout.readline()
        url = f"http://127.0.0.1:{port}/api/v1/auth/me"
        assert httpx.get(url).status_code == 401
        me = httpx.get(url, headers={"X-API-Key": key})
        assert me.status_code == 200 and me.json()["role"] == "admin"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        proc.stdout.close()


def test_admin_key_setting_replaces_the_first_start_key(tmp_path: Path) -> None:
    from riskcast.security.keys import new_key

    admin = new_key().plaintext
    env = {**os.environ, "RISKCAST_LOG_LEVEL": "warning", "RISKCAST_AUTH": "true",
           "RISKCAST_ADMIN_KEY": admin}
    out = "".join(_serve(tmp_path / "data", free_port(), env))
    assert "rk_" not in out
    _, listed, _ = keys("list", "--data-dir", str(tmp_path / "data"))
    assert "admin (admin_key setting)" in listed and admin not in listed
