"""A real relay with TLS (STARTTLS or implicit) and a login, its certificate self-signed in the test."""
import dataclasses
import datetime
import ipaddress
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from services.notify import create_app
from services.notify.db import db
from services.notify.deliveries.models import Delivery
from services.notify.deliveries.tasks import handle_event
from shared.config import SettingsError
from tests.conftest import rolled_back
from tests.integration.notify.conftest import Relay, read_mail

USER, PASSWORD = "notify", "relay-password-1"


@pytest.fixture
def certificate(tmp_path):
    """A self-signed certificate for 127.0.0.1: (cert file, key file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "relay.test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "relay.pem", tmp_path / "relay.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def server_context(certificate) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def authenticate(server, session, envelope, mechanism, auth_data):
    from aiosmtpd.smtp import AuthResult

    ok = auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok)


def send_one(settings, status_changed) -> Delivery:
    with create_app(settings).app_context(), rolled_back(db):
        event = status_changed(reference="NIP27-TLS001")
        handle_event.run(event)
        return db.session.scalars(select(Delivery).where(Delivery.event_id == event["id"])).one()


@pytest.fixture
def starttls_relay(notify_settings, certificate):
    relay = Relay(notify_settings.mail_dir, notify_settings.smtp_port, tls_context=server_context(certificate),
                  require_starttls=True, auth_required=True, authenticator=authenticate).start()
    yield relay
    relay.stop()


def test_starttls_and_login_deliver_to_a_relay_with_a_private_certificate(notify_settings, certificate,
                                                                          starttls_relay, status_changed):
    settings = dataclasses.replace(notify_settings, smtp_security="starttls", smtp_ca_file=str(certificate[0]),
                                   smtp_username=USER, smtp_password=PASSWORD)

    delivery = send_one(settings, status_changed)

    assert (delivery.state, delivery.attempts) == ("sent", 1)
    [mail] = read_mail(settings.mail_dir)
    assert mail["X-Application-Reference"] == "NIP27-TLS001"


def test_untrusted_certificate_is_never_sent_to_and_is_retried(notify_settings, starttls_relay, status_changed):
    settings = dataclasses.replace(notify_settings, smtp_security="starttls", smtp_username=USER,
                                   smtp_password=PASSWORD)

    delivery = send_one(settings, status_changed)

    assert (delivery.state, delivery.attempts) == ("pending", 1)
    assert "CERTIFICATE_VERIFY_FAILED" in delivery.last_error
    assert read_mail(settings.mail_dir) == []


def test_relay_demanding_starttls_is_a_setting_to_fix_so_the_email_waits(notify_settings, starttls_relay,
                                                                          status_changed):
    delivery = send_one(notify_settings, status_changed)

    assert (delivery.state, delivery.sent_at) == ("pending", None)
    assert "530" in delivery.last_error
    assert read_mail(notify_settings.mail_dir) == []


def test_implicit_tls_delivers(notify_settings, certificate, status_changed):
    relay = Relay(notify_settings.mail_dir, notify_settings.smtp_port, ssl_context=server_context(certificate))
    relay.start()
    try:
        settings = dataclasses.replace(notify_settings, smtp_security="tls", smtp_ca_file=str(certificate[0]))
        delivery = send_one(settings, status_changed)
    finally:
        relay.stop()

    assert delivery.state == "sent"
    assert len(read_mail(settings.mail_dir)) == 1


def test_unknown_security_setting_refuses_to_start(notify_settings):
    with pytest.raises(SettingsError, match="SMTP_SECURITY"):
        create_app(dataclasses.replace(notify_settings, smtp_security="ssl3"))
