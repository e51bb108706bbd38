"""Expiring links emailed to applicants, signed with one key per purpose derived from APPLICANT_TOKEN_KEY."""
from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from shared.db import utcnow

PURPOSES = ("status", "draft")


class LinkExpired(Exception):
    """A genuine link, too old to be used."""


class LinkInvalid(Exception):
    """Not a link we made for this purpose."""


def _serializer(token_key: str, purpose: str) -> URLSafeTimedSerializer:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown link purpose {purpose!r}")
    # a key of its own per purpose: a draft link cannot open a status page, nor derive an applicant token
    key = hmac.new(token_key.encode(), f"intake.access-link.{purpose}".encode(), hashlib.sha256).hexdigest()
    return URLSafeTimedSerializer(key, salt=f"intake.access-link.{purpose}")


def sign(*, token_key: str, purpose: str, reference: str) -> str:
    """The URL-safe signed token that stands for `reference` in a `purpose` link."""
    return _serializer(token_key, purpose).dumps(reference)


def expires_at(hours: int) -> datetime:
    return utcnow() + timedelta(hours=hours)


def verify(*, token_key: str, purpose: str, signed: str, hours: int) -> str:
    """The reference a link stands for; LinkExpired or LinkInvalid otherwise."""
    try:
        reference = _serializer(token_key, purpose).loads(signed, max_age=hours * 3600)
    except SignatureExpired:
        raise LinkExpired(purpose) from None
    except BadSignature:
        raise LinkInvalid(purpose) from None
    if not isinstance(reference, str):
        raise LinkInvalid(purpose)
    return reference
