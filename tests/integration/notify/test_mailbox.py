"""The embedded mail catcher and the `/mailbox` pages that show what it caught."""
import dataclasses
import os
import shlex
import signal
import smtplib
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path

import requests

from services.notify import create_app
from services.notify.deliveries.tasks import handle_event
from services.notify.mailcatcher import MailCatcher, free_port
from tests.e2e.stack import ROOT, interpolate, procfile


def send(port, subject, body="Hello", to="someone@example.org"):
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "office@example.org", to, subject
    message.set_content(body)
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.send_message(message)


def test_catcher_keeps_each_message_as_an_eml_file_in_arrival_order(tmp_path):
    port = free_port()
    with MailCatcher(tmp_path / "mail", port=port) as catcher:
        for number in range(3):
            send(port, f"Message {number}")
        files = catcher.messages()

    assert [path.suffix for path in files] == [".eml"] * 3
    assert [f"Subject: Message {n}" in path.read_text() for n, path in enumerate(files)] == [True] * 3
    assert sorted(p.name for p in (tmp_path / "mail").iterdir()) == [p.name for p in files]


def test_catcher_can_be_stopped_and_started_again_on_the_same_port(tmp_path):
    port = free_port()
    catcher = MailCatcher(tmp_path, port=port).start()
    catcher.stop()
    catcher.start()
    try:
        send(port, "Again")
    finally:
        catcher.stop()
    assert len(catcher.messages()) == 1


def test_mailbox_lists_caught_mail_newest_first(app, client, mail_server, status_changed):
    handle_event.run(status_changed(reference="NIP27-OLD001", new="submitted"))
    handle_event.run(status_changed(reference="NIP27-NEW002", new="submitted", language="fr",
                                    email="marc@example.org"))

    page = client.get("/mailbox")

    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.index("NIP27-NEW002") < html.index("NIP27-OLD001")
    assert "marc@example.org" in html
    assert "Nous avons bien reçu votre candidature NIP27-NEW002" in html


def test_mailbox_shows_one_message_text(app, client, mail_server, status_changed):
    handle_event.run(status_changed(reference="NIP27-ONE001", new="withdrawn", old="submitted"))
    [item] = client.get("/mailbox.json").json

    page = client.get(f"/mailbox/{item['name']}")

    assert page.status_code == 200
    assert "Your reference: NIP27-ONE001" in page.get_data(as_text=True)
    assert set(item) == {"name", "to", "subject", "date", "text"}
    assert item["subject"] == "Your application NIP27-ONE001 has been withdrawn"
    assert item["to"] == "zoe.lefevre@example.org"
    assert "Dear Zoé Lefèvre," in item["text"]


def test_mailbox_escapes_what_it_shows(app, client, mail_server):
    send(mail_server.port, "<script>alert(1)</script>", body="<img src=x onerror=alert(1)>")
    [item] = client.get("/mailbox.json").json

    listing = client.get("/mailbox").get_data(as_text=True)
    message = client.get(f"/mailbox/{item['name']}").get_data(as_text=True)

    assert "<script>alert(1)</script>" not in listing
    assert "&lt;script&gt;" in listing
    assert "<img src=x" not in message


def test_mailbox_serves_only_caught_messages(app, client, mail_server, notify_settings):
    (notify_settings.var_dir / "secret_key").write_text("s3cret")

    for name in ["..%2Fsecret_key", "secret_key", "00000000000000000001-000000000000.eml"]:
        assert client.get(f"/mailbox/{name}").status_code == 404


def test_mailbox_is_empty_before_any_mail(app, client):
    assert client.get("/mailbox.json").json == []
    assert "No mail yet" in client.get("/mailbox").get_data(as_text=True)


def test_mailbox_does_not_exist_with_a_real_mail_relay(notify_settings):
    app = create_app(dataclasses.replace(notify_settings, smtp_host="smtp.example.org"))
    client = app.test_client()

    assert client.get("/mailbox").status_code == 404
    assert client.get("/mailbox.json").status_code == 404


def connection(address: str, host: str, server_port: str = "5003") -> dict:
    """The WSGI view of a connection from `address` to a server listening on `server_port`, naming `host`."""
    return {"REMOTE_ADDR": address, "HTTP_HOST": host, "SERVER_PORT": server_port}


def test_mailbox_refuses_connections_from_other_machines(app, client, mail_server):
    send(mail_server.port, "Private")

    for address in ["192.0.2.10", "10.0.0.5", "::ffff:192.0.2.10", "2001:db8::1", ""]:
        for path in ["/mailbox", "/mailbox.json"]:
            response = client.get(path, environ_base={"REMOTE_ADDR": address})
            assert response.status_code == 404, (address, path)
            assert b"Private" not in response.data


def test_mailbox_answers_loopback_addresses_under_a_loopback_name(app, client, mail_server):
    send(mail_server.port, "Local")

    for address in ["127.0.0.1", "127.0.0.2", "::1", "::ffff:127.0.0.1"]:
        for host in ["127.0.0.1:5003", "localhost:5003", "[::1]:5003", "LOCALHOST:5003"]:
            response = client.get("/mailbox.json", environ_overrides=connection(address, host))
            assert response.status_code == 200, (address, host)
            assert [m["subject"] for m in response.json] == ["Local"]


def test_mailbox_refuses_a_foreign_host_name_even_from_loopback(app, client, mail_server):
    """DNS rebinding: a page from evil.example whose name now resolves to 127.0.0.1 sends its own Host."""
    send(mail_server.port, "Private")

    for host in ["evil.example:5003", "evil.example", "127.0.0.1.evil.example:5003", "127.0.0.1:8080",
                 "localhost:5003.evil.example", "127.0.0.1", "0.0.0.0:5003"]:
        for path in ["/mailbox", "/mailbox.json"]:
            response = client.get(path, environ_overrides=connection("127.0.0.1", host))
            assert response.status_code == 403, (host, path)
            assert b"Private" not in response.data
            assert response.json["error"]["code"] == "forbidden"


def test_mailbox_pages_are_not_cached_or_framed(app, client):
    response = client.get("/mailbox")

    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_mailbox_does_not_exist_outside_embedded_mode(notify_settings):
    """A production stack (Redis broker) never serves the mailbox, even with a relay on this machine."""
    app = create_app(dataclasses.replace(notify_settings, broker_url="redis://127.0.0.1:1/0"))
    client = app.test_client()

    assert client.get("/mailbox").status_code == 404
    assert client.get("/mailbox.json").status_code == 404


def test_mailbox_under_gunicorn_as_make_run_starts_it(tmp_path, notify_database_url):
    """The Procfile's own command line: a browser on this machine gets the mail; a rebound name gets a 403."""
    port = free_port()
    env = {**os.environ, "VAR_DIR": str(tmp_path / "var"), "NOTIFY_PORT": str(port), "BROKER_URL": "filesystem://",
           "SMTP_HOST": "127.0.0.1", "NOTIFY_DATABASE_URL": notify_database_url,
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    command = shlex.split(interpolate(procfile()["notify"], env))
    with open(tmp_path / "gunicorn.log", "wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None and time.monotonic() < deadline, (tmp_path / "gunicorn.log").read_text()
            try:
                if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.2)

        assert requests.get(f"{url}/mailbox.json", timeout=10).status_code == 200
        assert requests.get(f"http://localhost:{port}/mailbox.json", timeout=10).status_code == 200
        rebound = requests.get(f"{url}/mailbox.json", headers={"Host": f"evil.example:{port}"}, timeout=10)
        assert rebound.status_code == 403 and rebound.json()["error"]["code"] == "forbidden"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(15)
