"""Run the stack's processes on this host, as production (compose) or embedded mode (Procfile) runs them."""
from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
LONG_RUNNING_COMPOSE = ("intake", "review", "notify", "worker-checks", "worker-render", "worker-review",
                        "worker-notify", "relay", "beat")
_INTERPOLATION = re.compile(r"\$\{(\w+)(?::?([-?])([^}]*))?\}")


def interpolate(value: str, env: dict) -> str:
    """Compose's `${VAR}`, `${VAR:-default}` and `${VAR:?error}`."""

    def _one(match):
        name, kind, arg = match.groups()
        if env.get(name):
            return env[name]
        if kind == "?":
            raise KeyError(f"{name}: {arg}")
        return arg or ""

    return _INTERPOLATION.sub(_one, value)


def compose_services() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def procfile() -> dict[str, str]:
    lines = (ROOT / "deploy" / "Procfile.embedded").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip() and not line.startswith("#"))


class Stack:
    """Processes started in their own process groups, stopped together; logs kept per process."""

    def __init__(self, workdir: Path, env: dict):
        self.workdir, self.env = workdir, {**os.environ, **env, "PATH": f"{BIN}:{os.environ['PATH']}"}
        self.env.pop("PYTHONPATH", None)
        self.processes: dict[str, subprocess.Popen] = {}
        (workdir / "logs").mkdir(parents=True, exist_ok=True)

    def run_once(self, name: str, command: list[str] | str, env: dict | None = None) -> None:
        args = command if isinstance(command, list) else ["bash", "-c", command]
        result = subprocess.run(args, cwd=ROOT, env={**self.env, **(env or {})}, capture_output=True, text=True,
                                timeout=300)
        if result.returncode != 0:
            raise RuntimeError(f"{name} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")

    def start(self, name: str, command: list[str] | str, env: dict | None = None) -> None:
        args = command if isinstance(command, list) else ["bash", "-c", f"exec {command}"]
        log = open(self.workdir / "logs" / f"{name}.log", "wb")
        self.processes[name] = subprocess.Popen(args, cwd=ROOT, env={**self.env, **(env or {})}, stdout=log,
                                                stderr=subprocess.STDOUT, start_new_session=True)

    def wait_http(self, url: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                if requests.get(url, timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{url} did not answer\n{self.logs()}")

    def check_alive(self) -> None:
        dead = {name: p.returncode for name, p in self.processes.items() if p.poll() is not None}
        if dead:
            raise RuntimeError(f"processes exited: {dead}\n{self.logs()}")

    def logs(self, tail: int = 40) -> str:
        out = []
        for path in sorted((self.workdir / "logs").glob("*.log")):
            lines = path.read_text(errors="replace").splitlines()[-tail:]
            out.append(f"==== {path.name}\n" + "\n".join(lines))
        return "\n".join(out)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in self.processes.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def compose_command(service: dict, ports: dict[int, int]) -> list[str]:
    """The service's compose command, with its published port moved to a free one on loopback."""
    command = service["command"]
    command = command if isinstance(command, list) else shlex.split(command)
    rewritten = []
    for arg in command:
        for inside, outside in ports.items():
            arg = arg.replace(f"0.0.0.0:{inside}", f"127.0.0.1:{outside}")
        rewritten.append(arg)
    return rewritten


def compose_environment(service: dict, env: dict, overrides: dict) -> dict:
    """The service's compose environment, interpolated, then pointed at this host's servers."""
    environment = service.get("environment", {})
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    resolved = {k: interpolate(str(v), env) for k, v in environment.items() if v is not None}
    unknown = set(overrides) - set(resolved)
    assert not unknown, f"compose gives the service no {unknown}"
    return {**resolved, **overrides}
