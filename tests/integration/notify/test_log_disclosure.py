"""What notify's log tells whom: a server answer quoting the candidate's address, event ids, for each role.

The attack (issue 23, items 3 and 4): a reviewer in a blind round reads the log of an application assigned to them;
the recipient is blanked, but the mail server's refusal quoted the address (`550 5.1.1 <jana.novak@...>`), and
`event_id` is a handle on intake's internal sync API.
"""
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from services.notify.db import db
from services.notify.deliveries.models import Delivery
from services.notify.deliveries.smtp import without_addresses
from services.notify.deliveries.tasks import handle_event
from tests.integration.notify.conftest import make_review_assigned, staff_token_headers

ADDRESS = "jana.novak@example.org"


class _QuotingRelay:
    """A real server that refuses every recipient the way Postfix does: quoting the address."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown in virtual mailbox table"


@pytest.fixture
def quoting_relay(notify_settings):
    controller = Controller(_QuotingRelay(), hostname="127.0.0.1", port=notify_settings.smtp_port)
    controller.start()
    yield
    controller.stop()


@pytest.fixture
def refused(app, quoting_relay, status_changed):
    """An email to Jana that the server refused, on an application of department ACO assigned to reviewer 7."""
    event = status_changed(reference="NIP27-LEAK01", email=ADDRESS, name="Jana Novák", departments=["ACO"])
    handle_event.run(event)
    handle_event.run(make_review_assigned(reference="NIP27-LEAK01", reviewer_id=7))
    return event


def test_the_servers_answer_is_stored_without_the_address(refused):
    delivery = db.session.scalars(select(Delivery).where(Delivery.event_id == refused["id"])).one()

    assert delivery.state == "failed"
    assert delivery.last_error == ("recipient refused: 550 5.1.1 <[address]>: Recipient address rejected: "
                                   "User unknown in virtual mailbox table")
    assert "novak" not in delivery.last_error


@pytest.mark.parametrize("role, user_id, departments, sees_recipient", [
    ("reviewer", 7, (), False),
    ("coordinator", 3, ("ACO",), True),
])
def test_staff_other_than_admins_read_neither_the_servers_answer_nor_the_event_id(
        client, notify_settings, refused, role, user_id, departments, sees_recipient):
    headers = staff_token_headers(notify_settings, role=role, user_id=user_id, departments=departments)

    response = client.get("/api/v1/notifications", query_string={"reference": "NIP27-LEAK01"}, headers=headers)

    [row] = response.json["items"]
    assert (row["state"], row["template"]) == ("failed", "submitted/en")  # the log itself is still theirs
    assert row["last_error"] is None and row["event_id"] is None
    assert row["recipient"] == (ADDRESS if sees_recipient else None)
    assert "novak" not in response.get_data(as_text=True) or sees_recipient
    assert refused["id"] not in response.get_data(as_text=True)


def test_an_admin_reads_the_answer_and_the_event_id(client, notify_settings, refused):
    headers = staff_token_headers(notify_settings, role="admin", user_id=1)

    [row] = client.get("/api/v1/notifications", headers=headers).json["items"]

    assert row["event_id"] == refused["id"] and row["recipient"] == ADDRESS
    assert row["last_error"].startswith("recipient refused: 550 5.1.1 <[address]>: Recipient address rejected")


@pytest.mark.parametrize("answer, expected", [
    ("550 5.1.1 <jana.novak@example.org>: Recipient address rejected",
     "550 5.1.1 <[address]>: Recipient address rejected"),
    ("550 5.1.1 jana.novak@example.org... User unknown", "550 5.1.1 [address]... User unknown"),
    ('550 "jana novak"@example.org unknown', "550 [address] unknown"),
    ("550 5.1.2 jana@[192.0.2.7]: domain literal refused", "550 5.1.2 [address]: domain literal refused"),
    ("552 <zoé.lefèvre@exämple.org> over quota; also to <b@example.org>",
     "552 <[address]> over quota; also to <[address]>"),
    ("421 4.7.0 Try again later", "421 4.7.0 Try again later"),
])
def test_every_address_form_a_server_quotes_is_removed(answer, expected):
    assert without_addresses(answer) == expected
