"""The embedded mail catcher and the `/mailbox` pages that show what it caught."""
import dataclasses
import smtplib
from email.message import EmailMessage

from services.notify import create_app
from services.notify.deliveries.tasks import handle_event
from services.notify.mailcatcher import MailCatcher, free_port


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
