"""Fixtures for the resilience tier: the whole stack as real processes, disturbed while a burst runs."""
from __future__ import annotations

import pytest

from services.notify.mailcatcher import free_port
from tests.resilience.figures import FIGURES, table


def pytest_terminal_summary(terminalreporter):
    if FIGURES:
        terminalreporter.section("resilience figures")
        for line in table():
            terminalreporter.write_line(line)


@pytest.fixture
def ports():
    return {name: free_port() for name in ("intake", "review", "notify", "smtp")}
