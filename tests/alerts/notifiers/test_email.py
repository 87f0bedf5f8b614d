"""Email through a real SMTP server started by the test (aiosmtpd), plain and STARTTLS."""

from __future__ import annotations

import asyncio
import email
import email.policy
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from riskcast.alerts.notifiers.base import DeliveryError, Message
from riskcast.alerts.notifiers.email import EmailNotifier
from riskcast.alerts.routes import EmailRoute
from tests.alerts.conftest import FakeClock, ServiceFactory, readings

aiosmtpd = pytest.importorskip("aiosmtpd", reason="aiosmtpd (dev) runs the test SMTP server")
from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import SMTP, Envelope, Session  # noqa: E402

pytestmark = pytest.mark.anyio


def free_port() -> int:
    # aiosmtpd's Controller(port=0) fails: pick a free port first.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Inbox:
    """An aiosmtpd handler keeping what it receives; ``reject`` answers that SMTP code."""

    def __init__(self) -> None:
        self.mails: list[tuple[Envelope, EmailMessage]] = []
        self.arrived = threading.Event()
        self.reject: str | None = None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.reject:
            return self.reject
        raw = envelope.content if isinstance(envelope.content, bytes) else b""
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.mails.append((envelope, parsed))
        self.arrived.set()
        return "250 OK"

    async def wait(self, within: float = 10.0) -> EmailMessage:
        if not await asyncio.to_thread(self.arrived.wait, within):
            raise TimeoutError("no mail arrived")
        return self.mails[-1][1]


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def mail_rule(port: int, **route: Any) -> dict[str, Any]:
    return {"id": "hot", "name": "Hot", "severity": "critical",
            "condition": {"kind": "threshold", "series": "temp_c", "above": 40},
            "annotations": {"summary": "{value} °C at {site_name}"},
            "routes": [{"type": "email", "host": "127.0.0.1", "port": port,
                        "from": "riskcast@example.org", "to": ["oncall@example.org"],
                        **route}]}


async def test_alert_email_arrives_through_smtp(
        make_service: ServiceFactory, clock: FakeClock, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    svc = await make_service(rules=[mail_rule(port)], notifiers={})
    await svc.evaluate([readings("s1", {"temp_c": 44}, clock.now)])
    mail = await inbox.wait()
    envelope = inbox.mails[0][0]
    assert envelope.mail_from == "riskcast@example.org"
    assert envelope.rcpt_tos == ["oncall@example.org"]
    assert mail["Subject"] == "[FIRING] Hot (critical): s1"
    key = mail["X-Riskcast-Idempotency-Key"]
    assert key.startswith("rc-") and mail["Message-ID"] == f"<{key}@riskcast>"
    text = mail.get_content()
    assert "44 °C at North hill" in text and key in text
    await svc.outbox.drain()
    assert svc.stats()["notifications"]["sent"] == 1


async def test_smtp_permanent_refusal_is_final(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    inbox.reject = "554 no thanks"
    route = EmailRoute(host="127.0.0.1", port=port, sender="a@example.org",
                       to=["b@example.org"])
    message = Message(key="k", rule="r", rule_name="R", severity="info", route="m", alerts=[])
    with pytest.raises(DeliveryError) as err:
        await EmailNotifier().send(route, message, attempt=1)
    assert not err.value.retryable
    inbox.reject = "451 try later"
    with pytest.raises(DeliveryError) as err:
        await EmailNotifier().send(route, message, attempt=1)
    assert err.value.retryable


async def test_no_smtp_server_is_worth_retrying() -> None:
    route = EmailRoute(host="127.0.0.1", port=free_port(), sender="a@example.org",
                       to=["b@example.org"], timeout="2s")
    message = Message(key="k", rule="r", rule_name="R", severity="info", route="m", alerts=[])
    with pytest.raises(DeliveryError) as err:
        await EmailNotifier().send(route, message, attempt=1)
    assert err.value.retryable


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


async def test_starttls_upgrades_before_sending(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=server_tls,
                            require_starttls=True)
    controller.start()
    try:
        route = EmailRoute(host="127.0.0.1", port=port, sender="a@example.org",
                           to=["b@example.org"], starttls=True)
        message = Message(key="k-tls", rule="r", rule_name="R", severity="info", route="m",
                          alerts=[{"site": "s1", "event": "firing"}])
        with pytest.raises(DeliveryError):  # the default context does not trust it
            await EmailNotifier().send(route, message, attempt=1)
        client_tls = ssl.create_default_context(cafile=str(cert))
        await EmailNotifier(tls_context=client_tls).send(route, message, attempt=1)
        mail = await inbox.wait()
        assert mail["X-Riskcast-Idempotency-Key"] == "k-tls"
        # without STARTTLS this server refuses
        plain = EmailRoute(host="127.0.0.1", port=port, sender="a@example.org",
                           to=["b@example.org"])
        with pytest.raises(DeliveryError):
            await EmailNotifier().send(plain, message, attempt=1)
    finally:
        controller.stop()
