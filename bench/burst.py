"""A burst of applications until every dossier is visible in review, against WeasyPrint alone.

Figure: seconds from the first submission (loadgen, 4 clients) until review's API shows a ready dossier for
every accepted application. Baseline: WeasyPrint rendering the same summary HTML (intake's dossier template)
`count` times in one process, divided by the number of render worker processes the stack runs. Aim ≤ 1.3×.

    python bench/burst.py [--count 500] [--mode embedded|production]

embedded: the processes of deploy/Procfile.embedded (`make run`: SQLite, Celery over the filesystem);
production: every docker-compose.yml service's own command and environment on this host, against fresh
PostgreSQL databases on 127.0.0.1:5432 and a private redis-server.
"""
from __future__ import annotations

import argparse
import random
import re
import statistics
import tempfile
import time
from contextlib import ExitStack
from datetime import date, datetime, timezone
from pathlib import Path

import requests
from common import (ADMIN_EMAIL, Row, admin_password, compose_secrets, concurrency_of, free_port, log,
                    postgres_databases, redis_server, stop_cleanly_on_sigterm, write_results)
from tests.e2e.stack import (LOAD_FROM_LOOPBACK, LONG_RUNNING_COMPOSE, Stack, compose_command, compose_environment,
                             compose_services, procfile)

import loadgen
from loadgen.generate import plan_application

SERVICES = ("intake", "review", "notify")


def settings_variables() -> set[str]:
    """Every variable the compose services read: blanked in embedded mode so this shell's values don't leak in."""
    names = set()
    for service in compose_services().values():
        environment = service.get("environment") or {}
        names |= set(environment if isinstance(environment, dict) else (e.split("=", 1)[0] for e in environment))
    return names | {"SECRET_KEY", "BROKER_URL", "MAIL_DIR"}


def embedded(stack_dir: Path, password: str) -> tuple[Stack, dict, int]:
    ports = {name: free_port() for name in (*SERVICES, "smtp")}
    env = {name: "" for name in settings_variables()}
    env.update({"VAR_DIR": str(stack_dir / "var"), "INTAKE_PORT": str(ports["intake"]),
                "REVIEW_PORT": str(ports["review"]), "NOTIFY_PORT": str(ports["notify"]),
                "SMTP_PORT": str(ports["smtp"]), "ADMIN_EMAIL": ADMIN_EMAIL, "ADMIN_PASSWORD": password,
                **LOAD_FROM_LOOPBACK})
    stack = Stack(stack_dir, env)
    for command in ("python -m services.intake migrate", "python -m services.review migrate",
                    "python -m services.notify migrate", "python -m services.intake seed"):
        stack.run_once(command, command)
    processes = procfile()
    for name, command in processes.items():
        stack.start(name, command)
    return stack, {name: f"http://127.0.0.1:{ports[name]}" for name in SERVICES}, concurrency_of(processes["render"])


def production(stack_dir: Path, password: str, exits: ExitStack) -> tuple[Stack, dict, int]:
    ports = {name: free_port() for name in (*SERVICES, "smtp")}
    databases = exits.enter_context(postgres_databases(*SERVICES))
    broker = exits.enter_context(redis_server(stack_dir / "redis"))
    urls = {name: f"http://127.0.0.1:{ports[name]}" for name in SERVICES}
    overrides = {f"{name.upper()}_DATABASE_URL": databases[name] for name in SERVICES}
    overrides.update({"BROKER_URL": broker, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(ports["smtp"]),
                      "DOCUMENTS_DIR": str(stack_dir / "documents"), "VAR_DIR": str(stack_dir / "var"),
                      **{f"{name.upper()}_URL": url for name, url in urls.items()}})
    services, secrets = compose_services(), compose_secrets(password)
    stack = Stack(stack_dir, LOAD_FROM_LOOPBACK)

    def environment(name: str) -> dict:
        known = services[name].get("environment") or {}
        return compose_environment(services[name], secrets, {k: v for k, v in overrides.items() if k in known})

    stack.start("smtp", ["python", "-m", "services.notify.mailcatcher"],
                env={"SMTP_PORT": str(ports["smtp"]), "MAIL_DIR": str(stack_dir / "mail"),
                     "VAR_DIR": str(stack_dir / "var")})
    published = {5001: ports["intake"], 5002: ports["review"], 5003: ports["notify"]}
    stack.run_once("migrate", compose_command(services["migrate"], published), env=environment("migrate"))
    for name in LONG_RUNNING_COMPOSE:
        stack.start(name, compose_command(services[name], published), env=environment(name))
    return stack, urls, concurrency_of(compose_command(services["worker-render"], {}))


class Review:
    """review's API as an admin sees it."""

    def __init__(self, url: str, password: str):
        self.url, self.password, self.session = url, password, requests.Session()
        self.login()

    def login(self) -> None:
        response = self.session.post(f"{self.url}/api/v1/auth/token",
                                     json={"email": ADMIN_EMAIL, "password": self.password}, timeout=30)
        response.raise_for_status()
        self.session.headers["Authorization"] = f"Bearer {response.json()['token']}"

    def ready_dossiers(self) -> set[str]:
        ready, page = set(), 1
        while True:
            response = self.session.get(f"{self.url}/api/v1/applications", params={"page": page}, timeout=30)
            if response.status_code == 401:  # short-lived staff tokens: log in again
                self.login()
                continue
            response.raise_for_status()
            body = response.json()
            ready |= {item["reference"] for item in body["items"] if item.get("dossier_ready")}
            if page * body["per_page"] >= body["total"] or not body["items"]:
                return ready
            page += 1


def task_seconds(logs: Path, task: str) -> list[float]:
    """How long each successful run of `task` took, from the workers' logs (Celery's own timing)."""
    pattern = re.compile(rf"Task {re.escape(task)}\[[^\]]+\] succeeded in ([0-9.]+)s")
    return [float(match.group(1)) for path in logs.glob("*.log")
            for match in pattern.finditer(path.read_text(errors="replace"))]


def task_totals(logs: Path) -> dict[str, tuple[int, float]]:
    """Every task's (successful runs, seconds spent in them) from the workers' logs: where the stack's time went."""
    pattern = re.compile(r"Task ([\w.]+)\[[^\]]+\] succeeded in ([0-9.]+)s")
    totals: dict[str, tuple[int, float]] = {}
    for path in logs.glob("*.log"):
        for match in pattern.finditer(path.read_text(errors="replace")):
            count, seconds = totals.get(match.group(1), (0, 0.0))
            totals[match.group(1)] = (count + 1, seconds + float(match.group(2)))
    return totals


def summary_html(count: int) -> list[str]:
    """intake's dossier summary HTML for `count` synthetic applicants, through its own template and context."""
    from services.intake.applications.models import Application, Document
    from services.intake.dossier.render import _jinja
    from services.intake.dossier.tasks import dossier_context
    from services.intake.programme.defaults import DOCX, NIP_2027, PDF
    from services.intake.programme.models import Call

    call = Call(code=NIP_2027["code"], name=NIP_2027["name"], deadline=datetime(2027, 1, 31, 22, 59, tzinfo=timezone.utc),
                sessions=NIP_2027["sessions"], languages=NIP_2027["languages"], departments=NIP_2027["departments"],
                documents=NIP_2027["documents"], rules=NIP_2027["rules"], is_open=True)
    rng, pages = random.Random(500), []
    for serial in range(min(count, 50)):
        payload = plan_application(rng, kind="eligible").payload
        application = Application(
            reference=f"NIP27-BNCH-{serial:04d}", given_name=payload["given_name"], family_name=payload["family_name"],
            email=payload["email"], date_of_birth=date.fromisoformat(payload["date_of_birth"]),
            nationality=payload["nationality"], languages=payload["languages"], education=payload["education"],
            departments=payload["departments"], session=payload["session"], motivation=payload["motivation"],
            correspondence_language=payload["correspondence_language"], submitted_at=datetime.now(timezone.utc),
            problems=[])
        application.documents = [
            Document(kind="cv", media_type=rng.choice((PDF, DOCX)), size=60_000, pages=1, filename="cv.pdf"),
            Document(kind="academic_proof", media_type=PDF, size=60_000, pages=1, filename="proof.pdf")]
        pages.append(_jinja.get_template("summary.html").render(**dossier_context(application, call)))
    return [pages[i % len(pages)] for i in range(count)]


def weasyprint_baseline(count: int) -> float:
    """Seconds WeasyPrint alone takes to render `count` summaries in one process."""
    from services.intake.dossier.render import html_to_pdf

    pages = summary_html(count)
    html_to_pdf(pages[0])  # fonts and CSS loaded once, as in a long-lived worker
    started = time.perf_counter()
    for page in pages:
        html_to_pdf(page)
    return time.perf_counter() - started


def main() -> list[Row]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500, help="applications in the burst (default %(default)s)")
    parser.add_argument("--mode", choices=("embedded", "production"), default="embedded")
    parser.add_argument("--concurrency", type=int, default=4, help="loadgen clients (default %(default)s)")
    parser.add_argument("--doc-kb", type=int, default=60, help="size of each uploaded PDF (default %(default)s)")
    parser.add_argument("--timeout", type=float, default=3600, help="give up after this many seconds")
    args = parser.parse_args()

    password = admin_password()
    with ExitStack() as exits:
        stack_dir = Path(exits.enter_context(tempfile.TemporaryDirectory(prefix="nip-bench-burst-")))
        log(f"starting the stack in {args.mode} mode")
        stack = None
        try:
            if args.mode == "embedded":
                stack, urls, renderers = embedded(stack_dir, password)
            else:
                stack, urls, renderers = production(stack_dir, password, exits)
            for url in urls.values():
                stack.wait_http(f"{url}/readyz", timeout=120)
            review = Review(urls["review"], password)
            log(f"sending {args.count} applications ({args.concurrency} clients), {renderers} render worker(s)")
            started = time.monotonic()
            summary = loadgen.submit(urls["intake"], count=args.count, concurrency=args.concurrency,
                                     ineligible_share=0, incomplete_share=0, seed=2027, progress=True,
                                     doc_size=args.doc_kb * 1024)
            submitted = time.monotonic() - started
            log(f"sent in {submitted:.1f} s: {len(summary.accepted)} accepted, refused {dict(summary.refused)}")
            if not summary.accepted:
                raise RuntimeError(f"nothing was accepted\n{stack.logs()}")
            wanted = {item.reference for item in summary.accepted}
            while True:
                ready = review.ready_dossiers() & wanted
                elapsed = time.monotonic() - started
                if len(ready) == len(wanted):
                    break
                stack.check_alive()
                if elapsed > args.timeout:
                    raise TimeoutError(f"{len(ready)}/{len(wanted)} dossiers after {elapsed:.0f} s\n{stack.logs()}")
                log(f"{len(ready)}/{len(wanted)} dossiers visible in review after {elapsed:.0f} s")
                time.sleep(2)
            figure = time.monotonic() - started
            log(f"all {len(wanted)} dossiers visible in review after {figure:.1f} s")
            renders = task_seconds(stack_dir / "logs", "intake.render_dossier")
            checks = task_seconds(stack_dir / "logs", "intake.check_application")
            totals = task_totals(stack_dir / "logs")
            pure = [float(m) for path in (stack_dir / "logs").glob("*.log")
                    for m in re.findall(r'"render_seconds": ([0-9.]+)', path.read_text(errors="replace"))]
            if pure:
                log(f"  of which render_dossier() itself: {statistics.mean(pure) * 1000:.0f} ms each, "
                    f"first {pure[0] * 1000:.0f} ms")
            for task, (count, seconds) in sorted(totals.items(), key=lambda item: -item[1][1]):
                log(f"  {task}: {count} runs, {seconds:.1f} s in all, {seconds / count * 1000:.0f} ms each")
        finally:
            if stack is not None:
                stack.stop()
    log(f"baseline: WeasyPrint rendering the summary HTML {len(wanted)} times")
    alone = weasyprint_baseline(len(wanted))
    baseline = alone / renderers
    log(f"baseline: {alone:.1f} s in one process / {renderers} render worker(s) = {baseline:.1f} s")
    per_summary = alone / len(wanted)
    render_note = (f"; render tasks: {len(renders)}, mean {statistics.mean(renders):.2f} s each "
                   f"({statistics.mean(renders) / per_summary:.1f}× one summary alone), "
                   f"{sum(renders) / renderers:.0f} s of render work per worker" if renders else "")
    check_note = f"; check tasks: mean {statistics.mean(checks) * 1000:.0f} ms" if checks else ""
    check_note += "; seconds of work by task: " + ", ".join(
        f"{task} {seconds:.0f}" for task, (_, seconds) in sorted(totals.items(), key=lambda item: -item[1][1]))
    return [Row(name=f"burst of {len(wanted)} applications until every dossier is in review ({args.mode} mode)",
                unit="s", figure=figure, baseline=baseline, aim="≤ 1.3",
                notes=f"submitting took {submitted:.1f} s ({summary.rate:.1f}/s); baseline = {alone:.1f} s of "
                      f"WeasyPrint alone for {len(wanted)} summaries / {renderers} render worker process(es)"
                      f"{render_note}{check_note}")]


if __name__ == "__main__":
    stop_cleanly_on_sigterm()
    rows = main()
    path = write_results("burst", rows)
    print(path.read_text())
