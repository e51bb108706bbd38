"""What "the pipeline lost nothing and did nothing twice" means, checked application by application.

For every accepted application, once the stack is quiet:
- intake (the owner) shows the status its data calls for, and its dossier;
- review's read model shows the submission (its departments), the same status and a dossier, and the dossier
  PDF it serves opens with pypdf with the page count review records;
- the SMTP server received exactly one email per candidate-visible status change (`submitted`, then the
  checked outcome), addressed to the candidate and naming the reference, none twice. The one duplicate that
  no SMTP client can rule out is tolerated where processes are SIGKILLed, and counted: a worker killed after
  the server accepted a message and before notify committed that it did resends the *same* message (same
  Message-ID, fixed by the event, so mail clients show it once). Two different messages for one change, or
  any resend where nothing was killed, fails;
- notify's delivery log agrees: one `sent` delivery per change, none twice;
- no consumer holds an open dead letter.

Waiting for quiet: when nothing has progressed for a while, the consumers' reconciliation (the beat job that
compares review's read model and notify's log with intake's truth, every 10 minutes) is run at once, as the
backstop for what no retry can see: a message lost by the broker itself (kombu's Redis transport pops a
message, then records it as unacked in a second command; a Redis that dies in between loses it). What it
repaired is counted in the figures, so a run that needed it shows it.
"""
from __future__ import annotations

import email
import io
import re
import subprocess
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from email import policy
from pathlib import Path

import requests
from pypdf import PdfReader

from tests.e2e.stack import ADMIN, ROOT, Stack

CONSUMERS = ("intake", "review", "notify")
DEAD_LETTERS_LINE = re.compile(r"^(\d+) open dead letter", re.MULTILINE)
RECONCILED_LINE = re.compile(r"reconciled: \d+ checked, (\d+) repaired")


def emails_for(expected: str) -> list[str]:
    """The candidate-visible changes an application of this outcome goes through (see intake's status.py)."""
    return ["submitted", expected]


class Staff:
    """An admin's bearer token at review, renewed when it expires (access tokens live minutes)."""

    def __init__(self, review_url: str):
        self.review_url, self.token, self.refresh_token = review_url, None, None

    def _login(self) -> None:
        for attempt in range(10):
            response = requests.post(f"{self.review_url}/api/v1/auth/token", json=ADMIN, timeout=10)
            if response.status_code == 200:
                body = response.json()
                self.token, self.refresh_token = body["token"], body.get("refresh_token")
                return
            time.sleep(1 + attempt)
        raise AssertionError(f"admin login refused: {response.status_code} {response.text}")

    def _renew(self) -> None:
        if self.refresh_token:
            response = requests.post(f"{self.review_url}/api/v1/auth/refresh",
                                     json={"refresh_token": self.refresh_token}, timeout=10)
            if response.status_code == 200:
                body = response.json()
                self.token, self.refresh_token = body["token"], body.get("refresh_token")
                return
        self._login()

    def get(self, url: str, **kwargs) -> requests.Response:
        if self.token is None:
            self._login()
        response = requests.get(url, headers={"Authorization": f"Bearer {self.token}"}, timeout=30, **kwargs)
        if response.status_code == 401:
            self._renew()
            response = requests.get(url, headers={"Authorization": f"Bearer {self.token}"}, timeout=30, **kwargs)
        return response


@dataclass
class Ledger:
    """What has been verified so far, so that polling re-asks only about what is not settled yet."""

    intake_done: set = field(default_factory=set)
    review_done: dict = field(default_factory=dict)  # reference -> dossier pages


def caught_mail(mail_dir: Path) -> dict[str, list]:
    """Emails at the SMTP server, by the reference their subject names."""
    by_reference = defaultdict(list)
    for path in sorted(mail_dir.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        match = re.search(r"NIP\d+-[A-Z0-9]{4}-[A-Z0-9]{4}", str(message["Subject"]))
        by_reference[match.group(0) if match else "?"].append(message)
    return by_reference


def distinct(messages: list) -> dict[str, object]:
    """One message per Message-ID: a resend of the same message is the same email."""
    return {str(m["Message-ID"]): m for m in messages}


def resent(accepted: list, mail_dir: Path) -> int:
    """How many times a message was received again (same Message-ID)."""
    mail = caught_mail(mail_dir)
    return sum(len(mail.get(app.reference, [])) - len(distinct(mail.get(app.reference, []))) for app in accepted)


def pipeline_problems(urls: dict, accepted: list, mail_dir: Path, staff: Staff, ledger: Ledger) -> list[str]:
    """Everything that is not (yet) as it must end; empty once the stack has done all the work."""
    problems = []
    for app in accepted:
        if app.reference in ledger.intake_done:
            continue
        response = requests.get(f"{urls['intake']}/api/v1/applications/{app.reference}",
                                headers={"Authorization": f"Bearer {app.token}"}, timeout=30)
        body = response.json() if response.status_code == 200 else {}
        if body.get("status") != app.expected or not body.get("dossier_ready"):
            problems.append(f"{app.reference} intake: status {body.get('status', response.status_code)!r}, "
                            f"dossier_ready {body.get('dossier_ready')} (expected {app.expected!r} with a dossier)")
        else:
            ledger.intake_done.add(app.reference)
    for app in accepted:
        if app.reference in ledger.review_done:
            continue
        response = staff.get(f"{urls['review']}/api/v1/applications/{app.reference}")
        body = response.json() if response.status_code == 200 else {}
        dossier = body.get("dossier") or {}
        # the submission too (name, departments): its event may still be waiting for a retry when the
        # status and the dossier, carried by later events, are already there
        if body.get("status") != app.expected or not dossier.get("ready") or not body.get("submitted_at") \
                or not body.get("departments"):
            problems.append(f"{app.reference} review: status {body.get('status', response.status_code)!r}, "
                            f"dossier {dossier.get('ready')}, submitted {body.get('submitted_at')}, departments "
                            f"{body.get('departments')} (expected {app.expected!r} with a dossier)")
        else:
            ledger.review_done[app.reference] = dossier.get("pages")
    mail = caught_mail(mail_dir)
    for app in accepted:
        messages = list(distinct(mail.get(app.reference, [])).values())
        wanted = len(emails_for(app.expected))
        if len(messages) != wanted:
            problems.append(f"{app.reference} smtp: {len(messages)} email(s) "
                            f"{sorted(str(m['Subject']) for m in messages)} (expected {wanted})")
        elif any(str(m["To"]) != app.email for m in messages):
            problems.append(f"{app.reference} smtp: sent to {[str(m['To']) for m in messages]}, not {app.email}")
    return problems


def duplicates(accepted: list, mail_dir: Path, *, resends_allowed: bool) -> list[str]:
    """Emails received more than once: never acceptable as two different messages for one change (or more
    messages than the changes call for); a resend of the same message only where processes were killed."""
    mail = caught_mail(mail_dir)
    found = []
    for app in accepted:
        messages = mail.get(app.reference, [])
        unique = distinct(messages)
        subjects = Counter(str(m["Subject"]) for m in unique.values())
        if len(unique) > len(emails_for(app.expected)) or max(subjects.values(), default=1) > 1:
            found.append(f"{app.reference}: different messages for one change {dict(subjects)}")
        elif len(messages) > len(unique) and not resends_allowed:
            found.append(f"{app.reference}: the same message received twice, though nothing was killed: "
                         f"{Counter(str(m['Message-ID']) for m in messages)}")
    return found


def notify_log_problems(urls: dict, accepted: list, staff: Staff) -> list[str]:
    problems = []
    for app in accepted:
        response = staff.get(f"{urls['notify']}/api/v1/notifications", params={"reference": app.reference})
        if response.status_code != 200:
            problems.append(f"{app.reference} notify log: HTTP {response.status_code} {response.text[:200]}")
            continue
        items = response.json()["items"]
        statuses = Counter(row["template"].split("/")[0] for row in items)
        if sorted(statuses.elements()) != sorted(emails_for(app.expected)) or \
                any(row["state"] != "sent" for row in items):
            problems.append(f"{app.reference} notify log: {[(r['template'], r['state']) for r in items]}")
    return problems


def dossier_problems(urls: dict, ledger: Ledger, staff: Staff) -> list[str]:
    problems = []
    for reference, pages in ledger.review_done.items():
        response = staff.get(f"{urls['review']}/applications/{reference}/dossier.pdf")
        if response.status_code != 200 or response.headers.get("Content-Type") != "application/pdf":
            problems.append(f"{reference} dossier.pdf: HTTP {response.status_code}")
            continue
        try:
            opened = len(PdfReader(io.BytesIO(response.content)).pages)
        except Exception as exc:  # any way pypdf fails to open it is the finding
            problems.append(f"{reference} dossier.pdf does not open: {exc}")
            continue
        if opened != pages:
            problems.append(f"{reference} dossier.pdf has {opened} pages, review says {pages}")
    return problems


def open_dead_letters(stack: Stack) -> dict[str, str]:
    """Each consumer's `dead-letters` listing, for those that hold any."""
    found = {}
    for service in CONSUMERS:
        env = {**stack.env, **stack.service_env.get(service, {})}
        result = subprocess.run(["python", "-m", f"services.{service}", "dead-letters"], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=120)
        match = DEAD_LETTERS_LINE.search(result.stdout)
        if result.returncode != 0 or match is None:
            found[service] = f"dead-letters failed ({result.returncode}): {result.stdout[-2000:]}{result.stderr[-2000:]}"
        elif int(match.group(1)):
            found[service] = result.stdout
    return found


STALLED_AFTER = 45.0  # seconds without progress before the reconciliation is run


def reconcile(stack: Stack) -> tuple[int, str]:
    """Run review's and notify's reconciliation now, as their beat job does; the number of repairs, and what
    each said (what it found different is in its log lines)."""
    repaired, said = 0, []
    for service in ("review", "notify"):
        env = {**stack.env, **stack.service_env.get(f"worker-{service}", {})}
        result = subprocess.run(["python", "-m", f"services.{service}", "reconcile", "--settle", "15"], cwd=ROOT,
                                env=env, capture_output=True, text=True, timeout=300)
        match = RECONCILED_LINE.search(result.stdout)
        assert result.returncode == 0 and match, \
            f"{service} reconcile failed ({result.returncode}): {result.stdout[-2000:]}{result.stderr[-2000:]}"
        repaired += int(match.group(1))
        said.append(f"{service}: {result.stdout[-2000:]}{result.stderr[-4000:]}")
    return repaired, "\n".join(said)


def wait_until_quiet(stack: Stack, urls: dict, accepted: list, mail_dir: Path, *, timeout: float,
                     started: float, resends_allowed: bool) -> tuple[float, Ledger, Staff, int]:
    """Poll until every application has reached its end everywhere; the seconds it took since `started`, and
    how many repairs the reconciliation made (run once, when progress stalls).

    Fails at once when an email arrives twice, and with the list of what is missing after `timeout`.
    """
    staff, ledger = Staff(urls["review"]), Ledger()
    deadline = time.monotonic() + timeout
    last, progressed, reconciled = None, time.monotonic(), None
    while True:
        stack.check_alive()
        twice = duplicates(accepted, mail_dir, resends_allowed=resends_allowed)
        assert not twice, f"emails sent twice or more than the changes call for: {twice}"
        problems = pipeline_problems(urls, accepted, mail_dir, staff, ledger)
        if not problems:
            return time.monotonic() - started, ledger, staff, reconciled or 0
        if time.monotonic() > deadline:
            raise AssertionError(f"not quiet after {timeout:.0f} s: {len(problems)} problem(s) "
                                 f"(reconciliation repaired {reconciled})\n"
                                 + "\n".join(problems[:40]) + f"\n{stack.logs(tail=25)}")
        if problems != last:
            last, progressed = problems, time.monotonic()
        elif reconciled is None and time.monotonic() - progressed > STALLED_AFTER:
            reconciled, _ = reconcile(stack)
            progressed = time.monotonic()
        time.sleep(2)


def assert_consistent(stack: Stack, urls: dict, accepted: list, mail_dir: Path, *, timeout: float,
                      started: float, resends_allowed: bool = False) -> dict:
    """Wait for quiet, then check every invariant; returns the figures: seconds to quiet, messages resent,
    repairs made by the reconciliation."""
    seconds, ledger, staff, reconciled = wait_until_quiet(stack, urls, accepted, mail_dir, timeout=timeout,
                                                          started=started, resends_allowed=resends_allowed)
    time.sleep(3)  # a duplicate delivery or a late redelivery would show now
    problems = duplicates(accepted, mail_dir, resends_allowed=resends_allowed)
    problems += notify_log_problems(urls, accepted, staff)
    problems += dossier_problems(urls, ledger, staff)
    letters = open_dead_letters(stack)
    problems += [f"{service} holds dead letters:\n{listing}" for service, listing in letters.items()]
    assert not problems, "\n".join(problems[:40]) + f"\n{stack.logs(tail=25)}"
    # the owners' own comparison agrees: nothing left to repair
    repairs, said = reconcile(stack)
    assert repairs == 0, f"the reconciliation still found something to repair once quiet:\n{said}"
    return {"quiet s": round(seconds, 1), "resent": resent(accepted, mail_dir), "reconciled": reconciled}
