"""What the benchmarks share: the machine, private databases and Redis, the stack's processes, the table."""
from __future__ import annotations

import os
import platform
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from services.notify.mailcatcher import free_port  # noqa: E402
from tests.e2e.stack import compose_services  # noqa: E402

PG_SERVER = os.environ.get("BENCH_PG_SERVER", "postgresql+psycopg://postgres@127.0.0.1:5432")
RESULTS = ROOT / "bench" / "results"
ADMIN_EMAIL = "bench-admin@example.org"


@dataclass
class Row:
    """One line of a benchmark's table."""

    name: str
    unit: str
    figure: float
    baseline: float
    aim: str  # e.g. "≥ 0.5" or "≤ 1.3"
    notes: str = ""

    @property
    def ratio(self) -> float:
        return self.figure / self.baseline if self.baseline else float("nan")

    @property
    def met(self) -> bool:
        bound = float(self.aim.split()[-1])
        return self.ratio >= bound if self.aim.startswith("≥") else self.ratio <= bound


def markdown(rows: list[Row]) -> str:
    lines = ["| benchmark | figure | baseline | ratio | aim | met |", "| --- | ---: | ---: | ---: | --- | --- |"]
    for row in rows:
        lines.append(f"| {row.name} | {row.figure:.1f} {row.unit} | {row.baseline:.1f} {row.unit} | "
                     f"{row.ratio:.2f}× | {row.aim} | {'yes' if row.met else 'no'} |")
    notes = [f"- {row.name}: {row.notes}" for row in rows if row.notes]
    return "\n".join(lines + ([""] + notes if notes else []))


def machine() -> str:
    """nproc, CPU model and RAM: a figure means little without them."""
    model = "unknown CPU"
    try:
        match = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        model = match.group(1).strip() if match else model
    except OSError:
        pass
    memory = ""
    try:
        kb = int(re.search(r"^MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text(), re.M).group(1))
        memory = f", {kb / 1024 / 1024:.1f} GiB RAM"
    except (OSError, AttributeError):
        pass
    return f"{os.cpu_count()} CPU ({model}){memory}, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def stop_cleanly_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so the stack, Redis and the databases this run made are cleaned up."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@contextmanager
def postgres_databases(*names: str):
    """Fresh PostgreSQL databases private to this bench run (dropped at the end); yields their URLs."""
    from sqlalchemy import create_engine, text

    suffix = f"{os.getpid()}_{secrets.token_hex(2)}"
    real = {name: f"nip_bench_{name}_{suffix}" for name in names}
    admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for database in real.values():
            conn.execute(text(f'CREATE DATABASE "{database}"'))
    try:
        yield {name: f"{PG_SERVER}/{database}" for name, database in real.items()}
    finally:
        with admin.connect() as conn:
            for database in real.values():
                conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def redis_server(workdir: Path):
    """A private redis-server on a free loopback port, configured as compose's (AOF, noeviction)."""
    import redis

    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen([shutil.which("redis-server") or "/usr/bin/redis-server", "--bind", "127.0.0.1",
                                "--port", str(port), "--dir", str(workdir), "--save", "", "--appendonly", "yes",
                                "--maxmemory-policy", "noeviction"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                redis.Redis(port=port, socket_timeout=1).ping()
                break
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise TimeoutError("redis-server did not start") from None
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)


def admin_password() -> str:
    # long and mixed, so it passes any password policy review applies to ADMIN_PASSWORD
    return f"Bench-{secrets.token_urlsafe(18)}-9a"


def compose_secrets(password: str) -> dict[str, str]:
    """A value for every variable docker-compose.yml requires (`${NAME:?...}`), generated for this run: the keys
    as `python -m shared.keys` makes them, the first admin, and a token for any other."""
    from shared.keys import new_keys

    text = (ROOT / "docker-compose.yml").read_text()
    required = set(re.findall(r"\$\{(\w+):\?", text))
    values = {**{name: secrets.token_urlsafe(32) for name in required}, **new_keys()}
    values.update(ADMIN_EMAIL=ADMIN_EMAIL, ADMIN_PASSWORD=password)
    return values


def compose_service(name: str) -> dict:
    return compose_services()[name]


def concurrency_of(command: str | list[str], default: int = 1) -> int:
    """The `--concurrency N` (or `-c N`) of a celery worker command line."""
    args = command if isinstance(command, list) else command.split()
    for flag in ("--concurrency", "-c"):
        if flag in args:
            return int(args[args.index(flag) + 1])
        for arg in args:
            if arg.startswith(f"{flag}="):
                return int(arg.split("=", 1)[1])
    return default


def write_results(title: str, rows: list[Row], extra: str = "") -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{title}.md"
    path.write_text(f"{markdown(rows)}\n\nMachine: {machine()}\n{extra}")
    return path
