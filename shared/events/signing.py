"""Signed events: every envelope carries its producer's Ed25519 signature, and consumers refuse any other.

Reaching the broker must not be enough to change an application or send an email (docs/security.md): each
producing service (intake, review) signs the events it writes to its outbox with its own private key; the
consumers hold the public keys only. A signature is made over a canonical serialisation of the whole envelope
except its signatures (sorted keys, no spaces, UTF-8), so any changed field, the producer and the type included,
breaks it; and an event type is only accepted from the service that produces it, so review's key cannot vouch
for an `application.access_requested`, nor intake's for a `decision.released`.

An event whose data carries an emailed single-use link (`REDACTABLE`) is signed twice: `signature` over the
envelope as written, `redacted_signature` over the envelope without those fields, which intake's sync API
serves for reconciliation (with that signature as its `signature`): the link stays with the email and the event
still verifies.

Keys are registered once per process (`use_keys`, from Settings, when a service's app is built); several
public keys may be given for one producer (PEM blocks one after the other) while a key is being rotated.
"""
from __future__ import annotations

import base64
import binascii
import json
import logging

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

log = logging.getLogger(__name__)

# Which service produces each event type: no other producer's signature is accepted for it.
PRODUCERS: dict[str, str] = {
    "application.submitted": "intake",
    "application.checked": "intake",
    "dossier.rendered": "intake",
    "application.status_changed": "intake",
    "application.access_requested": "intake",
    "application.erased": "intake",
    "decision.released": "review",
    "review.assigned": "review",
    "review.unassigned": "review",
}
SIGNING_PRODUCERS = ("intake", "review")
SIGNATURE = "signature"
REDACTED_SIGNATURE = "redacted_signature"
# data fields a copy for reconciliation leaves out (intake's sync API): an email's single-use link
REDACTABLE = ("link", "link_expires_at")
_UNSIGNED = frozenset({SIGNATURE, REDACTED_SIGNATURE})

_signing: dict[str, Ed25519PrivateKey] = {}
_verify: dict[str, tuple[Ed25519PublicKey, ...]] = {}


class EventSigningError(RuntimeError):
    """This process holds no signing key for the producer it was asked to sign as."""


class EventSignatureError(ValueError):
    """The envelope is unsigned, wrongly signed, or signed by a service that does not produce its type."""


def use_keys(*, signing: dict[str, str | None] | None = None, verify: dict[str, str | None] | None = None) -> None:
    """Register this process's keys, by producer: PEM private keys to sign with, PEM public keys to verify with.

    A producer given None keeps what it had; nothing is ever removed (one process may build several apps)."""
    from shared.keys import load_private_key, load_public_keys

    for producer, pem in (signing or {}).items():
        if pem:
            _signing[producer] = load_private_key(pem)
    for producer, pem in (verify or {}).items():
        if pem:
            _verify[producer] = tuple(load_public_keys(pem))


def use_settings(settings) -> None:
    """The keys a service's Settings hold: its own signing key (when it produces), the public keys it was given."""
    use_keys(signing={p: getattr(settings, f"{p}_event_signing_key", None) for p in SIGNING_PRODUCERS},
             verify={p: getattr(settings, f"{p}_event_verify_key", None) for p in SIGNING_PRODUCERS})


def can_sign(producer: str) -> bool:
    return producer in _signing


def canonical(envelope: dict, *, redacted: bool = False) -> bytes:
    """The bytes a signature covers: the envelope less its signatures (less the redactable data when `redacted`)."""
    body = {key: value for key, value in envelope.items() if key not in _UNSIGNED}
    if redacted and isinstance(body.get("data"), dict):
        body["data"] = {key: value for key, value in body["data"].items() if key not in REDACTABLE}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(envelope: dict, *, key: Ed25519PrivateKey | None = None) -> dict:
    """`envelope` with its producer's signature(s), replacing any it had (the same dict, for chaining)."""
    if key is None:
        key = _signing.get(envelope["producer"])
        if key is None:
            raise EventSigningError(f"this process holds no event signing key for {envelope['producer']!r} "
                                    f"({str(envelope['producer']).upper()}_EVENT_SIGNING_KEY)")
    envelope.pop(REDACTED_SIGNATURE, None)
    envelope[SIGNATURE] = _b64(key.sign(canonical(envelope)))
    data = envelope.get("data")
    if isinstance(data, dict) and any(field in data for field in REDACTABLE):
        envelope[REDACTED_SIGNATURE] = _b64(key.sign(canonical(envelope, redacted=True)))
    return envelope


def redact(envelope: dict) -> dict:
    """A copy without the redactable data, signed by the producer's redacted signature (for the sync API)."""
    data = envelope.get("data")
    if not isinstance(data, dict) or not any(field in data for field in REDACTABLE):
        return dict(envelope)
    copy = {key: value for key, value in envelope.items() if key not in _UNSIGNED}
    copy["data"] = {key: value for key, value in data.items() if key not in REDACTABLE}
    if envelope.get(REDACTED_SIGNATURE):
        copy[SIGNATURE] = envelope[REDACTED_SIGNATURE]
    return copy


def verify(envelope) -> None:
    """Raise EventSignatureError unless `envelope` is signed by the service that produces its type."""
    if not isinstance(envelope, dict):
        raise EventSignatureError("not an envelope")
    signature, producer, event_type = envelope.get(SIGNATURE), envelope.get("producer"), envelope.get("type")
    if not signature or not isinstance(signature, str):
        raise EventSignatureError("unsigned event")
    if not isinstance(event_type, str) or PRODUCERS.get(event_type) is None:
        raise EventSignatureError("unknown event type")
    if producer != PRODUCERS[event_type]:
        raise EventSignatureError(f"{event_type} is not produced by {str(producer)[:32]!r}")
    keys = _verify.get(producer)
    if not keys:
        raise EventSignatureError(f"no verify key for {producer} ({producer.upper()}_EVENT_VERIFY_KEY)")
    try:
        raw = _unb64(signature)
        message = canonical(envelope)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise EventSignatureError("malformed signature or envelope") from exc
    for key in keys:
        try:
            key.verify(raw, message)
            return
        except InvalidSignature:
            continue
    raise EventSignatureError(f"bad signature for producer {producer}")


def worker_queues(worker) -> set[str]:
    """The queues a starting Celery worker consumes (`-Q`), or none known."""
    try:
        return set(worker.app.amqp.queues.consume_from or ())
    except AttributeError:
        return set()


def require_worker_keys(settings, *, signs: str | None = None, verifies: tuple[str, ...] = ()) -> None:
    """At a worker's start: refuse (SystemExit naming the variable) without the keys its events need. Celery logs
    and forgets what a signal's receiver raises, except SystemExit."""
    from shared.config import SettingsError

    needed = ([f"{signs}_event_signing_key"] if signs else []) + [f"{p}_event_verify_key" for p in verifies]
    try:
        settings.require(*needed)
    except SettingsError as exc:
        raise SystemExit(str(exc)) from None
