"""Structured logs: one JSON object a line on stderr. Never personal data beyond a reference, never a secret."""
from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

REDACTED = "[redacted]"
# Names whose values are secrets wherever they appear: query strings, form bodies, JSON, log extras.
_SECRET_NAME = r"[\w-]*(?:token|password|passwd|secret|api[_-]?key|signature)[\w-]*"
_SECRET_KEY = re.compile(rf"^(?:{_SECRET_NAME}|authorization|cookie|set-cookie)$", re.IGNORECASE)
_PATTERNS = (
    # `Bearer <token>` in a header echoed anywhere
    (re.compile(r"(\bbearer\s+)[^\s\"',;]+", re.IGNORECASE), rf"\g<1>{REDACTED}"),
    # "password": "…" / 'token': '…' (JSON or a repr of a dict)
    (re.compile(rf"([\"']{_SECRET_NAME}[\"']\s*:\s*)([\"'])(?:\\.|(?!\2).)*\2", re.IGNORECASE),
     rf"\g<1>\g<2>{REDACTED}\g<2>"),
    # token=… / password=… in a query string or a form body
    (re.compile(rf"(\b{_SECRET_NAME}=)[^&\s\"',;]+", re.IGNORECASE), rf"\g<1>{REDACTED}"),
    # the secret of an applicant's emailed link, in its path (services/intake/portal), and an erasure link's `t`
    (re.compile(r"(/access/)(?!fresh\b)[^/?\s\"',;]+"), rf"\g<1>{REDACTED}"),
    (re.compile(r"([?&]t=)[^&\s\"',;]+"), rf"\g<1>{REDACTED}"),
)


def redact(text: str) -> str:
    """`text` with every token, bearer credential and password value replaced by `[redacted]`."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redact_value(key, value):
    if isinstance(key, str) and _SECRET_KEY.match(key):
        return REDACTED
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_value(k, v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact_value(None, v) for v in value]
    return value


class RedactSecrets(logging.Filter):
    """A safety net under every handler: whatever a library or a careless call logs, secrets do not leave.

    The message is rendered and redacted once here, so every handler and formatter downstream sees the
    clean text; extras named like secrets are blanked and string extras are redacted too.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the record
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        for key, value in list(vars(record).items()):
            if key not in _STANDARD:
                setattr(record, key, _redact_value(key, value))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


# What ties a log line to an application: the id of the request that started the chain (carried by events
# and task headers) and the application's reference. Set by shared/web.py, the consumers and the tasks.
correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)
reference: ContextVar[str | None] = ContextVar("reference", default=None)
_SANE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")


def sane_id(value) -> str | None:
    """`value` if it can serve as a correlation id (a short token, nothing a log reader could trip on)."""
    return value if isinstance(value, str) and _SANE_ID.match(value) else None


def new_correlation_id() -> str:
    return uuid.uuid4().hex


@contextmanager
def log_context(*, correlation: str | None = None, ref: str | None = None) -> Iterator[None]:
    """Log lines inside carry `correlation` and `ref` (each only if sane); the previous values come back after."""
    tokens = (correlation_id.set(sane_id(correlation)), reference.set(sane_id(ref)))
    try:
        yield
    finally:
        reference.reset(tokens[1])
        correlation_id.reset(tokens[0])


class ContextFields(logging.Filter):
    """Adds `correlation_id` and `reference` from the context to every record that does not name its own."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in (("correlation_id", correlation_id), ("reference", reference)):
            value = var.get()
            if value is not None and getattr(record, name, None) is None:
                setattr(record, name, value)
        return True


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = record.exc_text
        return json.dumps(entry, default=str)


# Loggers that keep their own handlers and do not propagate to the root: the filter goes on the logger itself,
# so it survives the server replacing its handlers (gunicorn does on reopen).
_OWN_HANDLER_LOGGERS = ("gunicorn.error", "gunicorn.access")


def _add_once(target, log_filter: logging.Filter) -> None:
    if not any(isinstance(f, type(log_filter)) for f in target.filters):
        target.addFilter(log_filter)


def configure_logging(service: str, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    handler.addFilter(RedactSecrets())
    handler.addFilter(ContextFields())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in _OWN_HANDLER_LOGGERS:
        _add_once(logging.getLogger(name), RedactSecrets())
    for noisy in ("weasyprint.progress", "fontTools"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
