"""Logging set-up: console or JSON lines, through structlog's stdlib formatter.

Every record, stdlib ones included, carries the context variables bound for its task (the
``request_id`` of the HTTP request it belongs to, see ``riskcast.api.requestid``) and passes
:func:`redact_secrets`, so keys, tokens and passwords never reach the log.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

REDACTED = "***"
#: Names of event fields whose values are secrets.
_SECRET_FIELD = re.compile(
    r"pass(word|wd)?|secret|token|api_?key|(^|_)key$|authorization|cookie|credential",
    re.IGNORECASE)
#: Secrets inside text: ``key=``/``token=``-style query parameters, credentials in URLs,
#: ``Authorization`` schemes.
_IN_TEXT = (
    (re.compile(r"([?&;][\w.-]*(?:key|token|password|passwd|secret|signature)[\w.-]*=)"
                r"[^&;\s#\"']*", re.IGNORECASE), rf"\g<1>{REDACTED}"),
    (re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)[^@/\s]+@"), rf"\g<1>{REDACTED}@"),
    (re.compile(r"\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE),
     rf"\g<1> {REDACTED}"),
    (re.compile(r"(\b(?:password|passwd|secret|token|api_?key)\b\s*[=:]\s*)[^\s,;&\"']+",
                re.IGNORECASE), rf"\g<1>{REDACTED}"),
)


def redact_text(text: str) -> str:
    """``text`` with the secrets it holds replaced by ``***``.

    >>> redact_text("GET /sse?channels=a&token=s3cr3t HTTP/1.1")
    'GET /sse?channels=a&token=*** HTTP/1.1'
    >>> redact_text("postgresql://rc:hunter2@db/riskcast")
    'postgresql://rc:***@db/riskcast'
    >>> redact_text("Authorization: Bearer rk_live_abc")
    'Authorization: Bearer ***'
    """
    for pattern, replacement in _IN_TEXT:
        text = pattern.sub(replacement, text)
    return text


def _redact(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if depth > 3:
        return value
    if isinstance(value, dict):
        return {k: (REDACTED if isinstance(k, str) and _SECRET_FIELD.search(k) and v
                    else _redact(v, depth + 1)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(v, depth + 1) for v in value]
    return value


def redact_secrets(logger: Any, method: str, event_dict: MutableMapping[str, Any]
                   ) -> MutableMapping[str, Any]:
    """A structlog processor: secret fields become ``***``, secrets in text too."""
    for key, value in event_dict.items():
        if key != "event" and _SECRET_FIELD.search(key) and value:
            event_dict[key] = REDACTED
        else:
            event_dict[key] = _redact(value)
    return event_dict


def configure(level: str = "info", fmt: str = "console") -> None:
    """Route stdlib logging (uvicorn's included) through one structlog formatter."""
    renderer: structlog.types.Processor
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    chain: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact_secrets,
    ]
    formatter = structlog.stdlib.ProcessorFormatter(processor=renderer, foreign_pre_chain=chain)
    structlog.configure(
        processors=[*chain, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(), cache_logger_on_first_use=True)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    logging.getLogger("uvicorn.access").setLevel(
        logging.WARNING if level.lower() != "debug" else logging.DEBUG)
