"""The logging safety net: whatever is logged, tokens, bearer credentials and passwords come out redacted."""
import io
import json
import logging

import pytest

from shared.logging import REDACTED, JsonFormatter, RedactSecrets, redact

SECRET = "s3cr3t-VALUE_xyz"


@pytest.mark.parametrize("text", [
    f"GET /status/NIP27-AAAA-BBBB?token={SECRET}&lang=fr HTTP/1.1",
    f"GET /status/NIP27-AAAA-BBBB?lang=fr&TOKEN={SECRET}",
    f"Authorization: Bearer {SECRET}",
    f"authorization=bearer  {SECRET}",
    f'{{"email": "a@example.org", "password": "{SECRET}"}}',
    f"{{'password': '{SECRET}', 'email': 'a@example.org'}}",
    f'{{"new_password":"{SECRET}"}}',
    f"email=a%40example.org&password={SECRET}&csrf_token={SECRET}",
    f'{{"refresh_token": "{SECRET}"}}',
    f'{{"password": "with \\" quote {SECRET}"}}',
])
def test_secrets_in_text_are_redacted(text):
    cleaned = redact(text)

    assert SECRET not in cleaned
    assert REDACTED in cleaned


def test_what_is_not_secret_is_left_alone():
    text = "GET /status/NIP27-AAAA-BBBB?lang=fr&new=1 reference=NIP27-AAAA-BBBB status=200"

    assert redact(text) == text


def emitted(logger_name: str, *args, **kwargs) -> dict:
    """What one log call writes through a handler set up as `configure_logging` sets it up."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("test"))
    handler.addFilter(RedactSecrets())
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        logger.info(*args, **kwargs)
    finally:
        logger.removeHandler(handler)
    return json.loads(stream.getvalue())


def test_message_arguments_and_extras_are_redacted():
    entry = emitted("test.redaction", "login %s with %r", "a@example.org", {"password": SECRET},
                    extra={"token": SECRET, "authorization": f"Bearer {SECRET}", "url": f"/x?token={SECRET}",
                           "reference": "NIP27-AAAA-BBBB",
                           "details": {"user": {"password": SECRET}, "links": [f"/s?token={SECRET}"]}})

    assert SECRET not in json.dumps(entry)
    assert entry["token"] == entry["authorization"] == entry["details"]["user"]["password"] == REDACTED
    assert entry["url"] == f"/x?token={REDACTED}"
    assert entry["reference"] == "NIP27-AAAA-BBBB"


def test_exception_text_is_redacted():
    try:
        raise ValueError(f"bad request /status/X?token={SECRET}")
    except ValueError:
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(JsonFormatter("test"))
        handler.addFilter(RedactSecrets())
        logger = logging.getLogger("test.redaction.exc")
        logger.addHandler(handler)
        try:
            logger.exception("failed")
        finally:
            logger.removeHandler(handler)

    entry = json.loads(stream.getvalue())
    assert "ValueError" in entry["exc"] and SECRET not in entry["exc"]


def test_gunicorn_style_access_log_records_are_redacted():
    """gunicorn formats its access line from a dict of atoms: the filter sees the rendered line."""
    entry = emitted("test.redaction.access", '%(h)s "%(r)s" %(s)s',
                    {"h": "127.0.0.1", "r": f"GET /status/X?token={SECRET} HTTP/1.1", "s": "200"})

    assert SECRET not in entry["msg"] and "/status/X?token=" in entry["msg"]
