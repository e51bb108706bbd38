"""Sending email: a small interface, and the SMTP implementation used everywhere."""
from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import Protocol

# Temporary by nature: the connection failed, or the server said 4xx. Anything else is worth retrying too,
# except a 5xx answer about the message or its recipient, which will not change by waiting.
PERMANENT_CODES = range(500, 600)


class EmailSender(Protocol):
    def send(self, message: EmailMessage) -> None:
        """Hand one message to the mail system; raise on failure."""


class SmtpSender:
    """Sends through an SMTP relay (a mail catcher in embedded mode)."""

    def __init__(self, host: str, port: int, sender: str, *, timeout: float = 15.0):
        self.host, self.port, self.sender, self.timeout = host, port, sender, timeout

    def send(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            smtp.send_message(message)


def is_permanent(error: Exception) -> bool:
    """True when retrying cannot help (the server refused the recipient or the message for good)."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code in PERMANENT_CODES for code, _ in error.recipients.values())
    if isinstance(error, smtplib.SMTPResponseException):
        return error.smtp_code in PERMANENT_CODES
    return False


def message_id(event_id: str, sender: str) -> str:
    """A Message-ID fixed by the event, so a rare duplicate is recognisable as one."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "notify.localhost"
    return f"<notify.{event_id}@{domain}>"


def build_message(*, sender: str, recipient: str, subject: str, text: str, html: str, event_id: str,
                  reference: str) -> EmailMessage:
    """A multipart/alternative message: the text body first, the HTML one preferred by clients."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = message_id(event_id, sender)
    message["X-Application-Reference"] = reference
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message
