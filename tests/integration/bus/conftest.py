"""Bus fixtures: each service's app on its own freshly migrated PostgreSQL database, committed for real
(dead letters are written in transactions of their own, and commands run as separate processes)."""
from __future__ import annotations

import dataclasses
import os
import secrets
import subprocess

import pytest

from tests.conftest import migrated_database
from tests.integration.bus.helpers import BIN, ROOT, key_environment


@pytest.fixture
def databases():
    return {name: migrated_database(name, "_bus") for name in ("intake", "review", "notify")}


@pytest.fixture
def bus_settings(settings, databases):
    return dataclasses.replace(settings, sync_api_key="test-sync-" + secrets.token_urlsafe(32),
                               **{f"{name}_database_url": url for name, url in databases.items()})


@pytest.fixture
def command(bus_settings, tmp_path):
    """Run `python -m services.<svc> ...` as its own process, against this test's databases."""
    env = {**os.environ, **key_environment(), "VAR_DIR": str(tmp_path / "cmd-var"), "BROKER_URL": "",
           "INTAKE_DATABASE_URL": bus_settings.intake_database_url,
           "REVIEW_DATABASE_URL": bus_settings.review_database_url,
           "NOTIFY_DATABASE_URL": bus_settings.notify_database_url,
           "SYNC_API_KEY": bus_settings.sync_api_key, "ADMIN_EMAIL": "", "ADMIN_PASSWORD": ""}
    env.pop("PYTHONPATH", None)

    def _run(service: str, *args: str, extra_env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([str(BIN / "python"), "-m", f"services.{service}", *args], cwd=ROOT,
                              env={**env, **(extra_env or {})}, capture_output=True, text=True, timeout=120)

    return _run
