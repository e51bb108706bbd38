"""The review workbench at season scale: list API and page p95, and the CSV, against bare queries.

10,000 applications (1 to 3 departments each, 3 % flagged as possible duplicates), 40 reviewers, 20,000
assignments and 20,000 reviews are bulk-inserted into a PostgreSQL database created for this run and migrated
with review's migrations. The review app answers in this process (Flask's test client: the whole Flask stack,
no HTTP server), signed in as an admin. Figures: the 95th percentile of the list API and the list page,
unfiltered and filtered + searched + score-sorted, and the time to stream the CSV of all 10,000 rows.
Baselines, measured in the same run through the same engine: a bare SQL `SELECT` of the same page (the same
filters, order and limit), and for the CSV the bare `SELECT` of every row written with `csv.writer`.
Aims (issue 6): p95 < 50 ms, CSV < 2 s; each is shown as a ratio bound (aim / baseline), so "met" says whether
the figure is under its aim.

    python bench/review_list.py [--applications 10000] [--requests 200]
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import os
import random
import re
import statistics
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from common import Row, log, postgres_databases, stop_cleanly_on_sigterm, write_results
from sqlalchemy import insert, select, text

from services.review.departments import DEPARTMENT_CODES

GIVEN = ["Ana", "Jan", "Marie", "Lars", "Sofia", "Ahmet", "Ieva", "Tomás", "Eleni", "Mateusz", "Inês", "Nora"]
FAMILY = ["Petrova", "Novak", "Dubois", "Olsen", "Rossi", "Yılmaz", "Kalniņa", "García", "Papadopoulou",
          "Kowalski", "Silva", "Berg", "Andersen", "Horvat", "Müller"]
NATIONALITIES = ["BG", "CZ", "FR", "NO", "IT", "TR", "LV", "ES", "GR", "PL", "PT", "DE", "HR", "NL", "BE"]
STATUSES = ["under_review"] * 14 + ["submitted", "ineligible", "incomplete", "shortlisted", "reserve", "rejected"]
RUBRIC_WEIGHTS = {"academic_record": 1.0, "motivation": 1.0, "language_skills": 0.5, "department_relevance": 1.5}
REVIEWERS_PER_DEPARTMENT = 8
FILTERED = {"status": "under_review", "department": "it", "eligible": "true", "q": "ova", "sort": "-score",
            "score_min": "2"}
BARE_UNFILTERED = """
    SELECT a.*, (SELECT json_agg(d.department ORDER BY d.rank) FROM application_departments d
                 WHERE d.reference = a.reference) AS departments
    FROM applications a ORDER BY a.submitted_at DESC NULLS LAST, a.id DESC LIMIT 50"""
BARE_FILTERED = """
    SELECT a.*, (SELECT json_agg(d.department ORDER BY d.rank) FROM application_departments d
                 WHERE d.reference = a.reference) AS departments
    FROM applications a
    WHERE a.status = 'under_review' AND a.eligible IS true AND a.score >= 2
      AND EXISTS (SELECT 1 FROM application_departments d WHERE d.reference = a.reference AND d.department = 'it')
      AND (lower(a.reference) LIKE '%ova%' OR lower(a.name) LIKE '%ova%')
    ORDER BY a.score DESC NULLS LAST, a.id DESC LIMIT 50"""
BARE_COUNTS = "SELECT status, count(*) FROM applications GROUP BY status"


def seed(engine, count: int, *, rng: random.Random) -> None:
    """Bulk-insert the season: applications, their departments, reviewers, assignments and reviews."""
    from services.review.accounts.models import User
    from services.review.applications.models import Application, ApplicationDepartment
    from services.review.reviews.models import Assignment, Review

    now = datetime.now(timezone.utc)
    reviewers = [{"id": 100 + i, "email": f"reviewer{i}@bench.example.org", "password_hash": "x", "role": "reviewer",
                  "departments": [code], "active": True, "language": "en", "created_at": now}
                 for i, code in enumerate(c for c in DEPARTMENT_CODES for _ in range(REVIEWERS_PER_DEPARTMENT))]
    applications, departments, assignments, reviews = [], [], [], []
    for n in range(count):
        reference = f"NIP27-{n:05d}"
        given, family = rng.choice(GIVEN), rng.choice(FAMILY)
        codes = rng.sample(DEPARTMENT_CODES, rng.randint(1, 3))
        status = rng.choice(STATUSES)
        problems = [{"code": "possible_duplicate", "message": "Same email as another application."}] \
            if rng.random() < 0.03 else []
        pool = [r for r in reviewers if r["departments"][0] == codes[0]]
        aggregates = []
        for reviewer in rng.sample(pool, 2):
            scores = {code: rng.randint(1, 5) for code in RUBRIC_WEIGHTS}
            aggregate = sum(RUBRIC_WEIGHTS[c] * s for c, s in scores.items()) / sum(RUBRIC_WEIGHTS.values())
            aggregates.append(aggregate)
            assignments.append({"reference": reference, "reviewer_id": reviewer["id"], "department": codes[0],
                                "assigned_at": now})
            reviews.append({"reference": reference, "reviewer_id": reviewer["id"], "scores": scores,
                            "aggregate": aggregate, "comment": "Solid profile.", "recommendation": "reserve",
                            "created_at": now, "updated_at": now})
        applications.append({
            "reference": reference, "status": status, "status_at": now,
            "submitted_at": now - timedelta(minutes=n), "name": f"{given} {family}", "given_name": given,
            "family_name": family, "email": f"applicant{n}@bench.example.org", "nationality": rng.choice(NATIONALITIES),
            "date_of_birth": date(2001, 1, 1) + timedelta(days=rng.randint(0, 1500)),
            "correspondence_language": rng.choice(["en", "fr"]), "session": rng.choice(["march", "september"]),
            "education": {"degree_level": "master"}, "languages": {"en": "C1"}, "eligible": status != "ineligible",
            "complete": status != "incomplete", "problems": problems, "dossier_flags": [],
            "score": statistics.fmean(aggregates), "score_spread": max(aggregates) - min(aggregates),
            "reviews_done": 2, "reviews_assigned": 2, "updated_at": now})
        departments += [{"reference": reference, "department": code, "rank": rank}
                        for rank, code in enumerate(codes, start=1)]
    with engine.begin() as connection:
        connection.execute(insert(User), reviewers)
        for model, rows in ((Application, applications), (ApplicationDepartment, departments),
                            (Assignment, assignments), (Review, reviews)):
            for start in range(0, len(rows), 2000):
                connection.execute(insert(model), rows[start:start + 2000])
        connection.execute(text("ANALYZE"))


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1] * 1000


def timed(call, repeat: int, warmup: int = 20) -> tuple[list[float], float]:
    """Wall-clock seconds of each call, and the mean CPU seconds this process spent per call."""
    for _ in range(warmup):
        call()
    samples = []
    cpu = time.process_time()
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples, (time.process_time() - cpu) / repeat


def main() -> list[Row]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--applications", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per figure (default %(default)s)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nip-bench-") as tmp, postgres_databases("review") as databases:
        os.environ.update(VAR_DIR=str(Path(tmp) / "var"), REVIEW_DATABASE_URL=databases["review"])
        os.environ.pop("ADMIN_PASSWORD", None)
        from services.review import create_app
        from services.review.accounts.service import create_user
        from services.review.db import db
        from shared.config import Settings
        from shared.migrate import upgrade

        upgrade("review", databases["review"])
        settings = dataclasses.replace(Settings.from_env(), admin_email=None, admin_password=None)
        app = create_app(settings)
        import logging

        logging.disable(logging.INFO)  # one log line per request would be measured too
        started = time.perf_counter()
        seed(db.engine, args.applications, rng=random.Random(6))
        log(f"seeded {args.applications} applications and {2 * args.applications} reviews "
            f"in {time.perf_counter() - started:.1f} s")
        password = "bench admin password 9a"
        with app.app_context():
            create_user(session=db.session, email="admin@bench.example.org", password=password, role="admin")
            db.session.commit()
        api_client, page_client = app.test_client(), app.test_client()
        token = api_client.post("/api/v1/auth/token", json={"email": "admin@bench.example.org",
                                                             "password": password}).get_json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        form = page_client.get("/login").get_data(as_text=True)
        csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
        page_client.post("/login", data={"email": "admin@bench.example.org", "password": password,
                                         "csrf_token": csrf})

        def get(client, path, **kwargs):
            response = client.get(path, **kwargs)
            assert response.status_code == 200, (path, response.status_code)
            return response

        filtered_total = get(api_client, "/api/v1/applications", headers=headers,
                             query_string=FILTERED).get_json()["total"]
        log(f"filtered view: {filtered_total} applications match")
        engine = db.engine

        def bare(sql: str):
            with engine.connect() as connection:
                connection.execute(text(BARE_COUNTS)).all()
                return connection.execute(text(sql)).all()

        figures = {}
        for name, sql, call in (
                ("list API, unfiltered", BARE_UNFILTERED,
                 lambda: get(api_client, "/api/v1/applications", headers=headers)),
                ("list API, filtered + searched + score-sorted", BARE_FILTERED,
                 lambda: get(api_client, "/api/v1/applications", headers=headers, query_string=FILTERED)),
                ("list page, unfiltered", BARE_UNFILTERED, lambda: get(page_client, "/applications")),
                ("list page, filtered + searched + score-sorted", BARE_FILTERED,
                 lambda: get(page_client, "/applications", query_string=FILTERED))):
            samples, cpu = timed(call, args.requests)
            bare_samples, _ = timed(lambda sql=sql: bare(sql), args.requests)
            figures[name] = (p95(samples), p95(bare_samples), cpu * 1000)
            log(f"{name}: p95 {figures[name][0]:.1f} ms (app process CPU {cpu * 1000:.1f} ms a request), "
                f"bare SELECT p95 {figures[name][1]:.1f} ms")

        def export():
            body = get(api_client, "/api/v1/applications.csv", headers=headers).get_data()
            assert body.count(b"\n") == args.applications + 1

        def bare_export():
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            with engine.connect() as connection:
                for row in connection.execution_options(yield_per=500).execute(
                        select(text("*")).select_from(text("applications")).order_by(text("submitted_at DESC"))):
                    writer.writerow(row)

        csv_times, csv_cpu = timed(export, 5, warmup=1)
        csv_bare, _ = timed(bare_export, 5, warmup=1)
        figures["CSV"] = (statistics.median(csv_times), statistics.median(csv_bare), csv_cpu)
        log(f"CSV of {args.applications}: {figures['CSV'][0]:.2f} s, bare {figures['CSV'][1]:.2f} s")
        db.engine.dispose()
    load = os.getloadavg()[0]
    rows = []
    for name, (figure, baseline, cpu) in figures.items():
        if name == "CSV":
            rows.append(Row(name=f"review CSV export, {args.applications} rows", unit="s", figure=figure,
                            baseline=baseline, aim=f"≤ {2.0 / baseline:.1f}",
                            notes="aim: under 2 s; baseline: the bare SELECT of every row through the same "
                                  f"engine, written with csv.writer; median of 5; app process CPU {cpu:.2f} s; "
                                  f"load average {load:.1f}"))
        else:
            rows.append(Row(name=f"review {name}, {args.applications} applications (p95)", unit="ms",
                            figure=figure, baseline=baseline, aim=f"≤ {50.0 / baseline:.1f}",
                            notes="aim: p95 under 50 ms; baseline: bare SELECT of the same page and the status "
                                  f"counts through the same engine; {args.requests} requests after 20 warm-up, "
                                  f"Flask test client in-process (no HTTP server); app process CPU {cpu:.1f} ms a "
                                  f"request; load average {load:.1f}"))
    return rows


if __name__ == "__main__":
    stop_cleanly_on_sigterm()
    rows = main()
    path = write_results("review_list", rows)
    print(path.read_text())
