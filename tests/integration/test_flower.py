"""Flower, the optional queue dashboard: only with the ops profile, only on loopback, never without a login."""
from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml

from services.notify.mailcatcher import free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def flower_service() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["flower"]


def test_flower_is_optional_and_published_on_loopback_only():
    service = flower_service()

    assert service["profiles"] == ["ops"]
    assert service["ports"] == ["127.0.0.1:5555:5555"]
    assert not {"INTAKE_DATABASE_URL", "REVIEW_DATABASE_URL", "NOTIFY_DATABASE_URL"} & set(service["environment"])


def test_flower_is_pinned_in_the_ops_extra_not_the_main_dependencies():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

    assert [d for d in project["optional-dependencies"]["ops"] if d.startswith("flower==")]
    assert not [d for d in project["dependencies"] if d.lower().startswith("flower")]


def _script() -> list[str]:
    """The compose command as the container's shell runs it (`$$` is compose's escape for `$`)."""
    command = flower_service()["command"]
    return [word.replace("$$", "$") for word in (command if isinstance(command, list) else shlex.split(command))]


def test_flower_refuses_to_start_without_basic_auth():
    env = {"PATH": f"{BIN}:{os.environ['PATH']}", "BROKER_URL": "redis://127.0.0.1:1/0", "FLOWER_BASIC_AUTH": ""}

    result = subprocess.run(_script(), env=env, capture_output=True, text=True, timeout=60)

    assert result.returncode != 0
    assert "set FLOWER_BASIC_AUTH" in result.stderr


def test_flower_answers_only_with_its_login(redis_server, tmp_path):
    pytest.importorskip("flower", reason="flower is in the ops extra: pip install -e '.[test,ops]' (make install does)")
    port = free_port()
    env = {"PATH": f"{BIN}:{os.environ['PATH']}", "HOME": str(tmp_path), "BROKER_URL": redis_server.url,
           "FLOWER_BASIC_AUTH": "ops:correct-horse-battery", "FLOWER_PERSISTENT": "False"}
    script = [word.replace("--address=0.0.0.0", "--address=127.0.0.1").replace("--port=5555", f"--port={port}")
              for word in _script()]
    with open(tmp_path / "flower.log", "wb") as log:
        process = subprocess.Popen(script, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}/api/workers"
        deadline = time.monotonic() + 60
        while True:
            try:
                anonymous = requests.get(url, timeout=5)
                break
            except requests.ConnectionError:
                assert process.poll() is None and time.monotonic() < deadline, (tmp_path / "flower.log").read_text()
                time.sleep(0.3)

        assert anonymous.status_code == 401
        assert requests.get(url, auth=("ops", "wrong-password"), timeout=5).status_code == 401
        assert requests.get(url, auth=("ops", "correct-horse-battery"), timeout=10).status_code == 200
    finally:
        os.killpg(process.pid, 15)
        process.wait(20)
