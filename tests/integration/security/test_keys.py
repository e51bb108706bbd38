"""Keys by attack: tokens forged with keys a service should not trust, weak settings at start-up, file modes.

Real apps on PostgreSQL (review, notify), real SQLite files and processes for the embedded start.
"""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import os
import smtplib
import stat
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path

import jwt
import pytest
from itsdangerous import URLSafeTimedSerializer

from services.notify import create_app as create_notify
from services.notify.db import db as notify_db
from services.notify.mailcatcher import free_port
from services.review import create_app as create_review
from services.review.accounts.service import create_user
from services.review.db import db as review_db
from shared.auth import AUDIENCE, ISSUER, StaffIdentity, issue_staff_token, verify_staff_token
from shared.config import KEYS, Settings, SettingsError, weak_secret
from shared.keys import generate_signing_key, new_keys, public_key_pem
from tests.conftest import migrated_database, rolled_back

ROOT = Path(__file__).resolve().parents[3]
PASSWORD = "a long enough password"
ADMIN_EMAIL = "first.admin@example.org"


@pytest.fixture(scope="module")
def notify_url():
    return migrated_database("notify", "_keys")


@pytest.fixture
def notify(settings, notify_url):
    app = create_notify(dataclasses.replace(settings, notify_database_url=notify_url, smtp_port=free_port()))
    with app.app_context(), rolled_back(notify_db):
        yield app


@pytest.fixture
def first_admin(review):
    """The first user, an admin: the id a forger would aim at."""
    with review.app_context():
        user = create_user(session=review_db.session, email=ADMIN_EMAIL, password=PASSWORD, role="admin",
                           departments=[])
        review_db.session.commit()
        return StaffIdentity(user.id, user.email, user.role, ())


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_for(identity: StaffIdentity, **changes) -> dict:
    now = int(time.time())
    return {"sub": str(identity.user_id), "email": identity.email, "role": identity.role,
            "departments": list(identity.departments), "iat": now, "exp": now + 600, "iss": ISSUER,
            "aud": AUDIENCE, "typ": "access", **changes}


def hs256(key: bytes, claims: dict, header: dict | None = None) -> str:
    """An HS256 JWT made by hand: PyJWT rightly refuses to HMAC with a PEM key, an attacker does not."""
    header = header or {"alg": "HS256", "typ": "JWT"}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def forgeries(settings: Settings, identity: StaffIdentity) -> dict[str, str]:
    """Every way to mint an admin token with what intake (the public service) holds, and a few classics."""
    tokens = {}
    for name in ("intake_secret_key", "applicant_token_key"):
        key = getattr(settings, name)
        # the old staff token format, signed with intake's key
        tokens[f"itsdangerous/{name}"] = URLSafeTimedSerializer(key, salt="staff-token").dumps(
            {"uid": identity.user_id, "email": identity.email, "role": "admin", "departments": []})
        tokens[f"hs256/{name}"] = jwt.encode(claims_for(identity), key, algorithm="HS256")
    # algorithm confusion: the public key (notify holds it) used as an HMAC secret
    tokens["hs256/public-key"] = hs256(settings.staff_verify_key.encode(), claims_for(identity))
    tokens["alg-none"] = (f"{b64(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}."
                          f"{b64(json.dumps(claims_for(identity)).encode())}.")
    return tokens


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


FORGERY_NAMES = ["itsdangerous/intake_secret_key", "itsdangerous/applicant_token_key", "hs256/intake_secret_key",
                 "hs256/applicant_token_key", "hs256/public-key", "alg-none"]


@pytest.mark.parametrize("forgery", FORGERY_NAMES)
def test_a_staff_token_forged_with_intakes_keys_is_refused_by_review(review, settings, first_admin, forgery):
    client = review.test_client()
    genuine = issue_staff_token(settings.staff_signing_key, first_admin)
    assert client.get("/api/v1/users", headers=bearer(genuine)).status_code == 200  # the door works

    response = client.get("/api/v1/users", headers=bearer(forgeries(settings, first_admin)[forgery]))
    created = client.post("/api/v1/users", headers=bearer(forgeries(settings, first_admin)[forgery]),
                          json={"email": "mallory@example.org", "password": PASSWORD, "role": "admin"})

    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"
    assert created.status_code == 401
    users = client.get("/api/v1/users", headers=bearer(genuine)).get_json()["items"]
    assert [u["email"] for u in users] == [ADMIN_EMAIL]


@pytest.mark.parametrize("forgery", FORGERY_NAMES)
def test_a_staff_token_forged_with_intakes_keys_is_refused_by_notify(notify, settings, forgery):
    client = notify.test_client()
    identity = StaffIdentity(1, ADMIN_EMAIL, "admin", ())
    assert client.get("/api/v1/notifications",
                      headers=bearer(issue_staff_token(settings.staff_signing_key, identity))).status_code == 200

    response = client.get("/api/v1/notifications", headers=bearer(forgeries(settings, identity)[forgery]))

    assert response.status_code == 401
    assert set(response.get_json()["error"]) == {"code", "message", "fields"}


def test_an_expired_access_token_is_refused_by_notify(notify, settings):
    identity = StaffIdentity(1, ADMIN_EMAIL, "admin", ())
    expired = issue_staff_token(settings.staff_signing_key, identity, ttl=-60)

    response = notify.test_client().get("/api/v1/notifications", headers=bearer(expired))

    assert response.status_code == 401


def test_access_tokens_live_minutes_not_hours(settings):
    token = issue_staff_token(settings.staff_signing_key, StaffIdentity(1, ADMIN_EMAIL, "admin", ()))
    claims = jwt.decode(token, settings.staff_verify_key, algorithms=["EdDSA"], audience=AUDIENCE)

    assert claims["exp"] - claims["iat"] <= 15 * 60


def tamper(token: str, **changes) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return ".".join([header, b64(json.dumps({**claims, **changes}).encode()), signature])


def test_a_token_with_a_tampered_role_is_refused_by_notify_and_review(review, notify, settings, first_admin):
    reviewer = StaffIdentity(first_admin.user_id, first_admin.email, "reviewer", ("it",))
    tampered = tamper(issue_staff_token(settings.staff_signing_key, reviewer), role="admin", departments=[])

    assert notify.test_client().get("/api/v1/notifications", headers=bearer(tampered)).status_code == 401
    assert review.test_client().get("/api/v1/users", headers=bearer(tampered)).status_code == 401


def test_a_token_signed_by_another_ed25519_key_is_refused(review, notify, settings, first_admin):
    stranger = issue_staff_token(generate_signing_key(), first_admin)

    assert notify.test_client().get("/api/v1/notifications", headers=bearer(stranger)).status_code == 401
    assert review.test_client().get("/api/v1/users", headers=bearer(stranger)).status_code == 401


@pytest.mark.parametrize("claims", [
    {"role": "applicant"}, {"role": "superuser"}, {"role": ["admin"]}, {"typ": "refresh"}, {"aud": "nip-intake"},
    {"iss": "nip-intake"}, {"departments": "it"}, {"sub": "not-a-number"},
])
def test_notify_refuses_a_validly_signed_token_that_is_not_a_staff_access_token(notify, settings, claims):
    identity = StaffIdentity(1, ADMIN_EMAIL, "admin", ())
    token = jwt.encode(claims_for(identity, **claims), settings.staff_signing_key, algorithm="EdDSA")

    response = notify.test_client().get("/api/v1/notifications", headers=bearer(token))

    assert response.status_code == 401


@pytest.mark.parametrize("missing", ["sub", "exp", "iat", "role", "typ", "aud", "iss", "departments", "email"])
def test_a_token_missing_a_claim_is_refused(settings, missing):
    claims = claims_for(StaffIdentity(1, ADMIN_EMAIL, "admin", ()))
    del claims[missing]

    assert verify_staff_token(settings.staff_verify_key, jwt.encode(claims, settings.staff_signing_key,
                                                                    algorithm="EdDSA")) is None


# ---- start-up refuses weak settings, naming the variable ----

@pytest.mark.parametrize("value", ["change-me", "changeme", "secret", "nip", "change-me-to-a-long-random-string",
                                   "short-but-random-Xy7", "a" * 40, "please-change-me-0123456789abcdefghijkl"])
def test_intake_refuses_to_start_with_a_placeholder_or_short_key(settings, value):
    with pytest.raises(SettingsError, match="INTAKE_SECRET_KEY"):
        from services.intake import create_app as create_intake

        create_intake(dataclasses.replace(settings, intake_secret_key=value))


def test_intake_refuses_the_same_key_for_sessions_and_applicant_tokens(settings):
    from services.intake import create_app as create_intake

    with pytest.raises(SettingsError, match="one per purpose"):
        create_intake(dataclasses.replace(settings, applicant_token_key=settings.intake_secret_key))


@pytest.mark.parametrize("value", [None, "", "no-colon-here", "k1:not base64!", "k1:c2hvcnQ=",
                                   f"k1:{'A' * 43}=,k1:{'B' * 43}="])
def test_intake_and_review_refuse_to_start_without_usable_documents_keys(settings, value):
    from services.intake import create_app as create_intake

    for create in (create_intake, create_review):
        with pytest.raises(SettingsError, match="DOCUMENTS_KEYS"):
            create(dataclasses.replace(settings, documents_keys=value))


def test_intakes_workers_refuse_to_start_without_documents_keys_and_beat_starts_without(tmp_path, redis_server):
    """With compose's own command and environment, less DOCUMENTS_KEYS (compose itself insists on it; a hand-made
    deployment may not): a checks worker stops at once naming the variable; beat, which loads the same module
    and never opens a document, runs."""
    from tests.e2e.stack import BIN, compose_command, compose_environment, compose_services, production_secrets

    services = compose_services()
    overrides = {"INTAKE_DATABASE_URL": migrated_database("intake", "_worker_keys"), "BROKER_URL": redis_server.url,
                 "VAR_DIR": str(tmp_path / "var"), "DOCUMENTS_DIR": str(tmp_path / "documents")}
    started = {}
    for name in ("worker-checks", "beat"):
        given = services[name].get("environment") or {}
        env = compose_environment(services[name], production_secrets(), {k: v for k, v in overrides.items() if k in given})
        command = [arg.replace("/tmp/", f"{tmp_path}/") for arg in compose_command(services[name], {})]
        env = {**os.environ, **env, "PATH": f"{BIN}:{os.environ['PATH']}"}
        env.pop("DOCUMENTS_KEYS", None)
        started[name] = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = started["worker-checks"].communicate(timeout=60)
        assert started["worker-checks"].returncode != 0
        assert "refusing to start" in out and "DOCUMENTS_KEYS" in out, out[-2000:]
        time.sleep(3)
        assert started["beat"].poll() is None, started["beat"].communicate()[0][-2000:]
    finally:
        for process in started.values():
            if process.poll() is None:
                process.terminate()
                process.communicate(timeout=30)


@pytest.mark.parametrize("field, value, variable", [
    ("review_secret_key", "nip", "REVIEW_SECRET_KEY"),
    ("review_secret_key", None, "REVIEW_SECRET_KEY"),
    ("staff_signing_key", "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n", "STAFF_SIGNING_KEY"),
    ("staff_signing_key", "change-me", "STAFF_SIGNING_KEY"),
    ("staff_verify_key", public_key_pem(generate_signing_key()), "STAFF_VERIFY_KEY"),  # not the pair's half
])
def test_review_refuses_to_start_with_a_weak_missing_or_mismatched_key(settings, field, value, variable):
    with pytest.raises(SettingsError, match=variable):
        create_review(dataclasses.replace(settings, **{field: value}))


@pytest.mark.parametrize("value", [None, "", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
                                   generate_signing_key()])
def test_notify_refuses_to_start_without_a_valid_public_key(settings, value):
    with pytest.raises(SettingsError, match="STAFF_VERIFY_KEY"):
        create_notify(dataclasses.replace(settings, staff_verify_key=value))


@pytest.mark.parametrize("password", ["change-me", "short", "elevenchars"])
def test_review_refuses_a_first_admin_password_below_the_password_policy(settings, password):
    with pytest.raises(SettingsError, match="ADMIN_PASSWORD"):
        create_review(dataclasses.replace(settings, admin_email=ADMIN_EMAIL, admin_password=password))


def test_every_key_value_in_env_example_is_empty_or_refused():
    values = dict(line.split("=", 1) for line in (ROOT / ".env.example").read_text().splitlines()
                  if line and not line.startswith("#"))

    for variable in list(KEYS.values()) + ["POSTGRES_PASSWORD", "ADMIN_PASSWORD"]:
        assert variable in values, variable
        assert values[variable] == "" or weak_secret(values[variable]), variable


def test_generated_keys_pass_the_start_up_checks(monkeypatch):
    keys = new_keys()
    for variable, value in keys.items():
        monkeypatch.setenv(variable, value)
    monkeypatch.setenv("BROKER_URL", "redis://127.0.0.1:1/0")

    settings = Settings.from_env()

    settings.require(*KEYS)
    assert settings.staff_verify_key == keys["STAFF_VERIFY_KEY"]


def test_a_pem_on_one_line_as_in_env_files_is_accepted(monkeypatch):
    private = generate_signing_key()
    monkeypatch.setenv("STAFF_SIGNING_KEY", private.strip().replace("\n", "\\n"))
    monkeypatch.delenv("STAFF_VERIFY_KEY", raising=False)
    monkeypatch.setenv("BROKER_URL", "redis://127.0.0.1:1/0")

    settings = Settings.from_env()

    settings.require("staff_signing_key", "staff_verify_key")
    assert settings.staff_verify_key == public_key_pem(private)


def test_a_production_process_without_keys_generates_none_and_refuses_with_a_clear_message(tmp_path):
    env = {"PATH": os.environ["PATH"], "VAR_DIR": str(tmp_path / "var"), "BROKER_URL": "redis://127.0.0.1:1/0",
           "INTAKE_DATABASE_URL": f"sqlite:///{tmp_path / 'intake.db'}", "INTAKE_SECRET_KEY": "change-me"}

    result = subprocess.run([sys.executable, "-c", "from services.intake import create_app; create_app()"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)

    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert "INTAKE_SECRET_KEY: is a placeholder" in last and "APPLICANT_TOKEN_KEY is not set" in last
    assert not (tmp_path / "var").exists() or not any((tmp_path / "var").iterdir())


def test_review_migrate_refuses_a_weak_first_admin_password_before_changing_anything(tmp_path):
    database = tmp_path / "review.db"
    env = {"PATH": os.environ["PATH"], "VAR_DIR": str(tmp_path / "var"), "REVIEW_DATABASE_URL": f"sqlite:///{database}",
           "ADMIN_EMAIL": ADMIN_EMAIL, "ADMIN_PASSWORD": "change-me"}

    result = subprocess.run([sys.executable, "-m", "services.review", "migrate"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)

    assert result.returncode != 0
    assert "ADMIN_PASSWORD does not meet the password policy" in result.stderr
    assert not database.exists()


# ---- files and directories a fresh embedded start creates are private ----

EMBEDDED_START = """
import io, json, os
from services.intake import create_app as intake
from services.review import create_app as review
from services.notify import create_app as notify
from tests.factories import make_pdf, multipart

review(); notify()
client = intake().test_client()
response = client.post("/api/v1/applications", data=multipart(cv=make_pdf("CV"), academic_proof=make_pdf("Proof")),
                       content_type="multipart/form-data")
assert response.status_code == 201, response.get_json()
print(json.dumps(response.get_json()))
"""


def test_a_fresh_embedded_start_creates_files_0600_and_directories_0700(tmp_path):
    var = tmp_path / "var"
    smtp_port = free_port()
    env = {"PATH": os.environ["PATH"], "VAR_DIR": str(var), "SMTP_PORT": str(smtp_port),
           "ADMIN_EMAIL": ADMIN_EMAIL, "ADMIN_PASSWORD": PASSWORD, "PYTHONPATH": str(ROOT)}

    def run(*args, **kwargs):
        # a permissive umask, as a login shell has: the services must not rely on the caller's
        return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=180, preexec_fn=lambda: os.umask(0o022), **kwargs)

    for service in ("intake", "review", "notify"):
        assert run("-m", f"services.{service}", "migrate").returncode == 0
    assert run("-m", "services.intake", "seed").returncode == 0
    started = run("-c", EMBEDDED_START)
    assert started.returncode == 0, started.stderr[-3000:]
    catcher = subprocess.Popen([sys.executable, "-m", "services.notify.mailcatcher"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               preexec_fn=lambda: os.umask(0o022))
    try:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "a@example.org", "b@example.org", "hello"
        message.set_content("a candidate's email")
        deadline = time.monotonic() + 30
        while True:
            try:
                with smtplib.SMTP("127.0.0.1", smtp_port, timeout=5) as smtp:
                    smtp.send_message(message)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
    finally:
        catcher.terminate()
        catcher.wait(10)

    created = {path.relative_to(var).as_posix(): stat.S_IMODE(path.stat().st_mode) for path in var.rglob("*")}
    expected = {"intake_secret_key", "applicant_token_key", "review_secret_key", "staff_signing_key.pem",
                "intake.db", "review.db", "notify.db", "documents", "mail"}
    assert expected <= set(created), sorted(created)
    assert any(name.startswith("documents/uploads/") for name in created)
    assert any(name.startswith("mail/") and name.endswith(".eml") for name in created)
    loose = {name: oct(mode) for name, mode in created.items() if mode & 0o077}
    assert not loose, f"readable by others: {loose}"
    assert stat.S_IMODE(var.stat().st_mode) == 0o700
    dirs = [p for p in var.rglob("*") if p.is_dir()]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o700 for p in dirs)


def test_an_old_world_readable_secret_file_is_made_private(tmp_path, monkeypatch):
    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    var.chmod(0o755)
    old = var / "review_secret_key"
    old.write_text("an-old-installation-key-" + "x9" * 20)
    old.chmod(0o644)
    monkeypatch.setenv("VAR_DIR", str(var))
    monkeypatch.delenv("BROKER_URL", raising=False)
    for variable in KEYS.values():
        monkeypatch.delenv(variable, raising=False)

    settings = Settings.from_env()

    assert settings.review_secret_key == old.read_text()
    assert stat.S_IMODE(old.stat().st_mode) == 0o600
    assert stat.S_IMODE(var.stat().st_mode) == 0o700
