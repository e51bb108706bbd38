"""Retry policy: exponential backoff, permanent SMTP refusals recognised."""
import smtplib

import pytest

from services.notify.deliveries.service import MAX_ATTEMPTS, retry_delay
from services.notify.deliveries.smtp import is_permanent


def test_retries_back_off_exponentially_and_are_capped_at_an_hour():
    delays = [retry_delay(attempt) for attempt in range(1, MAX_ATTEMPTS)]
    assert delays[:4] == [30, 60, 120, 240]
    assert all(later >= earlier for earlier, later in zip(delays, delays[1:]))
    assert retry_delay(30) == 3600


@pytest.mark.parametrize("error, permanent", [
    (ConnectionRefusedError(111, "Connection refused"), False),
    (smtplib.SMTPServerDisconnected("gone"), False),
    (smtplib.SMTPDataError(451, b"try later"), False),
    (smtplib.SMTPDataError(554, b"rejected"), True),
    (smtplib.SMTPRecipientsRefused({"a@example.org": (550, b"no such user")}), True),
    (smtplib.SMTPRecipientsRefused({"a@example.org": (450, b"mailbox busy")}), False),
])
def test_only_definitive_refusals_stop_the_retries(error, permanent):
    assert is_permanent(error) is permanent
