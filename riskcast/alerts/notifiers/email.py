"""The email notifier: one plain-text message per notification over SMTP (smtplib, run on a
worker thread), with STARTTLS and login when the route asks for them.

The message carries ``Message-ID: <key@riskcast>`` and ``X-Riskcast-Idempotency-Key``, so
a re-sent notification can be recognised. SMTP 4xx answers and network errors are worth
another attempt; 5xx answers are final.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate

from riskcast.alerts.notifiers.base import DeliveryError, Message, Notifier
from riskcast.alerts.routes import EmailRoute, Route
from riskcast.core.clock import parse_duration

__all__ = ["EmailNotifier", "build_email"]


def build_email(route: EmailRoute, message: Message) -> EmailMessage:
    """The email for ``message`` on ``route``."""
    mail = EmailMessage()
    mail["Subject"] = message.title()
    mail["From"] = route.sender
    mail["To"] = ", ".join(route.to)
    mail["Date"] = formatdate(usegmt=True)
    mail["Message-ID"] = f"<{message.key}@riskcast>"
    mail["X-Riskcast-Idempotency-Key"] = message.key
    mail["X-Riskcast-Rule"] = message.rule
    mail.set_content(message.text())
    return mail


class EmailNotifier(Notifier):
    """SMTP delivery; ``tls_context`` overrides certificate checks (tests, private CAs)."""

    type = "email"

    def __init__(self, *, tls_context: ssl.SSLContext | None = None) -> None:
        self.tls_context = tls_context

    async def send(self, route: Route, message: Message, *, attempt: int) -> None:
        assert isinstance(route, EmailRoute)
        mail = build_email(route, message)
        await asyncio.to_thread(self._send_sync, route, mail)

    def _send_sync(self, route: EmailRoute, mail: EmailMessage) -> None:
        timeout = parse_duration(route.timeout) / 1e6
        try:
            with smtplib.SMTP(route.host, route.port, timeout=timeout) as smtp:
                if route.starttls:
                    smtp.starttls(context=self.tls_context or ssl.create_default_context())
                password = route.resolved_password()
                if route.username and password is not None:
                    smtp.login(route.username, password)
                refused = smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as err:
            codes = [code for code, _ in err.recipients.values()]
            raise DeliveryError(f"SMTP refused every recipient: {err.recipients}",
                                retryable=any(400 <= c < 500 for c in codes)) from err
        except smtplib.SMTPResponseException as err:
            raise DeliveryError(f"SMTP {err.smtp_code}: {err.smtp_error!r}",
                                retryable=400 <= err.smtp_code < 500) from err
        except (smtplib.SMTPException, OSError) as err:
            raise DeliveryError(f"SMTP: {type(err).__name__}: {err}") from err
        if refused:
            # Some recipients took it: sending again would duplicate it for them.
            raise DeliveryError(f"SMTP refused some recipients: {refused}", retryable=False)
