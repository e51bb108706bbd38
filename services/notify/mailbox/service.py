"""Reading the messages the mail catcher kept."""
from __future__ import annotations

import re
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from pathlib import Path

from services.notify.mailcatcher import SUFFIX

_NAME = re.compile(r"^[0-9]{20}-[0-9a-f]{12}\.eml$")


@dataclass(frozen=True)
class CaughtMessage:
    name: str
    to: str
    subject: str
    date: str
    text: str
    html: str | None


def _read(path: Path) -> CaughtMessage:
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    text_part = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    return CaughtMessage(
        name=path.name,
        to=str(message.get("To", "")),
        subject=str(message.get("Subject", "")),
        date=str(message.get("Date", "")),
        # SMTP carries CRLF line ends; people and scripts expect plain newlines
        text=text_part.get_content().replace("\r\n", "\n") if text_part is not None else "",
        html=html_part.get_content() if html_part is not None else None,
    )


def list_messages(mail_dir: Path) -> list[CaughtMessage]:
    """Every caught message, newest first."""
    if not mail_dir.is_dir():
        return []
    names = sorted((p for p in mail_dir.glob(f"*{SUFFIX}") if _NAME.match(p.name)), reverse=True)
    return [_read(path) for path in names]


def read_message(mail_dir: Path, name: str) -> CaughtMessage | None:
    """One caught message by its file name, or None (also for names that are not ours)."""
    if not _NAME.match(name) or not (mail_dir / name).is_file():
        return None
    return _read(mail_dir / name)
