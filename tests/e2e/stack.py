"""Run the stack's processes on this host, as production (compose) or embedded mode (Procfile) runs them."""
from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import requests
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
LONG_RUNNING_COMPOSE = ("intake", "review", "notify", "worker-checks", "worker-render", "worker-review",
                        "worker-notify", "relay", "beat")
SERVICES = ("intake", "review", "notify")
ADMIN = {"email": "admin@example.org", "password": "correct horse battery staple"}
# the tests and benchmarks send their bursts from this host; intake limits every address unless told otherwise
LOAD_FROM_LOOPBACK = {"RATE_LIMIT_EXEMPT": "127.0.0.0/8"}
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
        self.commands: dict[str, tuple[list[str] | str, dict | None]] = {}
        self.service_env: dict[str, dict] = {}  # production mode: each compose service's environment
        (workdir / "logs").mkdir(parents=True, exist_ok=True)

    def run_once(self, name: str, command: list[str] | str, env: dict | None = None) -> str:
        args = command if isinstance(command, list) else ["bash", "-c", command]
        result = subprocess.run(args, cwd=ROOT, env={**self.env, **(env or {})}, capture_output=True, text=True,
                                timeout=300)
        if result.returncode != 0:
            raise RuntimeError(f"{name} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def start(self, name: str, command: list[str] | str, env: dict | None = None) -> None:
        args = command if isinstance(command, list) else ["bash", "-c", f"exec {command}"]
        self.commands[name] = (command, env)
        log = open(self.workdir / "logs" / f"{name}.log", "ab")
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

    def wait_workers_ready(self, timeout: float = 60) -> None:
        """Until every Celery worker has started its pool (a child lost before that stops the worker)."""
        deadline = time.monotonic() + timeout
        for name in self.workers():
            log = self.workdir / "logs" / f"{name}.log"
            while " ready." not in log.read_text(errors="replace"):
                self.check_alive()
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{name} did not get ready\n{self.logs()}")
                time.sleep(0.2)

    def stop_one(self, name: str, *, timeout: float = 15) -> None:
        """Stop one process (SIGTERM, then SIGKILL); `start_again` runs the same command later."""
        process = self.processes.pop(name)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def start_again(self, name: str) -> None:
        command, env = self.commands[name]
        self.start(name, command, env)

    def children(self, name: str) -> list[int]:
        """The pids of a process's children (a prefork worker's pool processes)."""
        parent, found = self.processes[name].pid, []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:  # exited meanwhile
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                found.append(int(entry.name))
        return found

    def workers(self) -> list[str]:
        """The names of the Celery worker processes (not beat)."""
        return [name for name, (command, _env) in self.commands.items() if name in self.processes
                and " worker " in f" {command if isinstance(command, str) else ' '.join(command)} "]

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

    def errors(self, last: int = 30) -> str:
        """The error lines every process logged (a 5xx's traceback among them), the `last` of each."""
        out = []
        for path in sorted((self.workdir / "logs").glob("*.log")):
            lines = [line[:3000] for line in path.read_text(errors="replace").splitlines()
                     if '"level": "error"' in line or line.startswith(("Traceback", "[ERROR]"))]
            if lines:
                out.append(f"==== {path.name}\n" + "\n".join(lines[-last:]))
        return "\n".join(out) or "(none)"

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
    # each process has only the database URLs it uses (its own role's): this host's databases replace those
    overrides = {k: v for k, v in overrides.items() if not k.endswith("_DATABASE_URL") or k in resolved}
    unknown = set(overrides) - set(resolved)
    assert not unknown, f"compose gives the service no {unknown}"
    return {**resolved, **overrides}


def production_secrets() -> dict[str, str]:
    """Fresh keys, as `python -m shared.keys` makes them, the first admin, and a database password the
    database URLs below make unused."""
    import secrets

    from shared.config import KEYS
    from shared.keys import new_keys

    keys = new_keys()
    for env_name in KEYS.values():
        keys.setdefault(env_name, secrets.token_urlsafe(48))
    databases = {variable: "unused-e2e-database-password" for variable in (
        "POSTGRES_PASSWORD", "INTAKE_DB_PASSWORD", "REVIEW_DB_PASSWORD", "NOTIFY_DB_PASSWORD", "RELAY_DB_PASSWORD",
        "BACKUP_DB_PASSWORD")}
    return {**keys, **databases, "REDIS_PASSWORD": "unused-e2e-redis-password",
            "ADMIN_EMAIL": ADMIN["email"], "ADMIN_PASSWORD": ADMIN["password"]}


@contextmanager
def production_processes(workdir: Path, ports: dict[str, int], *, databases: dict[str, str], broker_url: str,
                         secrets: dict[str, str] | None = None) -> Iterator[tuple[Stack, dict, Path]]:
    """Every compose service's own command and environment, against this host's PostgreSQL and a Redis.

    Yields the stack (its "smtp" process is the stand-in for Mailpit: a real SMTP server keeping what it
    receives as .eml files), the services' URLs and that mail folder.
    """
    secrets = secrets or production_secrets()
    mail_dir = workdir / "mail"
    urls = {name: f"http://127.0.0.1:{ports[name]}" for name in SERVICES}
    overrides = {
        "INTAKE_DATABASE_URL": databases["intake"], "REVIEW_DATABASE_URL": databases["review"],
        "NOTIFY_DATABASE_URL": databases["notify"], "BROKER_URL": broker_url,
        "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(ports["smtp"]),
        "DOCUMENTS_DIR": str(workdir / "documents"), "VAR_DIR": str(workdir / "var"),
        "INTAKE_URL": urls["intake"], "REVIEW_URL": urls["review"], "NOTIFY_URL": urls["notify"],
    }
    services = compose_services()
    stack = Stack(workdir, LOAD_FROM_LOOPBACK)
    stack.start("smtp", ["python", "-m", "services.notify.mailcatcher"],
                env={"SMTP_PORT": str(ports["smtp"]), "MAIL_DIR": str(mail_dir), "VAR_DIR": str(workdir / "var")})
    published = {5001: ports["intake"], 5002: ports["review"], 5003: ports["notify"]}
    stack.service_env = {name: compose_environment(services[name], secrets, overrides)
                         for name in ("migrate", *LONG_RUNNING_COMPOSE)}
    for env in stack.service_env.values():
        if "INTAKE_SYNC_URL" in env:  # compose's internal name for intake, on this host
            env["INTAKE_SYNC_URL"] = urls["intake"]
        if "REVIEW_INTERNAL_URL" in env:  # compose's internal name for review (privacy), on this host
            env["REVIEW_INTERNAL_URL"] = urls["review"]
    try:
        stack.run_once("migrate", compose_command(services["migrate"], published), env=stack.service_env["migrate"])
        for name in LONG_RUNNING_COMPOSE:
            stack.start(name, compose_command(services[name], published), env=stack.service_env[name])
        for url in urls.values():
            stack.wait_http(f"{url}/readyz")
        stack.wait_workers_ready()
        yield stack, urls, mail_dir
    finally:
        stack.stop()


def embedded_environment(workdir: Path, ports: dict[str, int]) -> dict[str, str]:
    """`make run`'s environment: every setting at its embedded default, under `workdir`/var."""
    from shared.config import KEYS

    env = {"VAR_DIR": str(workdir / "var"), "INTAKE_PORT": str(ports["intake"]),
           "REVIEW_PORT": str(ports["review"]), "NOTIFY_PORT": str(ports["notify"]), "SMTP_PORT": str(ports["smtp"]),
           "ADMIN_EMAIL": ADMIN["email"], "ADMIN_PASSWORD": ADMIN["password"], **LOAD_FROM_LOOPBACK}
    for name in ("INTAKE_DATABASE_URL", "REVIEW_DATABASE_URL", "NOTIFY_DATABASE_URL", "BROKER_URL",
                 "SMTP_HOST", "DOCUMENTS_DIR", "MAIL_DIR", "INTAKE_URL", "REVIEW_URL", "NOTIFY_URL", *KEYS.values()):
        env[name] = ""
    return env


@contextmanager
def embedded_processes(workdir: Path, ports: dict[str, int]) -> Iterator[tuple[Stack, dict, Path]]:
    """`make run`'s processes: SQLite, Celery over the filesystem, the local mail catcher."""
    stack = Stack(workdir, embedded_environment(workdir, ports))
    urls = {name: f"http://127.0.0.1:{ports[name]}" for name in SERVICES}
    try:
        for command in ("python -m services.intake migrate", "python -m services.review migrate",
                        "python -m services.notify migrate", "python -m services.intake seed"):
            stack.run_once(command, command)
        for name, command in procfile().items():
            stack.start(name, command)
        for url in urls.values():
            stack.wait_http(f"{url}/readyz")
        stack.wait_workers_ready()
        yield stack, urls, workdir / "var" / "mail"
    finally:
        stack.stop()
