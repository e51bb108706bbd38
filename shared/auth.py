"""Staff bearer tokens: signed by review with its Ed25519 private key, verified anywhere with the public key.

Only review holds the signing key, so a service that can verify (notify) cannot mint; and no symmetric
key of another service (intake's session or applicant-token keys) can produce a token that verifies.
Access tokens live minutes: review's refresh endpoint re-checks the user before issuing the next one.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import jwt

log = logging.getLogger(__name__)

STAFF_ACCESS_TOKEN_TTL = 900  # seconds
STAFF_ROLES = frozenset({"admin", "coordinator", "reviewer"})
ISSUER = "nip-review"
AUDIENCE = "nip-staff"
ALGORITHM = "EdDSA"
_REQUIRED_CLAIMS = ["sub", "email", "role", "departments", "iat", "exp", "iss", "aud", "typ"]
# Clocks of the services differ by a little; never by minutes.
_LEEWAY_SECONDS = 10


@dataclass(frozen=True)
class StaffIdentity:
    user_id: int
    email: str
    role: str  # admin | coordinator | reviewer
    departments: tuple[str, ...]

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def issue_staff_token(signing_key_pem: str, identity: StaffIdentity, *, ttl: int = STAFF_ACCESS_TOKEN_TTL) -> str:
    now = int(time.time())
    claims = {
        "sub": str(identity.user_id),  # RFC 7519: a string
        "email": identity.email,
        "role": identity.role,
        "departments": list(identity.departments),
        "iat": now,
        "exp": now + ttl,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "typ": "access",
    }
    return jwt.encode(claims, signing_key_pem, algorithm=ALGORITHM)


def verify_staff_token(verify_key_pem: str, token: str) -> StaffIdentity | None:
    """The identity a token carries, or None when it is forged, malformed, expired or not a staff access token."""
    if not token or not isinstance(token, str):
        return None
    try:
        # algorithms is fixed: an HS256 token "signed" with the public key or an alg=none token never verifies.
        claims = jwt.decode(
            token, verify_key_pem, algorithms=[ALGORITHM], audience=AUDIENCE, issuer=ISSUER,
            leeway=_LEEWAY_SECONDS, options={"require": _REQUIRED_CLAIMS},
        )
    except jwt.PyJWTError as exc:
        log.info("staff token refused: %s", type(exc).__name__)
        return None
    role, departments = claims["role"], claims["departments"]
    if claims["typ"] != "access" or not isinstance(role, str) or role not in STAFF_ROLES:
        log.info("staff token refused: not a staff access token")
        return None
    if not isinstance(departments, list) or not all(isinstance(d, str) for d in departments):
        log.info("staff token refused: malformed departments")
        return None
    try:
        user_id = int(claims["sub"])
    except (TypeError, ValueError):
        log.info("staff token refused: malformed subject")
        return None
    return StaffIdentity(user_id=user_id, email=str(claims["email"]), role=role, departments=tuple(departments))


def bearer_token(authorization_header: str | None) -> str | None:
    if authorization_header and authorization_header.lower().startswith("bearer "):
        return authorization_header[7:].strip() or None
    return None
