"""Settings from environment variables, with the embedded defaults when unset.

One key per purpose, so a leak of one cannot be turned into another power (see docs/security.md):
intake's session key and applicant-token key cannot make a staff token; only review holds the Ed25519
key that signs staff tokens, and notify gets the public half only. In embedded mode (filesystem broker,
`make run`) missing keys are generated once into files under var/; in production every service gets
its keys from the environment and refuses to start without them (`Settings.require`).
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent

# Symmetric keys shorter than this are refused at start-up (32 random characters ≈ 190 bits or more).
MIN_KEY_LENGTH = 32
# Values that mean "not configured": documentation placeholders and old defaults.
PLACEHOLDERS = frozenset({
    "change-me", "changeme", "change-me-to-a-long-random-string", "secret", "nip", "password", "test",
    "dev", "development", "default", "none", "null", "xxx", "todo", "replace-me",
})
_PLACEHOLDER_WORDS = ("change-me", "changeme", "change_me", "replace-me", "replace_me", "example", "placeholder")

# What each key is for: the environment variable it comes from, and whether it is a symmetric secret
# or one half of the Ed25519 staff-token pair.
KEYS = {
    "intake_secret_key": "INTAKE_SECRET_KEY",
    "applicant_token_key": "APPLICANT_TOKEN_KEY",
    "review_secret_key": "REVIEW_SECRET_KEY",
    "staff_signing_key": "STAFF_SIGNING_KEY",
    "staff_verify_key": "STAFF_VERIFY_KEY",
    "sync_api_key": "SYNC_API_KEY",
    "privacy_api_key": "PRIVACY_API_KEY",
    # events (shared/events/signing.py): one Ed25519 pair per producing service
    "intake_event_signing_key": "INTAKE_EVENT_SIGNING_KEY",
    "intake_event_verify_key": "INTAKE_EVENT_VERIFY_KEY",
    "review_event_signing_key": "REVIEW_EVENT_SIGNING_KEY",
    "review_event_verify_key": "REVIEW_EVENT_VERIFY_KEY",
}
SYMMETRIC_KEYS = ("intake_secret_key", "applicant_token_key", "review_secret_key", "sync_api_key", "privacy_api_key")
# Ed25519 pairs: (private, public)
KEY_PAIRS = (("staff_signing_key", "staff_verify_key"), ("intake_event_signing_key", "intake_event_verify_key"),
             ("review_event_signing_key", "review_event_verify_key"))
PRIVATE_KEYS = frozenset(private for private, _ in KEY_PAIRS)
PUBLIC_KEYS = frozenset(public for _, public in KEY_PAIRS)


class SettingsError(RuntimeError):
    """A setting that makes the service unsafe to start; the message names the variable."""


def restrict_file_modes() -> None:
    """Files this process creates are 0600 and directories 0700: secrets, SQLite files, uploads, mail."""
    os.umask(0o077)


def _var_dir() -> Path:
    return Path(os.environ.get("VAR_DIR", ROOT / "var")).resolve()


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    # an install from before keys were private may have left var/ world-readable
    if path.stat().st_uid == os.getuid() and path.stat().st_mode & 0o077:
        path.chmod(0o700)


def _secret_file(var_dir: Path, name: str, generate) -> str:
    """The secret kept in var/<name>, created 0600 by the first process that needs it."""
    path = var_dir / name
    _private_dir(var_dir)
    if not path.exists():
        tmp = path.with_name(f".{name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(generate())
        try:
            os.link(tmp, path)  # fails if another process got there first: its secret wins
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    return path.read_text().strip()


def _default_secret(var_dir: Path, name: str) -> str:
    """A per-installation symmetric key kept under var/, so embedded mode needs no configuration."""
    return _secret_file(var_dir, name, lambda: secrets.token_urlsafe(48))


def _pem(value: str | None) -> str | None:
    """PEM from the environment: `.env` files carry it on one line with literal \\n."""
    if not value:
        return None
    return value.strip().replace("\\n", "\n") + "\n"


def _key_pair(var_dir: Path, embedded: bool, private: str = "staff_signing_key",
              public: str = "staff_verify_key") -> tuple[str | None, str | None]:
    """An Ed25519 pair from the environment (the public half derived when only the private one is given),
    generated into var/<private>.pem in embedded mode."""
    from shared.keys import generate_signing_key, public_key_pem

    signing = _pem(os.environ.get(KEYS[private]))
    verify = _pem(os.environ.get(KEYS[public]))
    if signing is None and verify is None and embedded:
        signing = _secret_file(var_dir, f"{private}.pem", generate_signing_key) + "\n"
    if verify is None and signing is not None:
        try:
            verify = public_key_pem(signing)
        except ValueError:
            verify = None  # Settings.require names the bad signing key
    return signing, verify


def _documents_keys(var_dir: Path) -> str:
    from shared.documents import new_documents_key

    return _secret_file(var_dir, "documents_keys", new_documents_key)


def parse_deadline(value: str) -> datetime:
    """`2027-01-31 23:59` (Brussels time unless an offset is given) → aware datetime."""
    moment = datetime.fromisoformat(value.replace(" ", "T"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("Europe/Brussels"))
    return moment


@dataclass(frozen=True)
class Settings:
    var_dir: Path
    intake_secret_key: str | None
    applicant_token_key: str | None
    review_secret_key: str | None
    staff_signing_key: str | None
    staff_verify_key: str | None
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
    # consumers' read-only access to intake's sync API (reconciliation); it cannot make staff
    sync_api_key: str | None = None
    # where consumers reach intake's sync API from inside the stack (INTAKE_URL is the public one)
    intake_sync_url: str | None = None
    # prometheus_client's multiprocess directory: gunicorn's workers' metrics add up in /metrics (shared/metrics.py)
    metrics_dir: Path | None = None
    # notify's SMTP relay (docs/operations.md): none | starttls | tls (implicit TLS, usually port 465)
    smtp_security: str = "none"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_reply_to: str | None = None
    # a private CA to trust for the relay's certificate (the system's CAs otherwise)
    smtp_ca_file: str | None = None
    # the relay's per-minute sending limit, shared by every notify worker; 0 = none
    smtp_rate_per_minute: int = 0
    # review <-> intake for data protection (erase, export, statistics, access log); never the sync key
    privacy_api_key: str | None = None
    # where intake reaches review's internal access-log API (REVIEW_URL is the public one)
    review_internal_url: str | None = None
    # personal data is erased this many months after the call's deadline or the application's last change
    retention_months: int = 12
    # stored uploads no application references are purged once older than this
    orphan_upload_grace_hours: int = 24
    # documents at rest (shared/documents.py): `kid:base64key,...`, the first encrypts, all decrypt
    documents_keys: str | None = field(default=None, repr=False)
    # intake's applicant journey (services/intake/access, services/intake/limits.py)
    draft_retention_days: int = 30
    access_link_hours: int = 48
    # an applicant's session on the portal (services/intake/portal): ended after this long unused, and after
    # this long in all, whatever its use
    applicant_session_idle_minutes: int = 30
    applicant_session_hours: int = 12
    submission_rate_limit: str = "10 per hour"
    status_rate_limit: str = "60 per minute"
    access_link_rate_limit: str = "5 per hour"
    # access-link emails (status links, drafts) one address may receive, whoever asks: no mail-bombing a victim
    access_link_recipient_limit: str = "3 per hour;10 per day"
    # networks never limited (e.g. `127.0.0.0/8` for a load test on this host); none by default, since a
    # reverse proxy on the same host would otherwise exempt every applicant behind it
    rate_limit_exempt: str = ""
    # how many proxies in front of the web apps append to X-Forwarded-For (werkzeug's ProxyFix, x_for=N): limits
    # and sign-in throttling count the client's address, not theirs; 0 = the peer address, the header ignored
    trusted_proxies: int = 0
    # the bearer token Prometheus sends for /metrics; unset, /metrics answers 404 (embedded: generated in var/)
    metrics_token: str | None = None
    # data (heap) each render worker child may hold, in MB: a hostile document meets MemoryError, not the OOM killer
    render_memory_mb: int = 768
    # events (shared/events/signing.py): each producer's Ed25519 signing key (its publishing processes only) and
    # the public keys consumers verify with (several PEM blocks while rotating)
    intake_event_signing_key: str | None = field(default=None, repr=False)
    intake_event_verify_key: str | None = None
    review_event_signing_key: str | None = field(default=None, repr=False)
    review_event_verify_key: str | None = None

    @property
    def embedded_broker(self) -> bool:
        return self.broker_url.startswith("filesystem://")

    def database_url(self, service: str) -> str:
        return getattr(self, f"{service}_database_url")

    @classmethod
    def from_env(cls) -> "Settings":
        restrict_file_modes()
        var = _var_dir()
        broker_url = _env("BROKER_URL", "filesystem://")
        embedded = broker_url.startswith("filesystem://")

        def key(name: str) -> str | None:
            return os.environ.get(KEYS[name]) or (_default_secret(var, name) if embedded else None)

        signing, verify = _key_pair(var, embedded)
        intake_events = _key_pair(var, embedded, "intake_event_signing_key", "intake_event_verify_key")
        review_events = _key_pair(var, embedded, "review_event_signing_key", "review_event_verify_key")
        ports = {
            "intake": int(_env("INTAKE_PORT", "5001")),
            "review": int(_env("REVIEW_PORT", "5002")),
            "notify": int(_env("NOTIFY_PORT", "5003")),
        }
        return cls(
            var_dir=var,
            intake_secret_key=key("intake_secret_key"),
            applicant_token_key=key("applicant_token_key"),
            review_secret_key=key("review_secret_key"),
            staff_signing_key=signing,
            staff_verify_key=verify,
            broker_url=broker_url,
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
            sync_api_key=key("sync_api_key"),
            intake_sync_url=os.environ.get("INTAKE_SYNC_URL") or None,
            metrics_dir=Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]) if os.environ.get("PROMETHEUS_MULTIPROC_DIR")
            else None,
            smtp_security=_env("SMTP_SECURITY", cls.smtp_security).lower(),
            smtp_username=os.environ.get("SMTP_USERNAME") or None,
            smtp_password=os.environ.get("SMTP_PASSWORD") or None,
            smtp_reply_to=os.environ.get("SMTP_REPLY_TO") or None,
            smtp_ca_file=os.environ.get("SMTP_CA_FILE") or None,
            smtp_rate_per_minute=int(_env("SMTP_RATE_PER_MINUTE", str(cls.smtp_rate_per_minute))),
            documents_keys=os.environ.get("DOCUMENTS_KEYS") or (_documents_keys(var) if embedded else None),
            draft_retention_days=int(_env("DRAFT_RETENTION_DAYS", str(cls.draft_retention_days))),
            access_link_hours=int(_env("ACCESS_LINK_HOURS", str(cls.access_link_hours))),
            applicant_session_idle_minutes=int(_env("APPLICANT_SESSION_IDLE_MINUTES",
                                                    str(cls.applicant_session_idle_minutes))),
            applicant_session_hours=int(_env("APPLICANT_SESSION_HOURS", str(cls.applicant_session_hours))),
            submission_rate_limit=_env("SUBMISSION_RATE_LIMIT", cls.submission_rate_limit),
            status_rate_limit=_env("STATUS_RATE_LIMIT", cls.status_rate_limit),
            access_link_rate_limit=_env("ACCESS_LINK_RATE_LIMIT", cls.access_link_rate_limit),
            access_link_recipient_limit=_env("ACCESS_LINK_RECIPIENT_LIMIT", cls.access_link_recipient_limit),
            rate_limit_exempt=os.environ.get("RATE_LIMIT_EXEMPT", cls.rate_limit_exempt),
            trusted_proxies=int(_env("TRUSTED_PROXIES", str(cls.trusted_proxies))),
            render_memory_mb=int(_env("RENDER_MEMORY_MB", str(cls.render_memory_mb))),
            privacy_api_key=key("privacy_api_key"),
            metrics_token=os.environ.get("METRICS_TOKEN") or (_default_secret(var, "metrics_token") if embedded
                                                              else None),
            review_internal_url=os.environ.get("REVIEW_INTERNAL_URL") or None,
            retention_months=int(_env("RETENTION_MONTHS", str(cls.retention_months))),
            orphan_upload_grace_hours=int(_env("ORPHAN_UPLOAD_GRACE_HOURS", str(cls.orphan_upload_grace_hours))),
            intake_event_signing_key=intake_events[0],
            intake_event_verify_key=intake_events[1],
            review_event_signing_key=review_events[0],
            review_event_verify_key=review_events[1],
        )

    def require(self, *names: str) -> None:
        """Refuse to start (SettingsError naming the variable) when a key this service needs is missing or weak."""
        from shared.keys import check_key_pair, check_private_key, check_public_key

        problems = []
        for name in names:
            env = KEYS[name]
            value = getattr(self, name)
            if not value:
                problems.append(f"{env} is not set (generate one with `python -m shared.keys`)")
            elif name in PRIVATE_KEYS:
                problems += [f"{env}: {p}" for p in check_private_key(value)]
            elif name in PUBLIC_KEYS:
                problems += [f"{env}: {p}" for p in check_public_key(value)]
            else:
                problems += [f"{env}: {p}" for p in weak_secret(value)]
        for private, public in KEY_PAIRS:
            if ({private, public} <= set(names) and not problems
                    and getattr(self, private) and getattr(self, public)):
                mismatch = check_key_pair(getattr(self, private), getattr(self, public), signing_env=KEYS[private])
                problems += [f"{KEYS[public]}: {p}" for p in mismatch]
        symmetric = [n for n in names if n in SYMMETRIC_KEYS and getattr(self, n)]
        if len({getattr(self, n) for n in symmetric}) < len(symmetric):
            problems.append(f"{', '.join(KEYS[n] for n in symmetric)} must be different keys, one per purpose")
        if problems:
            raise SettingsError("refusing to start: " + "; ".join(problems))

    def require_documents_keys(self) -> None:
        """Refuse to start when DOCUMENTS_KEYS is missing or malformed, rather than fail at every upload."""
        from shared.documents import DocumentKeyError, parse_keys

        try:
            parse_keys(self.documents_keys)
        except DocumentKeyError as exc:
            raise SettingsError(f"refusing to start: {exc}") from None


def weak_secret(value: str) -> list[str]:
    """Why a symmetric key is unfit, or nothing."""
    lowered = value.strip().lower()
    if lowered in PLACEHOLDERS or any(word in lowered for word in _PLACEHOLDER_WORDS):
        return ["is a placeholder, not a secret"]
    if len(value) < MIN_KEY_LENGTH:
        return [f"is {len(value)} characters; at least {MIN_KEY_LENGTH} random characters are required"]
    if len(set(value)) < 10:
        return ["is not random enough (fewer than 10 distinct characters)"]
    return []
