"""Settings from environment variables, with the embedded defaults when unset."""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent


def _var_dir() -> Path:
    return Path(os.environ.get("VAR_DIR", ROOT / "var")).resolve()


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _default_secret(var_dir: Path) -> str:
    """A per-installation secret kept under var/, so embedded mode needs no configuration."""
    path = var_dir / "secret_key"
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(secrets.token_urlsafe(48))
        try:
            os.link(tmp, path)  # fails if another process got there first: its secret wins
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


def parse_deadline(value: str) -> datetime:
    """`2027-01-31 23:59` (Brussels time unless an offset is given) → aware datetime."""
    moment = datetime.fromisoformat(value.replace(" ", "T"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("Europe/Brussels"))
    return moment


@dataclass(frozen=True)
class Settings:
    var_dir: Path
    secret_key: str
    broker_url: str
    documents_dir: Path
    mail_dir: Path
    intake_database_url: str
    review_database_url: str
    notify_database_url: str
    smtp_host: str
    smtp_port: int
    smtp_from: str
    call_deadline: datetime
    admin_email: str | None
    admin_password: str | None
    intake_url: str
    review_url: str
    notify_url: str
    ports: dict = field(default_factory=dict)

    @property
    def embedded_broker(self) -> bool:
        return self.broker_url.startswith("filesystem://")

    def database_url(self, service: str) -> str:
        return getattr(self, f"{service}_database_url")

    @classmethod
    def from_env(cls) -> "Settings":
        var = _var_dir()
        ports = {
            "intake": int(_env("INTAKE_PORT", "5001")),
            "review": int(_env("REVIEW_PORT", "5002")),
            "notify": int(_env("NOTIFY_PORT", "5003")),
        }
        return cls(
            var_dir=var,
            secret_key=os.environ.get("SECRET_KEY") or _default_secret(var),
            broker_url=_env("BROKER_URL", "filesystem://"),
            documents_dir=Path(_env("DOCUMENTS_DIR", str(var / "documents"))),
            mail_dir=Path(_env("MAIL_DIR", str(var / "mail"))),
            intake_database_url=_env("INTAKE_DATABASE_URL", f"sqlite:///{var / 'intake.db'}"),
            review_database_url=_env("REVIEW_DATABASE_URL", f"sqlite:///{var / 'review.db'}"),
            notify_database_url=_env("NOTIFY_DATABASE_URL", f"sqlite:///{var / 'notify.db'}"),
            smtp_host=_env("SMTP_HOST", "127.0.0.1"),
            smtp_port=int(_env("SMTP_PORT", "8025")),
            smtp_from=_env("SMTP_FROM", "NATO Internship Programme <internships@example.org>"),
            call_deadline=parse_deadline(_env("CALL_DEADLINE", "2027-01-31 23:59")),
            admin_email=os.environ.get("ADMIN_EMAIL") or None,
            admin_password=os.environ.get("ADMIN_PASSWORD") or None,
            intake_url=_env("INTAKE_URL", f"http://127.0.0.1:{ports['intake']}"),
            review_url=_env("REVIEW_URL", f"http://127.0.0.1:{ports['review']}"),
            notify_url=_env("NOTIFY_URL", f"http://127.0.0.1:{ports['notify']}"),
            ports=ports,
        )
