"""A load generator for intake: realistic synthetic applications, sent concurrently, with a summary.

    from loadgen import submit
    summary = submit("http://127.0.0.1:5001", count=200, concurrency=4, seed=1)
"""
from __future__ import annotations

import collections
from dataclasses import dataclass, field


@dataclass
class Submitted:
    """One accepted application."""

    reference: str
    token: str
    email: str
    expected: str  # expected final status: "under_review" | "ineligible" | "incomplete"
    language: str  # correspondence language


@dataclass
class Summary:
    sent: int
    accepted: list[Submitted]
    refused: collections.Counter  # by error code, or "HTTP <status>" / "connection_error"
    seconds: float
    unexpected: collections.Counter = field(default_factory=collections.Counter)  # outcomes not planned for
    retries: int = 0  # transient failures retried with the same Idempotency-Key
    latencies: list[float] = field(default_factory=list)  # seconds per application, retries included

    @property
    def rate(self) -> float:
        """Applications sent per second."""
        return self.sent / self.seconds if self.seconds > 0 else 0.0

    @property
    def ok(self) -> bool:
        """Every application was accepted or refused as planned."""
        return not self.unexpected


from loadgen.client import submit  # noqa: E402  (the dataclasses above are what it returns)
from loadgen.generate import make_application  # noqa: E402

__all__ = ["Submitted", "Summary", "make_application", "submit"]
