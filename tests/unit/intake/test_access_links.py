"""Emailed links: one key per purpose, bound to the installation's APPLICANT_TOKEN_KEY, and they expire."""
import time

import itsdangerous.timed
import pytest

from services.intake.access import links

KEY, OTHER_KEY = "k" * 16 + "ey-of-this-installation", "another-installation-entirely-00"


def test_a_link_stands_for_its_reference_and_cannot_be_altered():
    signed = links.sign(token_key=KEY, purpose="status", reference="NIP27-AAAA-BBBB")
    assert links.verify(token_key=KEY, purpose="status", signed=signed, hours=1) == "NIP27-AAAA-BBBB"
    forged = links.sign(token_key=KEY, purpose="status", reference="NIP27-CCCC-DDDD")
    with pytest.raises(links.LinkInvalid):
        links.verify(token_key=KEY, purpose="status", signed=forged.split(".")[0] + "." + signed.split(".", 1)[1],
                     hours=1)


@pytest.mark.parametrize(("key", "purpose"), [(KEY, "draft"), (OTHER_KEY, "status")])
def test_a_link_opens_nothing_for_another_purpose_or_installation(key, purpose):
    signed = links.sign(token_key=KEY, purpose="status", reference="NIP27-AAAA-BBBB")
    with pytest.raises(links.LinkInvalid):
        links.verify(token_key=key, purpose=purpose, signed=signed, hours=1)


def test_a_link_expires(monkeypatch):
    two_hours_ago = time.time() - 2 * 3600
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: two_hours_ago)
    signed = links.sign(token_key=KEY, purpose="draft", reference="NIP27-AAAA-BBBB")
    monkeypatch.undo()
    with pytest.raises(links.LinkExpired):
        links.verify(token_key=KEY, purpose="draft", signed=signed, hours=1)
    assert links.verify(token_key=KEY, purpose="draft", signed=signed, hours=3) == "NIP27-AAAA-BBBB"
