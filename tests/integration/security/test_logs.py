"""No log line carries a token or a password: attacks on the logs of the real apps and of the real servers.

Real requests with an emailed link's secret in the path (`/access/<secret>`), an applicant's token in the query and in
headers, staff bearer tokens in headers and passwords in bodies go through intake, review and notify (in process, under Werkzeug's server as `serve` runs it, and under gunicorn
with the exact command lines of the Dockerfile, the Procfile and docker-compose); then every line written is
searched for the secrets.
"""
from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
import re
import secrets as secrets_module
import shlex
import signal
import string
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, select
from werkzeug.serving import make_server

from services.intake import create_app as create_intake
from services.intake.db import OUTBOX
from services.intake.db import db as intake_db
from services.intake.programme.service import seed_call
from services.notify.mailcatcher import free_port
from services.review import create_app as create_review
from services.review.accounts.service import create_user
from services.review.db import db as review_db
from shared.logging import REDACTED
from tests.conftest import migrated_database, rolled_back
from tests.e2e.stack import compose_services, interpolate, procfile
from tests.factories import MOTIVATION, application_payload, link_path, make_pdf, multipart

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
PASSWORD = "correct horse battery staple 42"
WRONG_PASSWORD = "wrong horse battery staple 43"
EMAIL = "log.admin@example.org"


@pytest.fixture(scope="module")
def intake_url():
    return migrated_database("intake", "_logs")


@pytest.fixture(scope="module")
def review_url():
    return migrated_database("review", "_logs")


@pytest.fixture(scope="module")
def notify_url():
    return migrated_database("notify", "_logs")


class LogTap:
    """Everything the root handler that `configure_logging` installed writes, from now on, at DEBUG."""

    def __init__(self):
        root = logging.getLogger()
        self.handler = root.handlers[0]
        self.buffer = io.StringIO()
        self.previous = (self.handler.setStream(self.buffer), root.level)
        root.setLevel(logging.DEBUG)

    @property
    def text(self) -> str:
        return self.buffer.getvalue()

    def close(self):
        self.handler.setStream(self.previous[0])
        logging.getLogger().setLevel(self.previous[1])


def assert_absent(secrets: list[str], text: str):
    assert text.strip(), "nothing was logged: the test would prove nothing"
    for secret in secrets:
        assert secret and secret not in text, f"a secret ({secret[:6]}…) reached the log:\n{text}"


@pytest.fixture
def intake(settings, intake_url):
    app = create_intake(dataclasses.replace(settings, intake_database_url=intake_url))
    with rolled_back(intake_db), app.app_context():
        seed_call(session=intake_db.session, deadline=settings.call_deadline)
        intake_db.session.commit()
        yield app


@pytest.fixture
def review(settings, review_url):
    app = create_review(dataclasses.replace(settings, review_database_url=review_url))
    with rolled_back(review_db):
        with app.app_context():
            create_user(session=review_db.session, email=EMAIL, password=PASSWORD, role="admin", departments=[])
            review_db.session.commit()
        yield app


def emailed_link(rows, reference: str) -> str:
    """The path of the latest portal link intake asked notify to email about `reference`, from outbox bodies."""
    events = [args[0] for args in map(json.loads, rows)
              if isinstance(args, list) and args and isinstance(args[0], dict) and "data" in args[0]]
    links = [event["data"]["link"] for event in events
             if event["data"].get("reference") == reference and "link" in event["data"]]
    assert links, f"no emailed link for {reference}"
    return link_path(links[-1])


def secret_of(path: str) -> str:
    return path.split("/access/", 1)[1].split("?", 1)[0]


def intake_emailed_link(reference: str) -> str:
    return emailed_link(intake_db.session.scalars(select(OUTBOX.c.body).order_by(OUTBOX.c.id)), reference)


def applicant_requests(client, stranger) -> list[str]:
    """An applicant's visit: submit, open the emailed link (then again, used, and tampered), the status page, the
    status page with the token in the query, the API with it in a header, withdraw."""
    body = client.post("/api/v1/applications", data=multipart(cv=make_pdf("CV"), academic_proof=make_pdf("Proof")),
                       content_type="multipart/form-data").get_json()
    reference, token = body["reference"], body["token"]
    link = intake_emailed_link(reference)
    secret = secret_of(link)
    opened = client.get(link)
    assert opened.status_code == 303
    assert client.get(opened.headers["Location"].replace("lang=en", "lang=fr")).status_code == 200
    assert stranger.get(link).status_code == 410  # used
    tampered = secret[:-1] + ("x" if secret[-1] != "x" else "y")
    assert stranger.get(f"/access/{tampered}", query_string={"lang": "en"}).status_code == 404
    # a key in the status page's address opens nothing now, but the address is still not logged
    assert stranger.get(f"/status/{reference}", query_string={"token": token}).status_code == 401
    assert stranger.get(f"/status/{reference}", query_string={"token": token + "é"}).status_code == 401
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get(f"/api/v1/applications/{reference}", headers=auth).status_code == 200
    assert client.post(f"/api/v1/applications/{reference}/withdraw", headers=auth).status_code == 200
    return [token, secret, tampered]


def test_intake_logs_carry_no_applicant_token(intake):
    tap = LogTap()
    try:
        client = intake.test_client()
        secrets = applicant_requests(client, intake.test_client())
        # the form too: its token, and the link its confirmation email carries
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/apply").get_data(as_text=True)).group(1)
        form = {"given_name": "Lena", "family_name": "Berg", "email": "lena.logs@example.org",
                "date_of_birth": "2001-03-02", "nationality": "no", "languages.en": "C1",
                "education.institution": "UiO", "education.degree_level": "master",
                "education.field_of_study": "Economics", "education.status": "enrolled",
                "education.year_of_study": "4", "department1": "finance", "session": "march",
                "correspondence_language": "en", "consent": "yes", "motivation": MOTIVATION, "lang": "en",
                "csrf_token": csrf, "cv": (io.BytesIO(make_pdf("CV")), "cv.pdf"),
                "academic_proof": (io.BytesIO(make_pdf("Proof")), "proof.pdf")}
        redirect = client.post("/apply", data=form, content_type="multipart/form-data")
        assert redirect.status_code == 302 and "/apply/received" in redirect.headers["Location"]
        received = client.get(redirect.headers["Location"])
        reference = re.search(r"NIP27-[A-Z0-9]{4}-[A-Z0-9]{4}", received.get_data(as_text=True)).group(0)
        link = intake_emailed_link(reference)
        assert client.get(link, follow_redirects=True).status_code == 200
        secrets += [secret_of(link), csrf]
    finally:
        tap.close()

    assert '"msg": "request"' in tap.text
    assert_absent(secrets, tap.text)
    assert REDACTED not in tap.text  # intake's own lines never had a secret to hide


def test_review_logs_carry_no_password_or_staff_token(review):
    tap = LogTap()
    try:
        client = review.test_client()
        assert client.post("/api/v1/auth/token", json={"email": EMAIL, "password": WRONG_PASSWORD}).status_code == 401
        issued = client.post("/api/v1/auth/token", json={"email": EMAIL, "password": PASSWORD})
        assert issued.status_code == 200
        tokens = [v for v in issued.get_json().values() if isinstance(v, str) and len(v) > 20]
        assert tokens
        headers = {"Authorization": f"Bearer {issued.get_json()['token']}"}
        assert client.get("/api/v1/applications", headers=headers).status_code == 200
        created = client.post("/api/v1/users", headers=headers, json={
            "email": "new.reviewer@example.org", "password": "another long password 77", "role": "reviewer",
            "departments": ["it"]})
        assert created.status_code == 201, created.get_json()
        assert client.get("/api/v1/applications", headers={"Authorization": "Bearer forged.token.value"}
                          ).status_code == 401
        browser = review.test_client()
        for password in (WRONG_PASSWORD, PASSWORD):
            csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', browser.get("/login").get_data(as_text=True))
            browser.post("/login", data={"email": EMAIL, "password": password, "csrf_token": csrf.group(1)})
        assert browser.get("/applications").status_code == 200  # signed in: the form really was used
    finally:
        tap.close()

    assert_absent([PASSWORD, WRONG_PASSWORD, "another long password 77", "forged.token.value", *tokens], tap.text)


def test_werkzeug_server_request_lines_are_redacted(intake):
    """`python -m services.<name> serve` runs Werkzeug's server, whose request lines include the query."""
    server = make_server("127.0.0.1", 0, intake, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    tap = LogTap()
    werkzeug_log = logging.getLogger("werkzeug")
    werkzeug_level = werkzeug_log.level
    werkzeug_log.setLevel(logging.INFO)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        secret = "k" * 43
        response = requests.get(f"{url}/status/NIP27-AAAA-BBBB", params={"token": secret, "lang": "en"},
                                headers={"Authorization": "Bearer " + secret[::-1] + "b"}, timeout=10)
        assert response.status_code == 401
        # an emailed link: its secret is the path itself (the same line whether or not it is one of ours)
        link_secret = secrets_module.token_urlsafe(32)
        assert requests.get(f"{url}/access/{link_secret}", params={"lang": "en"}, timeout=10).status_code == 404
    finally:
        server.shutdown()
        thread.join(10)
        tap.close()
        werkzeug_log.setLevel(werkzeug_level)

    # the lines are there, the secrets are not
    assert "GET /status/NIP27-AAAA-BBBB?token=" in tap.text and "GET /access/" in tap.text
    assert_absent([secret, link_secret], tap.text)


# --- gunicorn, run for real with the command lines the deployments use --------------------------------------------

def gunicorn_commands() -> dict[str, list[str]]:
    """Every gunicorn command line of the Dockerfile, the Procfile and docker-compose, by where it comes from."""
    found = {}
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    cmd = re.search(r"^CMD (\[.*\])$", dockerfile, re.MULTILINE)
    if cmd and json.loads(cmd.group(1))[0] == "gunicorn":
        found["Dockerfile"] = json.loads(cmd.group(1))
    for name, line in procfile().items():
        if line.startswith("gunicorn"):
            found[f"Procfile:{name}"] = shlex.split(line)
    for name, service in compose_services().items():
        command = service.get("command")
        if command:
            args = command if isinstance(command, list) else shlex.split(command)
            if args[0] == "gunicorn":
                found[f"compose:{name}"] = args
    return found


COMMANDS = gunicorn_commands()


def on_free_port(args: list[str], port: int) -> list[str]:
    """The command, bound to a free loopback port instead of its own address."""
    out, skip = [], False
    for arg in args:
        if skip:
            out.append(f"127.0.0.1:{port}")
            skip = False
            continue
        if arg in ("--bind", "-b"):
            skip = True
        elif arg.startswith("--bind="):
            arg = f"--bind=127.0.0.1:{port}"
        out.append(interpolate(arg, {}))
    return out


def app_of(args: list[str]) -> str:
    return re.search(r"services\.(\w+):create_app", " ".join(args)).group(1)


@pytest.fixture(scope="module")
def databases(intake_url, review_url, notify_url):
    subprocess.run([str(BIN / "python"), "-m", "services.intake", "seed"], cwd=ROOT, check=True, capture_output=True,
                   env={**os.environ, "INTAKE_DATABASE_URL": intake_url})
    return {"INTAKE_DATABASE_URL": intake_url, "REVIEW_DATABASE_URL": review_url, "NOTIFY_DATABASE_URL": notify_url}


def run_gunicorn(args: list[str], env: dict, workdir: Path):
    log_path = workdir / "gunicorn.log"
    log = open(log_path, "wb")
    process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    return process, log_path


def stop(process):
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_ready(url: str, process, log_path: Path):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log_path.read_text(errors="replace")
        try:
            if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise TimeoutError(log_path.read_text(errors="replace"))


def someone_new() -> dict:
    """A valid application from a person not seen before (each server run adds one to the module's database)."""
    name = "".join(secrets_module.choice(string.ascii_lowercase) for _ in range(10)).title()
    return application_payload(given_name=name, email=f"{name.lower()}@example.org")


def drive(service: str, url: str, databases: dict) -> list[str]:
    """Requests that carry secrets, for the service under test; returns the secrets sent."""
    bearer = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLXRoYXQtaXMtbm90LXJlYWw"
    if service == "intake":
        body = requests.post(f"{url}/api/v1/applications", timeout=30, files={
            "application": (None, json.dumps(someone_new())),
            "cv": ("cv.pdf", make_pdf("CV"), "application/pdf"),
            "academic_proof": ("proof.pdf", make_pdf("Proof"), "application/pdf")}).json()
        token = body["token"]
        # the confirmation email's link, as the outbox holds it for notify
        engine = create_engine(databases["INTAKE_DATABASE_URL"])
        try:
            with engine.connect() as connection:
                link = emailed_link(connection.scalars(select(OUTBOX.c.body).order_by(OUTBOX.c.id)),
                                    body["reference"])
        finally:
            engine.dispose()
        browser = requests.Session()
        opened = browser.get(f"{url}{link}", timeout=10)  # 303 to the portal, which the session then opens
        assert opened.status_code == 200 and body["reference"] in opened.text
        assert browser.get(f"{url}{link}", timeout=10).status_code == 410  # used
        assert requests.get(f"{url}/status/{body['reference']}", params={"token": token},
                            timeout=10).status_code == 401
        assert requests.get(f"{url}/api/v1/applications/{body['reference']}",
                            headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code == 200
        return [token, secret_of(link), bearer]
    if service == "review":
        response = requests.post(f"{url}/api/v1/auth/token", json={"email": EMAIL, "password": WRONG_PASSWORD},
                                 timeout=10)
        assert response.status_code in (401, 429)
        requests.get(f"{url}/api/v1/applications?token={bearer}", headers={"Authorization": f"Bearer {bearer}"},
                     timeout=10)
        return [WRONG_PASSWORD, bearer]
    requests.get(f"{url}/api/v1/notifications?token={bearer}", headers={"Authorization": f"Bearer {bearer}"},
                 timeout=10)
    return [bearer]


@pytest.mark.parametrize("source", sorted(COMMANDS))
def test_gunicorn_as_deployed_writes_no_secret(source, databases, tmp_path):
    args = COMMANDS[source]
    assert "--access-logfile" not in args and "--access-log" not in " ".join(args), \
        f"{source} turns on gunicorn's access log, whose lines carry ?token= keys and /access/ link secrets"
    port = free_port()
    service = app_of(args)
    env = {**os.environ, **databases, "VAR_DIR": str(tmp_path / "var"), "PATH": f"{BIN}:{os.environ['PATH']}",
           "BROKER_URL": "filesystem://", "SMTP_HOST": "127.0.0.1"}
    process, log_path = run_gunicorn(on_free_port(args, port), env, tmp_path)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, process, log_path)
        secrets = drive(service, url, databases)
    finally:
        stop(process)

    assert_absent(secrets, log_path.read_text(errors="replace"))


def test_gunicorn_access_log_if_turned_on_is_redacted(databases, tmp_path):
    """The safety net: someone adds --access-logfile back; the keys and link secrets still do not reach the log."""
    args = next(a for s, a in sorted(COMMANDS.items()) if app_of(a) == "intake") + ["--access-logfile", "-"]
    port = free_port()
    env = {**os.environ, **databases, "VAR_DIR": str(tmp_path / "var"), "PATH": f"{BIN}:{os.environ['PATH']}",
           "BROKER_URL": "filesystem://"}
    process, log_path = run_gunicorn(on_free_port(args, port), env, tmp_path)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, process, log_path)
        secrets = drive("intake", url, databases)
    finally:
        stop(process)

    text = log_path.read_text(errors="replace")
    # the access lines are written, without the key or the link's secret
    assert "GET /status/" in text and f"token={REDACTED}" in text and "GET /access/" in text
    assert_absent(secrets, text)
