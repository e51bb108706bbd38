"""Intake submissions per second with two ~100 KB PDFs, under gunicorn with compose's settings, against a bare
Flask app (bench/bare_app.py) under the same gunicorn command line reading the same upload. Aim: ratio ≥ 0.5.

intake runs with its production settings: a PostgreSQL database created for this run on 127.0.0.1:5432 and a
private redis-server as broker (BROKER_URL), its compose command line (`gunicorn ... --workers 2 ...`) and
environment. Both servers get the same pre-encoded requests from the same client (threads with keep-alive
HTTP/1.1 connections), so the client's own cost is equal and small.

    python bench/submissions.py [--count 300] [--clients 4] [--doc-kb 100] [--profile]
"""
from __future__ import annotations

import argparse
import http.client
import json
import random
import tempfile
import threading
import time
from pathlib import Path

from common import (ROOT, Row, compose_secrets, compose_service, free_port, log, admin_password,
                    postgres_databases, redis_server, stop_cleanly_on_sigterm, write_results)
from tests.e2e.stack import LOAD_FROM_LOOPBACK, Stack, compose_command, compose_environment
from urllib3 import encode_multipart_formdata

from loadgen.documents import PDF, make_pdf
from loadgen.generate import plan_application


def requests_bodies(count: int, doc_kb: int, *, seed: int) -> list[tuple[bytes, str, str]]:
    """`count` distinct applicants, each with a CV and a proof of studies of about `doc_kb` KB, pre-encoded."""
    rng = random.Random(seed)
    bodies = []
    tag = f"{random.getrandbits(24):06x}"
    for serial in range(count):
        plan = plan_application(rng, kind="eligible", email_tag=f"b{tag}{serial}")
        author = f"{plan.payload['given_name']} {plan.payload['family_name']}"
        fields = {
            "application": json.dumps(plan.payload, ensure_ascii=False),
            "cv": ("cv.pdf", make_pdf("Curriculum vitae", author=author, size=doc_kb * 1024), PDF),
            "academic_proof": ("proof.pdf", make_pdf("Certificate of enrolment", author=author,
                                                     size=doc_kb * 1024), PDF),
        }
        body, content_type = encode_multipart_formdata(fields)
        bodies.append((body, content_type, f"bench-{tag}-{serial}"))
    return bodies


def drive(port: int, bodies: list[tuple[bytes, str, str]], clients: int) -> tuple[float, dict[int, int]]:
    """Send every body once, `clients` at a time; (requests per second, count by HTTP status)."""
    queue = list(reversed(bodies))
    lock = threading.Lock()
    statuses: dict[int, int] = {}

    def client():
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                if not queue:
                    break
                body, content_type, key = queue.pop()
            for attempt in range(3):
                try:
                    connection.request("POST", "/api/v1/applications", body=body,
                                       headers={"Content-Type": content_type, "Idempotency-Key": key})
                    response = connection.getresponse()
                    response.read()
                    if response.will_close:
                        connection.close()
                    break
                except (ConnectionError, http.client.HTTPException):
                    # gunicorn's sync workers close idle keep-alive connections: reconnect, same key
                    connection.close()
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            else:
                raise RuntimeError("the server keeps dropping connections")
            with lock:
                statuses[response.status] = statuses.get(response.status, 0) + 1
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(bodies) / (time.perf_counter() - started), statuses


def gunicorn_command(port: int, app_spec: str | None = None, extra: list[str] = ()) -> list[str]:
    """intake's compose command on `port` (plus `extra` options); with `app_spec`, serving another app."""
    command = compose_command(compose_service("intake"), {5001: port})
    command = [*command[:-1], *extra, command[-1]]
    if app_spec is not None:
        command = [app_spec if "create_app" in arg else arg for arg in command]
    return command


def main() -> list[Row]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300, help="requests per server (default %(default)s)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (default %(default)s)")
    parser.add_argument("--doc-kb", type=int, default=100, help="size of each of the two PDFs (default %(default)s)")
    parser.add_argument("--profile", action="store_true",
                        help="also run intake under pyinstrument (one worker) and save the profile in bench/results")
    parser.add_argument("--gunicorn-extra", default="",
                        help="options added to both gunicorn command lines, to try settings (e.g. '--threads 4')")
    args = parser.parse_args()
    extra = args.gunicorn_extra.split()
    if args.profile:
        try:
            import pyinstrument  # noqa: F401
        except ImportError:
            parser.error("--profile needs pyinstrument: .venv/bin/pip install -e '.[bench]'")

    warmup = 20
    log(f"preparing {args.count + warmup} × 2 requests with two {args.doc_kb} KB PDFs each")
    intake_bodies = requests_bodies(args.count + warmup, args.doc_kb, seed=1)
    bare_bodies = requests_bodies(args.count + warmup, args.doc_kb, seed=2)
    with tempfile.TemporaryDirectory(prefix="nip-bench-") as tmp, \
            postgres_databases("intake") as databases, redis_server(Path(tmp) / "redis") as broker:
        tmp = Path(tmp)
        port, bare_port = free_port(), free_port()
        overrides = {"INTAKE_DATABASE_URL": databases["intake"], "BROKER_URL": broker,
                     "DOCUMENTS_DIR": str(tmp / "documents"), "VAR_DIR": str(tmp / "var"),
                     "INTAKE_URL": f"http://127.0.0.1:{port}"}
        service = compose_service("intake")
        secrets = compose_secrets(admin_password())
        env = compose_environment(service, secrets, {k: v for k, v in overrides.items()
                                                     if k in (service.get("environment") or {})})
        env.update(overrides, **LOAD_FROM_LOOPBACK)
        stack = Stack(tmp, {})
        try:
            stack.run_once("migrate", ["python", "-m", "services.intake", "migrate"], env=env)
            stack.run_once("seed", ["python", "-m", "services.intake", "seed"], env=env)
            stack.start("intake", gunicorn_command(port, extra=extra), env=env)
            stack.start("bare", gunicorn_command(bare_port, "bench.bare_app:app", extra), env=env)
            stack.wait_http(f"http://127.0.0.1:{port}/readyz")
            stack.wait_http(f"http://127.0.0.1:{bare_port}/healthz")
            log(f"command line: {' '.join(gunicorn_command(port, extra=extra))}")
            results = {}
            for name, target, bodies in (("bare", bare_port, bare_bodies), ("intake", port, intake_bodies)):
                drive(target, bodies[:warmup], args.clients)
                rate, statuses = drive(target, bodies[warmup:], args.clients)
                stack.check_alive()
                log(f"{name}: {rate:.1f} requests/s, statuses {statuses}")
                if statuses != {201: args.count}:
                    raise RuntimeError(f"{name} answered {statuses}\n{stack.logs()}")
                results[name] = rate
        finally:
            stack.stop()
        if args.profile:
            profile(env, tmp, args)
    row = Row(name=f"intake submissions, 2 × {args.doc_kb} KB PDFs, {args.clients} clients", unit="req/s",
              figure=results["intake"], baseline=results["bare"], aim="≥ 0.5",
              notes=f"baseline: bench/bare_app.py under the same gunicorn command line "
                    f"(`{' '.join(gunicorn_command(0, 'APP', extra)).replace('127.0.0.1:0', '…')}`); intake on PostgreSQL + "
                    f"Redis, {args.count} requests each after {warmup} warm-up")
    return [row]


def profile(env: dict, tmp: Path, args) -> None:
    """intake's submission path under pyinstrument, in one process (werkzeug, threaded), as an HTML report."""
    import subprocess

    out = ROOT / "bench" / "results" / "submissions-profile.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    port = free_port()
    script = f"""
import logging, sys, threading
sys.path.insert(0, {str(ROOT / 'bench')!r}); sys.path.insert(0, {str(ROOT)!r})
from pyinstrument import Profiler
from werkzeug.serving import make_server
from services.intake import create_app
from submissions import requests_bodies, drive
app = create_app()
logging.disable(logging.INFO)
server = make_server('127.0.0.1', {port}, app, threaded=False)
bodies = requests_bodies({min(args.count, 100)} + 10, {args.doc_kb}, seed=3)
# the server handles requests in this (profiled) thread; the client runs beside it
client = threading.Thread(target=drive, args=({port}, bodies, 1))
client.start()
for _ in range(10):
    server.handle_request()
profiler = Profiler(interval=0.0005)
profiler.start()
for _ in range(len(bodies) - 10):
    server.handle_request()
profiler.stop()
client.join()
open({str(out)!r}, 'w').write(profiler.output_html())
print(profiler.output_text(unicode=True, color=False, show_all=False))
"""
    result = subprocess.run([str(Path(__import__("sys").executable)), "-c", script], cwd=ROOT, env={**env},
                            capture_output=True, text=True, timeout=600)
    (ROOT / "bench" / "results" / "submissions-profile.txt").write_text(result.stdout + result.stderr)
    log(f"profile: {out} ({result.returncode})")


if __name__ == "__main__":
    stop_cleanly_on_sigterm()
    rows = main()
    path = write_results("submissions", rows)
    print(path.read_text())
