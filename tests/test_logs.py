"""Log set-up: JSON lines, and secrets never reach the log."""

from __future__ import annotations

import io
import json
import logging

import structlog

from riskcast.logs import redact_text

SECRETS = ("hunter2", "rk_live_abcdef123456", "s3cr3t-token", "apikey999", "pw-in-url")


def test_secrets_in_fields_text_and_urls_are_redacted(json_logs: io.StringIO) -> None:
    log = logging.getLogger("riskcast.test")
    log.info("GET /sse?channels=alerts&token=s3cr3t-token HTTP/1.1")
    log.warning("connecting to postgresql://rc:pw-in-url@db:5432/riskcast?api_key=apikey999")
    log.info("header Authorization: Bearer rk_live_abcdef123456")
    structlog.get_logger("riskcast.test").info(
        "login", password="hunter2", admin_key="rk_live_abcdef123456", user="ana",
        headers={"authorization": "Bearer rk_live_abcdef123456", "accept": "*/*"},
        url="http://h/api?key=apikey999&page=2")
    try:
        raise RuntimeError("failed with password=hunter2")
    except RuntimeError:
        log.exception("it broke")
    text = json_logs.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]
    assert len(lines) == 5
    for secret in SECRETS:
        assert secret not in text, secret
    login = lines[3]
    assert login["password"] == "***" and login["admin_key"] == "***"
    assert login["user"] == "ana"
    assert login["headers"] == {"authorization": "***", "accept": "*/*"}
    assert login["url"] == "http://h/api?key=***&page=2"
    assert lines[0]["event"] == "GET /sse?channels=alerts&token=*** HTTP/1.1"
    assert lines[0]["level"] == "info" and "timestamp" in lines[0]


def test_redaction_leaves_ordinary_text_alone() -> None:
    plain = "ingested 500 readings for site s1 (keepalive 15s, key order kept)"
    assert redact_text(plain) == plain
    assert redact_text("https://example.org/a?b=1&c=2") == "https://example.org/a?b=1&c=2"
