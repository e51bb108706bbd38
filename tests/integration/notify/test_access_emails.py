"""Access links the applicant asked for: emailed once, in their language, with the link and its expiry."""
from datetime import datetime, timezone

import pytest

from services.notify.deliveries.tasks import handle_event
from shared.events import make_event, sign_event

EXPIRES = datetime(2027, 1, 31, 22, 59, tzinfo=timezone.utc)


def access_requested(*, purpose, language="en", reference="NIP27-LINK01"):
    return make_event("application.access_requested", {
        "reference": reference, "email": "zoe.lefevre@example.org", "name": "Zoé Lefèvre", "language": language,
        "link": f"http://intake.test/access/{purpose}/signed-token", "expires_at": EXPIRES, "purpose": purpose},
        producer="intake")


@pytest.mark.parametrize(("purpose", "language", "subject", "expiry"), [
    ("status", "en", "Your link to application NIP27-LINK01", "31 January 2027, 23:59 (Brussels time)"),
    ("draft", "en", "Continue your draft application NIP27-LINK01", "31 January 2027, 23:59 (Brussels time)"),
    ("erasure", "en", "Confirm the erasure of your application NIP27-LINK01", "31 January 2027, 23:59 (Brussels time)"),
    ("status", "fr", "Votre lien vers la candidature NIP27-LINK01", "31 janvier 2027, 23:59 (heure de Bruxelles)"),
    ("draft", "fr", "Reprenez votre brouillon de candidature NIP27-LINK01", "31 janvier 2027, 23:59 (heure de Bruxelles)"),
    ("erasure", "fr", "Confirmez l'effacement de votre candidature NIP27-LINK01", "31 janvier 2027, 23:59 (heure de Bruxelles)"),
    ("duplicate", "en", "Your application NIP27-LINK01: someone tried to apply again with this address",
     "31 January 2027, 23:59 (Brussels time)"),
    ("duplicate", "fr", "Votre candidature NIP27-LINK01 : une nouvelle candidature a été tentée avec cette adresse",
     "31 janvier 2027, 23:59 (heure de Bruxelles)"),
])
def test_access_link_is_emailed_with_its_expiry_in_brussels_time(app, mail_server, inbox_of, purpose, language, subject, expiry):
    event = access_requested(purpose=purpose, language=language)

    handle_event.run(event)
    handle_event.run(event)  # redelivered: still one email

    [mail] = inbox_of()
    assert mail["To"] == "zoe.lefevre@example.org"
    assert mail["Subject"] == subject
    link = f"http://intake.test/access/{purpose}/signed-token"
    text = mail.get_body(("plain",)).get_content()
    assert link in text and expiry in text and "Zoé Lefèvre" in text
    html = mail.get_body(("html",)).get_content()
    assert f'href="{link}"' in html and f'lang="{language}"' in html


def test_expiry_in_summer_is_told_in_brussels_summer_time(app, mail_server, inbox_of):
    event = access_requested(purpose="status", language="fr")
    event["data"]["expires_at"] = datetime(2027, 7, 1, 21, 30, tzinfo=timezone.utc).isoformat()
    sign_event(event)  # signed again after the change, as its producer would have

    handle_event.run(event)

    [mail] = inbox_of()
    assert "valable jusqu'au 1 juillet 2027, 23:30 (heure de Bruxelles)" in mail.get_body(("plain",)).get_content()
