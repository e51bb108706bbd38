"""Sending email: a small interface, and the SMTP implementation used everywhere."""
from __future__ import annotations

import binascii
import io
import logging
import re
import smtplib
import socket
import ssl
import threading
from email.charset import BASE64, Charset
from email.generator import BytesGenerator
from email.header import Header
from email.message import EmailMessage, Message
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.policy import Compat32
from email.utils import formatdate, parseaddr
from functools import lru_cache
from typing import Protocol

from services.notify.deliveries.ratelimit import RateLimit, rate_limit_for
from shared.config import SettingsError

log = logging.getLogger(__name__)
SECURITY = ("none", "starttls", "tls")

# Temporary by nature: the connection failed, or the server said 4xx. Anything else is worth retrying too,
# except a 5xx answer about the message or its recipient, which will not change by waiting.
PERMANENT_CODES = range(500, 600)
# 5xx answers about our session, not the message (TLS or login required or refused): a setting to fix, so retried
SESSION_CODES = frozenset({530, 534, 535, 538})


class EmailSender(Protocol):
    def send(self, message: Message) -> None:
        """Hand one message to the mail system; raise on failure."""


class SmtpSender:
    """Sends through an SMTP relay over one connection, kept open across messages and reopened when dropped.

    `security` is `none`, `starttls` or `tls` (implicit TLS); a worker process sends one message at a time,
    the lock keeps it so under a threaded pool too.
    """

    def __init__(self, host: str, port: int, *, security: str = "none", username: str | None = None,
                 password: str | None = None, ca_file: str | None = None, timeout: float = 15.0,
                 rate_limit: RateLimit | None = None):
        if security not in SECURITY:
            raise SettingsError(f"SMTP_SECURITY must be one of {', '.join(SECURITY)}, not {security!r}")
        self.host, self.port, self.security, self.timeout = host, port, security, timeout
        self.username, self.password, self.rate_limit = username, password, rate_limit
        self.tls_context = ssl.create_default_context(cafile=ca_file) if security != "none" else None
        self._smtp: smtplib.SMTP | None = None
        self._lock = threading.Lock()

    def send(self, message: Message) -> None:
        with self._lock:
            if self.rate_limit is not None:
                self.rate_limit.acquire()
            reused = self._smtp is not None
            try:
                self._send(message)
            except Exception as exc:
                if not (reused and _dropped(exc)):
                    raise
                # the relay closed the idle connection: nothing was accepted on it, so send on a fresh one
                log.info("SMTP connection dropped, reconnecting")
                self._send(message)

    def _send(self, message: Message) -> None:
        try:
            if isinstance(message, EmailMessage):
                # an internationalised address: smtplib negotiates SMTPUTF8 and serialises accordingly
                self._connection().send_message(message)
            else:
                # the envelope is the message's own From and To (smtplib takes the address out of each), not
                # every address header parsed twice over as send_message does
                self._connection().sendmail(message["From"], [message["To"]], wire_bytes(message))
        except Exception as exc:
            # a refused message leaves the session usable (smtplib resets it); anything else may not
            if _dropped(exc) or not isinstance(exc, (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused)):
                self.close()
            raise

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is None:
            if self.security == "tls":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                                      context=self.tls_context)
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            try:
                # commands and replies are small and strictly alternate: waiting to coalesce them only adds delay
                if smtp.sock is not None:
                    smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if self.security == "starttls":
                    smtp.starttls(context=self.tls_context)
                if self.username:
                    smtp.login(self.username, self.password or "")
            except Exception:
                smtp.close()
                raise
            self._smtp = smtp
        return self._smtp

    def close(self) -> None:
        """Say goodbye to the relay (if it still listens) and forget the connection."""
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()


class _WirePolicy(Compat32):
    """compat32 as smtplib writes it, except that a header already fit for the wire (ASCII, one short line, as
    build_message writes them) goes out as it is, where compat32 runs every value through the `Header`
    folding machinery: that costs more per message than the SMTP exchange (bench/notify.py). Anything else is
    folded as before."""

    def fold_binary(self, name: str, value) -> bytes:
        limit = self.max_line_length
        if (isinstance(value, str) and value.isascii() and "\r" not in value and "\n" not in value
                and (limit is None or len(name) + len(value) + 2 <= limit)):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


_WIRE = _WirePolicy(linesep="\r\n")


def wire_bytes(message: Message) -> bytes:
    """The message as it goes in DATA: what smtplib's send_message writes for it, faster."""
    out = io.BytesIO()
    BytesGenerator(out, mangle_from_=False, policy=_WIRE).flatten(message, linesep="\r\n")
    return out.getvalue()


def _dropped(error: Exception) -> bool:
    return isinstance(error, smtplib.SMTPServerDisconnected) or getattr(error, "smtp_code", None) == 421


def sender_for(settings) -> SmtpSender:
    """The SMTP sender the settings describe, with the shared sending limit if one is set."""
    return SmtpSender(settings.smtp_host, settings.smtp_port, security=settings.smtp_security,
                      username=settings.smtp_username, password=settings.smtp_password,
                      ca_file=settings.smtp_ca_file, rate_limit=rate_limit_for(settings))


def is_permanent(error: Exception) -> bool:
    """True when retrying cannot help (the server refused the recipient or the message for good)."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code in PERMANENT_CODES for code, _ in error.recipients.values())
    if isinstance(error, smtplib.SMTPResponseException):
        return error.smtp_code in PERMANENT_CODES and error.smtp_code not in SESSION_CODES
    return False


def is_about_message(error: Exception) -> bool:
    """True when the server answered about this one message; False when it is unreachable or refuses us."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return True
    return (isinstance(error, smtplib.SMTPResponseException) and not _dropped(error)
            and error.smtp_code not in SESSION_CODES)


def describe(error: Exception) -> str:
    """The failure as staff read it in the log: the server's answer, without any address in it."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        answers = {f"{code} {_text(reply)}" for code, reply in error.recipients.values()}
        return without_addresses(f"recipient refused: {'; '.join(sorted(answers))}")
    if isinstance(error, smtplib.SMTPResponseException):
        return without_addresses(f"{type(error).__name__}: {error.smtp_code} {_text(error.smtp_error)}")
    return without_addresses(f"{type(error).__name__}: {error}")


# a mailbox as servers quote it: a dot-atom or quoted local part, `@`, a domain or an address literal
_ADDRESS = re.compile(r'(?:"[^"\r\n]*"|[^\s<>()\[\]@,;:"]+)@(?:\[[^\]\s]*\]|[^\s<>()\[\]@,;:"]*[^\s<>()\[\]@,;:".])')
ADDRESS_PLACEHOLDER = "[address]"


def without_addresses(text: str) -> str:
    """`text` with every email address replaced: servers quote the recipient (`550 5.1.1 <jana@...>: ...`),
    and the log is read by staff who must not learn a candidate's address (a reviewer in a blind round)."""
    return _ADDRESS.sub(ADDRESS_PLACEHOLDER, text)


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def message_id(event_id: str, sender: str) -> str:
    """A Message-ID fixed by the event, so a rare duplicate is recognisable as one."""
    return f"<notify.{event_id}@{_domain(sender)}>"


@lru_cache(maxsize=8)
def _domain(sender: str) -> str:
    return parseaddr(sender)[1].rpartition("@")[2] or "notify.localhost"


def build_message(*, sender: str, recipient: str, subject: str, text: str, html: str, event_id: str,
                  reference: str | None, reply_to: str | None = None) -> Message:
    """A multipart/alternative message: the text body first, the HTML one preferred by clients."""
    headers = {"From": sender, "To": recipient, "Subject": subject,
               "Date": formatdate(localtime=False, usegmt=True), "Message-ID": message_id(event_id, sender),
               "Reply-To": reply_to, "X-Application-Reference": reference}
    addresses = (sender, recipient, reply_to or "")
    if not all(value.isascii() or parseaddr(value)[1].isascii() for value in addresses):
        # an internationalised address is sent with SMTPUTF8, which only the EmailMessage classes can do
        international = EmailMessage()
        for name, value in headers.items():
            if value:
                international[name] = value
        international.set_content(text)
        international.add_alternative(html, subtype="html")
        return international
    # otherwise the compat32 classes: EmailMessage parses every header it is given, which costs more than
    # the SMTP exchange itself; here display names and the subject are encoded (RFC 2047), nothing parsed
    message = MIMEMultipart("alternative", boundary=_BOUNDARY)
    for name, value in headers.items():
        if value:
            message[name] = _encoded(value, header_name=name) if name == "Subject" else _display_name_encoded(value)
    message.attach(_quoted_printable(text, "plain"))
    message.attach(_quoted_printable(html, "html"))
    return message


# "=_" never occurs in a quoted-printable body (binascii writes "=" as "=3D"), so no part can contain the boundary;
# left to it, the email package makes one at random and compiles a regular expression to check it, for every message
_BOUNDARY = "=_notify_part"


def _quoted_printable(body: str, subtype: str) -> MIMENonMultipart:
    """A UTF-8 text part in quoted-printable, so that a caught or stored message stays readable as it is;
    encoded by binascii, where the email package's own encoder walks the body in Python, character by character."""
    part = MIMENonMultipart("text", subtype, charset="utf-8")
    part["Content-Transfer-Encoding"] = "quoted-printable"
    part.set_payload(binascii.b2a_qp(body.encode("utf-8"), istext=True).decode("ascii"))
    return part


# base64 encoded words: the email package splits quoted-printable ones into lines in quadratic time
_UTF8_BASE64_HEADER = Charset("utf-8")
_UTF8_BASE64_HEADER.header_encoding = BASE64


def _encoded(value: str, header_name: str | None = None) -> str:
    """A header value as it may go on the wire: as it is when plain ASCII, else RFC 2047 encoded words."""
    if value.isascii() and "=?" not in value:
        return value
    return Header(value, _UTF8_BASE64_HEADER, header_name=header_name).encode()


def _display_name_encoded(value: str) -> str:
    if value.isascii():
        return value
    name, address = parseaddr(value)
    return f"{_encoded(name)} <{address}>"
