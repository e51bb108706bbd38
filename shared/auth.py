"""Staff bearer tokens: issued by review, accepted by every service that serves staff."""
from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

STAFF_TOKEN_MAX_AGE = 12 * 3600


@dataclass(frozen=True)
class StaffIdentity:
    user_id: int
    email: str
    role: str  # admin | reviewer
    departments: tuple[str, ...]

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt="staff-token")


def issue_staff_token(secret_key: str, identity: StaffIdentity) -> str:
    return _serializer(secret_key).dumps(
        {"uid": identity.user_id, "email": identity.email, "role": identity.role,
         "departments": list(identity.departments)}
    )


def verify_staff_token(secret_key: str, token: str, *, max_age: int = STAFF_TOKEN_MAX_AGE) -> StaffIdentity | None:
    """The identity a token carries, or None when it is forged, malformed or expired."""
    try:
        claims = _serializer(secret_key).loads(token, max_age=max_age)
    except (BadSignature, SignatureExpired):
        return None
    return StaffIdentity(claims["uid"], claims["email"], claims["role"], tuple(claims["departments"]))


def bearer_token(authorization_header: str | None) -> str | None:
    if authorization_header and authorization_header.lower().startswith("bearer "):
        return authorization_header[7:].strip() or None
    return None
