"""The embedded mail catcher: a local SMTP server keeping each message as an `.eml` file.

Run it as `python -m services.notify.mailcatcher` (127.0.0.1, port SMTP_PORT, files under MAIL_DIR).
Tests start one with `with MailCatcher(mail_dir, port=free_port()) as catcher: ...`.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import tempfile
import threading
import time
import uuid
from pathlib import Path

from aiosmtpd.controller import Controller

log = logging.getLogger(__name__)

SUFFIX = ".eml"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def new_message_name() -> str:
    """A unique file name that sorts by arrival time."""
    return f"{time.time_ns():020d}-{uuid.uuid4().hex[:12]}{SUFFIX}"


class _SaveToFolder:
    def __init__(self, mail_dir: Path):
        self.mail_dir = mail_dir

    async def handle_DATA(self, server, session, envelope):
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8")
        name = save_message(self.mail_dir, data)
        log.info("mail caught", extra={"file": name})
        return "250 Message accepted for delivery"


def save_message(mail_dir: Path, data: bytes) -> str:
    """Write one message atomically: readers never see half a file."""
    mail_dir.mkdir(parents=True, exist_ok=True)
    name = new_message_name()
    fd, tmp = tempfile.mkstemp(dir=mail_dir, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, mail_dir / name)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return name


class MailCatcher:
    """A real SMTP server in a background thread; a context manager, or `start()`/`stop()`."""

    def __init__(self, mail_dir: Path | str, host: str = "127.0.0.1", port: int = 8025):
        self.mail_dir = Path(mail_dir)
        self.host, self.port = host, port
        self._controller: Controller | None = None

    def start(self) -> "MailCatcher":
        self.mail_dir.mkdir(parents=True, exist_ok=True)
        self._controller = Controller(_SaveToFolder(self.mail_dir), hostname=self.host, port=self.port,
                                      enable_SMTPUTF8=True)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> "MailCatcher":
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()

    def messages(self) -> list[Path]:
        """The caught message files, oldest first."""
        return sorted(self.mail_dir.glob(f"*{SUFFIX}"))


def main() -> None:
    from shared.config import Settings
    from shared.logging import configure_logging

    configure_logging("mailcatcher")
    # aiosmtpd logs every SMTP conversation, recipients' addresses included: no personal data in logs
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    settings = Settings.from_env()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    with MailCatcher(settings.mail_dir, "127.0.0.1", settings.smtp_port):
        log.info("mail catcher listening", extra={"port": settings.smtp_port, "mail_dir": str(settings.mail_dir)})
        stopped.wait()


if __name__ == "__main__":
    main()
