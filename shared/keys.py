"""Key material: the Ed25519 staff-token and event-signing pairs, key checks, and `python -m shared.keys` for a fresh .env block.

`python -m shared.keys` prints new values for every key the stack needs, ready to paste into `.env`
(PEM on one line with literal \\n, which compose passes through and Settings turns back into lines).
"""
from __future__ import annotations

import re
import secrets

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shared.config import KEYS, SYMMETRIC_KEYS
from shared.documents import new_documents_key

SYMMETRIC_ENV = tuple(KEYS[name] for name in SYMMETRIC_KEYS)


def generate_signing_key() -> str:
    """A new Ed25519 private key, PKCS#8 PEM, unencrypted (the file or variable holding it is the secret)."""
    key = Ed25519PrivateKey.generate()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def public_key_pem(private_pem: str) -> str:
    """The public half of an Ed25519 private key; ValueError when it is not one."""
    key = _load_private(private_pem)
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _load_private(pem: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError("not a PEM private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("not an Ed25519 private key")
    return key


def _load_public(pem: str) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError) as exc:
        raise ValueError("not a PEM public key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def load_private_key(pem: str) -> Ed25519PrivateKey:
    """An Ed25519 private key from PEM; ValueError when it is not one."""
    return _load_private(pem)


def load_public_keys(text: str) -> list[Ed25519PublicKey]:
    """Every Ed25519 public key in `text` (PEM blocks one after the other: the current key and, while
    rotating, the previous one); ValueError when there is none or one is not an Ed25519 public key."""
    blocks = re.findall(r"-----BEGIN PUBLIC KEY-----.*?-----END PUBLIC KEY-----", text or "", re.S)
    if not blocks:
        raise ValueError("not a PEM public key")
    return [_load_public(block + "\n") for block in blocks]


def check_private_key(pem: str) -> list[str]:
    try:
        _load_private(pem)
    except ValueError as exc:
        return [f"is {exc} (generate a pair with `python -m shared.keys`)"]
    return []


def check_public_key(pem: str) -> list[str]:
    try:
        load_public_keys(pem)
    except ValueError as exc:
        return [f"is {exc} (generate a pair with `python -m shared.keys`)"]
    return []


def check_key_pair(private_pem: str, public_pem: str, *, signing_env: str = "STAFF_SIGNING_KEY") -> list[str]:
    """A signature by the private key must verify with the public key (the first of several, the current one),
    or the service's own tokens or events would be refused."""
    message = b"nip key pair check"
    try:
        load_public_keys(public_pem)[0].verify(_load_private(private_pem).sign(message), message)
    except InvalidSignature:
        return [f"does not match {signing_env}"]
    except ValueError as exc:
        return [str(exc)]
    return []


def new_keys() -> dict[str, str]:
    """Fresh values for every key, by environment variable (PEM with real newlines)."""
    keys = {name: secrets.token_urlsafe(48) for name in SYMMETRIC_ENV}
    private = generate_signing_key()
    keys.update(STAFF_SIGNING_KEY=private, STAFF_VERIFY_KEY=public_key_pem(private))
    # events: one pair per producing service; the private key to its publishing processes, the public to consumers
    for producer in ("INTAKE", "REVIEW"):
        private = generate_signing_key()
        keys[f"{producer}_EVENT_SIGNING_KEY"] = private
        keys[f"{producer}_EVENT_VERIFY_KEY"] = public_key_pem(private)
    # documents at rest: one entry now; on rotation put the new one first (docs/security.md)
    keys["DOCUMENTS_KEYS"] = new_documents_key()
    # Prometheus's bearer token for the web apps' /metrics
    keys["METRICS_TOKEN"] = secrets.token_urlsafe(32)
    return keys


def env_block() -> str:
    """New values for every key, as .env lines (PEM on one line, newlines written as \\n)."""
    lines = []
    for name, value in new_keys().items():
        if value.startswith("-----BEGIN"):
            one_line = value.strip().replace("\n", "\\n")
            lines.append(f'{name}="{one_line}"')
        else:
            lines.append(f"{name}={value}")
    return "\n".join(lines) + "\n"


def main() -> None:
    print("# New keys for .env (generated by `python -m shared.keys`); keep this file 0600.")
    print(env_block(), end="")


if __name__ == "__main__":
    main()
