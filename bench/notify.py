"""Notify's emails per second for 1,000 status changes to a local aiosmtpd server, against a plain smtplib loop
sending the very same messages over one connection to the same server in the same run. Aim: ratio ≥ 0.5.

Notify runs its real consumer task (`notify.handle_event`: inbox, rendering, the delivery log, the send with any
overdue emails riding along, and their outcomes, in one transaction) on a PostgreSQL database created for
this run on 127.0.0.1:5432, in as many worker processes as compose's notify worker runs (`--concurrency`), each
over its own reused SMTP connection. The server is a separate process that accepts and counts each message (it
stores nothing), so both sides pay the same for it; the baseline is only what SMTP itself costs. Both sides are
timed alike, after the same warm-up over an open connection: from the first status change handed to notify (the
first message handed to smtplib) to the last message the server accepted, by the server's clock.

    python bench/notify.py [--count 1000] [--workers N] [--rounds 3]
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import multiprocessing
import smtplib
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

from common import (Row, compose_service, concurrency_of, free_port, log, postgres_databases, stop_cleanly_on_sigterm,
                    write_results)

from shared.events import make_event

WARMUP = 20


# a separate process, as a relay is: it accepts every message and keeps nothing; each line on its stdin asks for
# the count so far and the moment (time.time()) it accepted the last one
SERVER = """
import sys, time
from aiosmtpd.controller import Controller
class Counter:
    accepted, last = 0, 0.0
    async def handle_DATA(self, server, session, envelope):
        Counter.accepted, Counter.last = Counter.accepted + 1, time.time()
        return "250 OK"
controller = Controller(Counter(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
print("ready", flush=True)
for _ in sys.stdin:
    print(Counter.accepted, Counter.last, flush=True)
controller.stop()
"""


class Server:
    """The counting SMTP server process."""

    def __init__(self, process: subprocess.Popen):
        self.process = process

    def accepted(self) -> tuple[int, float]:
        """How many messages it accepted so far, and when it accepted the last one."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        count, last = self.process.stdout.readline().split()
        return int(count), float(last)


@contextmanager
def smtp_server(port: int):
    """The counting SMTP server on `port`."""
    process = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    try:
        if process.stdout is None or process.stdout.readline().strip() != "ready":
            raise RuntimeError("the SMTP server did not start")
        yield Server(process)
    finally:
        process.communicate(timeout=30)


def status_changes(count: int, tag: str) -> list[dict]:
    """`count` status changes of distinct applicants, in both languages and several templates, each with the
    applicant's one to three departments, as intake sends them (notify keeps them for staff's scope), their names,
    and the single-use link to the portal with its expiry (which notify writes in Brussels time)."""
    statuses = ("submitted", "under_review", "shortlisted", "reserve", "rejected")
    departments = ("polsci", "comms", "finance", "it", "hr")
    expires_at = datetime.now(timezone.utc) + timedelta(hours=48)
    return [make_event("application.status_changed", {
        "reference": f"NIP27-{tag}{serial:05d}", "old": "checking", "new": statuses[serial % len(statuses)],
        "reason": None, "email": f"bench.{tag}.{serial}@example.org", "name": f"Applicant {serial}",
        "language": ("en", "fr")[serial % 2],
        "departments": [departments[(serial + n) % 5] for n in range(1 + serial % 3)],
        "department_names": [f"Department {departments[(serial + n) % 5]}" for n in range(1 + serial % 3)],
        "link": f"http://127.0.0.1:5001/access/{serial:043d}?lang={('en', 'fr')[serial % 2]}",
        "link_expires_at": expires_at},
        producer="intake") for serial in range(count)]


def run_notify(app, events: list[dict]) -> None:
    """Hand each event to notify's consumer task, as a worker process does."""
    from services.notify.deliveries.tasks import handle_event

    with app.app_context():
        for event in events:
            handle_event.run(event)


def _worker(settings, warmup: list[dict], events: list[dict], ready, results) -> None:
    """One worker process: its own app, database pool and SMTP connection, as a Celery prefork child has."""
    from services.notify import create_app

    app = create_app(settings, web=False)
    # one log line per email at INFO is the service's normal; kept out of the terminal and the timing
    logging.disable(logging.INFO)
    run_notify(app, warmup)
    ready.wait()
    started, cpu = time.time(), time.process_time()
    run_notify(app, events)
    results.put((started, time.process_time() - cpu))


def notify_rate(settings, server: Server, events: list[dict], workers: int) -> tuple[float, float]:
    """Emails per second through `workers` processes sharing the events, from the first one handed to a worker to
    the last message the server accepted; and the workers' CPU milliseconds per email."""
    context = multiprocessing.get_context("fork")
    ready, results = context.Barrier(workers), context.Queue()
    warmup, timed = events[:WARMUP * workers], events[WARMUP * workers:]
    processes = [context.Process(target=_worker, args=(settings, warmup[n::workers], timed[n::workers], ready,
                                                       results)) for n in range(workers)]
    before, _ = server.accepted()
    for process in processes:
        process.start()
    spans = [results.get(timeout=3600) for _ in processes]
    for process in processes:
        process.join()
        if process.exitcode:
            raise RuntimeError(f"a notify worker failed ({process.exitcode})")
    count, last = server.accepted()
    if count - before != len(events):
        raise RuntimeError(f"the server accepted {count - before} messages from notify, expected {len(events)}")
    return len(timed) / (last - min(started for started, _ in spans)), sum(cpu for _, cpu in spans) / len(timed) * 1000


def logged_messages(app, event_ids: list[str]) -> list:
    """The messages notify sent for these events, rebuilt from its delivery log."""
    from sqlalchemy import select

    from services.notify.db import db
    from services.notify.deliveries.models import SENT, Delivery
    from services.notify.deliveries.smtp import build_message

    settings = app.config["SETTINGS"]
    with app.app_context():
        rows = db.session.scalars(select(Delivery).where(Delivery.event_id.in_(event_ids))).all()
        if {row.state for row in rows} != {SENT} or len(rows) != len(event_ids):
            raise RuntimeError("notify did not send every email")
        return [build_message(sender=settings.smtp_from, recipient=row.recipient, subject=row.subject,
                              text=row.body_text, html=row.body_html, event_id=row.event_id,
                              reference=row.reference, reply_to=settings.smtp_reply_to) for row in rows]


def smtplib_rate(port: int, server: Server, warmup: list, messages: list) -> tuple[float, float]:
    """Emails per second from a plain smtplib loop over one connection, warmed up as notify's are, from the first
    timed message handed to smtplib to the last one the server accepted; and its CPU milliseconds per email."""
    before, _ = server.accepted()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for message in warmup:
            smtp.send_message(message)
        started, cpu = time.time(), time.process_time()
        for message in messages:
            smtp.send_message(message)
        cpu = time.process_time() - cpu
    count, last = server.accepted()
    if count != before + len(warmup) + len(messages):
        raise RuntimeError("the server did not accept every message of the smtplib loop")
    return len(messages) / (last - started), cpu / len(messages) * 1000


def main() -> list[Row]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="status changes (default %(default)s)")
    parser.add_argument("--workers", type=int, default=concurrency_of(compose_service("worker-notify")["command"]),
                        help="notify worker processes (default: compose's --concurrency, %(default)s)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of notify then smtplib (default %(default)s)")
    args = parser.parse_args()

    from services.notify import create_app
    from shared.config import Settings
    from shared.migrate import upgrade

    port = free_port()
    rounds = []
    with tempfile.TemporaryDirectory(prefix="nip-bench-") as tmp, postgres_databases("notify") as databases, \
            smtp_server(port) as server:
        upgrade("notify", databases["notify"])
        settings = dataclasses.replace(Settings.from_env(), var_dir=Path(tmp), broker_url="filesystem://",
                                       notify_database_url=databases["notify"], smtp_host="127.0.0.1",
                                       smtp_port=port, mail_dir=Path(tmp) / "mail")
        app = create_app(settings, web=False)
        from shared.events import signing

        if not signing.can_sign("intake"):  # production-mode settings: the bench plays intake with a pair of its own
            from shared.keys import generate_signing_key, public_key_pem

            private = generate_signing_key()
            signing.use_keys(signing={"intake": private}, verify={"intake": public_key_pem(private)})
        try:
            for round_number in range(args.rounds):
                events = status_changes(args.count + WARMUP * args.workers, f"{round_number}{time.time_ns() % 10**4:04d}")
                rate, notify_cpu = notify_rate(settings, server, events, args.workers)
                messages = logged_messages(app, [event["id"] for event in events[WARMUP * args.workers:]])
                baseline, baseline_cpu = smtplib_rate(port, server, messages[:WARMUP], messages)
                # CPU per email, its own process's, does not depend on what else the machine runs: the figure to
                # compare changes by on a shared machine (the server's and PostgreSQL's share is not in it)
                log(f"round {round_number + 1}: notify {rate:.1f} emails/s, {notify_cpu:.2f} ms CPU/email; "
                    f"smtplib loop {baseline:.1f} emails/s, {baseline_cpu:.2f} ms CPU/email; {rate / baseline:.2f}×")
                rounds.append((rate, baseline))
        finally:
            from services.notify.db import db

            with app.app_context():
                db.session.remove()
                db.engine.dispose()
    # the round whose ratio is the median: notify and its baseline of one round ran under the same load
    ratios = sorted(rounds, key=lambda pair: pair[0] / pair[1])
    rate, baseline = ratios[len(ratios) // 2]
    return [Row(name=f"notify: {args.count} status changes emailed, {args.workers} worker processes",
                unit="emails/s", figure=rate, baseline=baseline, aim="≥ 0.5",
                notes="notify's consumer task (inbox, render, delivery log, the send and its outcome in one "
                      "transaction; PostgreSQL) in the worker processes compose "
                      "runs, each over its own reused SMTP connection, against a plain smtplib loop sending the "
                      "same messages over one connection to the same local aiosmtpd; both timed from the first "
                      "message handed over to the last the server accepted; the round of median ratio of "
                      f"{args.rounds} (ratios {', '.join(f'{a / b:.2f}' for a, b in rounds)})")]


if __name__ == "__main__":
    stop_cleanly_on_sigterm()
    rows = main()
    path = write_results("notify", rows)
    print(path.read_text())
