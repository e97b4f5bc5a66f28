#!/usr/bin/env python
"""Scale benchmark: the faces' pages with an empty run history and with N runs.

    python benchmarks/history_scale.py --db postgres --runs 1000000
    python benchmarks/history_scale.py --db mysql --runs 1000000 --output results.json
    python benchmarks/history_scale.py --db sqlite --runs 100000 --repeat 31

Two sites, each in a process of its own with a database created afresh by the library's
migrations: one with an empty history, one with N runs written in SQL, the daily rollup filled
from them (:func:`django_housekeeping.monitoring.rollup.rebuild`; its time is printed) and the
tables analyzed. Every URL below is requested with Django's test client as a logged-in superuser
(session authentication) on the two sites taking turns, request by request (who goes first
alternates): a warm-up round, then ``--repeat`` rounds, and the median of each is kept. So the
ratio of the two compares requests made milliseconds apart, whatever else the machine does.

The runs: eight tasks in turn, spread evenly over the last 90 days (``HISTORY_DAYS``' default),
one in 50 failed, one in 20 a dry run, durations from 0.5 to 60.4 s, purge results (one model,
a count) for the purging tasks and ``{"total_users": n}`` for the statistics task.

Databases: ``--db sqlite`` (a file in a temporary directory), ``postgres`` and ``mysql`` (MySQL or
MariaDB), at ``HOUSEKEEPING_BENCH_POSTGRES_URL`` / ``HOUSEKEEPING_BENCH_MYSQL_URL`` (default
``postgres://postgres@127.0.0.1:5432/hk_scale_bench`` and
``mysql://root@127.0.0.1:3306/hk_scale_bench``; the empty site's database has ``_empty`` added to
its name); the databases are dropped and created again.

The goal (docs/benchmarks.md): every URL within 2x its empty-history latency and under 150 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from databases import (  # benchmarks/databases.py: run as a script from there
    database_settings,
    recreate_database,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_URLS = {
    "postgres": "postgres://postgres@127.0.0.1:5432/hk_scale_bench",
    "mysql": "mysql://root@127.0.0.1:3306/hk_scale_bench",
}
TASKS = (
    "conversations",
    "messages",
    "users",
    "attachments",
    "sessions",
    "exports",
    "uploads",
    "stats",
)
STATISTICS_TASK = "stats"
HISTORY_DAYS = 90
MAX_RATIO = 2.0
MAX_MS = 150.0
ADMIN = "/admin/django_housekeeping/taskrun/"
API = "/api/"
PAGES = {
    "admin changelist": ADMIN,
    "admin changelist ?task_name=": ADMIN + "?task_name=conversations",
    "API runs": API + "runs",
    "API runs ?task=&status=failed": API + "runs?task=conversations&status=failed",
    "API statistics": API + "statistics",
    "API statistics ?task=": API + f"statistics?task={STATISTICS_TASK}",
    "API status": API + "status",
    "API tasks": API + "tasks",
    "dashboard data/": "/dashboard/data/",
}


def urlpatterns_() -> list[Any]:
    from django.contrib import admin
    from django.urls import include, path

    return [
        path("admin/", admin.site.urls),
        path("dashboard/", include("django_housekeeping.urls")),
        path("api/", include("django_housekeeping.api.urls")),
    ]


def __getattr__(name: str) -> Any:  # this module is the ROOT_URLCONF
    if name == "urlpatterns":
        return urlpatterns_()
    raise AttributeError(name)


# --- Django ---------------------------------------------------------------------------------------


def setup_django(db: str, sqlite_path: str, suffix: str = "") -> None:
    """Django's settings for one site; ``suffix`` is added to a server database's name."""
    sys.path.insert(0, str(HERE))
    sys.path.append(str(ROOT / "src"))  # when the package is not installed
    import django
    from django.conf import settings

    database = database_settings(db, sqlite_path, DEFAULT_URLS)
    if db != "sqlite":
        database["NAME"] += suffix
    settings.configure(
        DEBUG=False,
        SECRET_KEY="benchmark-only-not-a-secret",
        ALLOWED_HOSTS=["testserver"],
        DATABASES={"default": database},
        INSTALLED_APPS=[
            "django.contrib.admin",
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "rest_framework",
            "django_apscheduler",
            "django_housekeeping",
        ],
        MIDDLEWARE=[
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
        ],
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "APP_DIRS": True,
                "OPTIONS": {
                    "context_processors": [
                        "django.template.context_processors.request",
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages",
                    ]
                },
            }
        ],
        ROOT_URLCONF="history_scale",
        STATIC_URL="/static/",
        USE_TZ=True,
        TIME_ZONE="Europe/Berlin",
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        REST_FRAMEWORK={
            "DEFAULT_AUTHENTICATION_CLASSES": [
                "rest_framework.authentication.SessionAuthentication"
            ]
        },
        HOUSEKEEPING={"AUTOSTART": False, "STATISTICS_TASK": STATISTICS_TASK},
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
    )
    django.setup()


def register_tasks() -> None:
    from django_housekeeping import housekeeping_task

    for name in TASKS:
        housekeeping_task(name=name, destructive=name != STATISTICS_TASK)(lambda: {})


# --- the history, in SQL --------------------------------------------------------------------------


def fill(runs: int) -> None:
    """``runs`` rows of history, spread over the last ``HISTORY_DAYS`` days, in SQL."""
    from django.db import connection, transaction

    table = "django_housekeeping_taskrun"
    now = datetime.now(UTC).replace(microsecond=0)
    step = HISTORY_DAYS * 86400 / runs  # seconds between two runs
    n_tasks = len(TASKS)
    stats_index = TASKS.index(STATISTICS_TASK)
    task = "CASE {g} % {n} " + " ".join(f"WHEN {i} THEN '{t}'" for i, t in enumerate(TASKS))
    task = task.format(g="{g}", n=n_tasks) + " END"
    status = "CASE WHEN {g} % 50 = 7 THEN 'failed' ELSE 'succeeded' END"
    dry_run = "({g} % 20 = 3)"
    vendor = connection.vendor
    purged = "({g} % 97)"
    if vendor == "mysql":
        parts = ['\'{{"deleted": {{"app.Model": \'', purged, "'}}, \"total\": '", purged, "'}}'"]
        concat = "CONCAT(" + ", ".join(parts) + ")"
        stats_result = "CONCAT('{{\"total_users\": ', {g}, '}}')"
    else:
        parts = ['\'{{"deleted": {{"app.Model": \'', purged, "'}}, \"total\": '", purged, "'}}'"]
        concat = " || ".join(parts)
        stats_result = "'{{\"total_users\": ' || {g} || '}}'"
    result = f"CASE WHEN {{g}} % {n_tasks} = {stats_index} THEN {stats_result} ELSE {concat} END"
    micros = "((({g} % 600) * 100000) + 500000)"
    if vendor == "postgresql":
        started = "%(now)s::timestamptz - make_interval(secs => {g} * %(step)s)"
        duration = f"make_interval(secs => {micros} / 1000000.0)"
        rows = "generate_series(1, %(runs)s) AS s(g)"
        g = "g"
        result_sql = f"({result})::jsonb"
    else:
        if vendor == "mysql":
            started = "TIMESTAMPADD(MICROSECOND, -ROUND({g} * %(step)s * 1000000), %(now)s)"
        else:
            started = (
                "strftime('%%Y-%%m-%%d %%H:%%M:%%f', %(now)s, "
                "'-' || ({g} * %(step)s) || ' seconds')"
            )
        duration = micros
        # INSERT ... SELECT over a thousand-row table of numbers joined with itself.
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS bench_numbers")
            cursor.execute("CREATE TABLE bench_numbers (n INTEGER PRIMARY KEY)")
            cursor.executemany(
                "INSERT INTO bench_numbers (n) VALUES (%s)", [(i,) for i in range(1000)]
            )
        rows = "bench_numbers a CROSS JOIN bench_numbers b WHERE a.n * 1000 + b.n < %(runs)s"
        g = "(a.n * 1000 + b.n + 1)"
        result_sql = result
    columns = ", ".join(
        connection.ops.quote_name(column)
        for column in (
            "task_name",
            "trigger",
            "status",
            "dry_run",
            "started_at",
            "duration",
            "result",
            "error",
            "host",
            "attempt",
        )
    )
    select = (
        f"SELECT {task}, 'schedule', {status}, {dry_run}, {started}, {duration}, "
        f"{result_sql}, '', 'bench', 1"
    ).format(g=g)
    # A modulo is "%", which the drivers' parameter style wants doubled.
    sql = f"INSERT INTO {table} ({columns}) {select} FROM {rows}".replace(" % ", " %% ")
    params = {
        "now": now if vendor == "postgresql" else now.replace(tzinfo=None).isoformat(" "),
        "step": step,
        "runs": runs,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
    if vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE bench_numbers")


def analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM ANALYZE")
        elif connection.vendor == "mysql":
            for table in ("taskrun", "runday", "deletionday"):
                cursor.execute(f"ANALYZE TABLE django_housekeeping_{table}")
                cursor.fetchall()
        else:
            cursor.execute("ANALYZE")


# --- measuring ------------------------------------------------------------------------------------


def site(db: str, history: int, tmp: str, conn: Connection) -> None:
    """One site in a process of its own: its database (``history`` runs in it, or none), a
    logged-in client, then ``("get", url)`` → milliseconds, until ``None``."""
    setup_django(
        db, str(Path(tmp) / f"bench-{history}.sqlite3"), suffix="" if history else "_empty"
    )
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from django_housekeeping.monitoring import rollup

    recreate_database()
    call_command("migrate", verbosity=0)
    register_tasks()
    user = User.objects.create_superuser("bench", "bench@example.com", "bench")
    client = Client()
    client.force_login(user)
    filled_s = rollup_s = 0.0
    if history:
        started = time.perf_counter()
        fill(history)
        filled_s = time.perf_counter() - started
        started = time.perf_counter()
        rollup.rebuild()
        rollup_s = time.perf_counter() - started
    analyze()
    version = ".".join(str(part) for part in connection.get_database_version())
    conn.send((f"{connection.display_name} {version}", filled_s, rollup_s))
    while (message := conn.recv()) is not None:
        _verb, url = message
        started = time.perf_counter()
        response = client.get(url)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            conn.send(f"{url}: {response.status_code} {response.content[:300]!r}")
        else:
            conn.send(elapsed)


def measure(sites: dict[str, Connection], repeat: int) -> dict[str, dict[str, float]]:
    """The median milliseconds of every page on every site. The sites take turns request by
    request (who goes first alternates), so that whatever else the machine does weighs on both
    alike: the ratios compare requests made a few milliseconds apart."""
    samples: dict[str, dict[str, list[float]]] = {name: {} for name in sites}
    order = list(sites)
    for label, url in PAGES.items():
        for round_ in range(repeat + 1):  # the first round warms up
            for name in order if round_ % 2 else reversed(order):
                sites[name].send(("get", url))
                answer = sites[name].recv()
                if isinstance(answer, str):
                    raise SystemExit(answer)
                if round_:
                    samples[name].setdefault(label, []).append(answer)
    return {
        name: {label: statistics.median(values) for label, values in pages.items()}
        for name, pages in samples.items()
    }


def load_average() -> str:
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "mysql"], default="sqlite")
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()

    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        sites: dict[str, Connection] = {}
        processes = []
        facts: dict[str, tuple[str, float, float]] = {}
        load_start = load_average()
        try:
            # One after the other: filling the history takes the machine for a while.
            for name, history in (("empty", 0), ("full", args.runs)):
                ours, theirs = context.Pipe()
                process = context.Process(target=site, args=(args.db, history, tmp, theirs))
                process.start()
                processes.append(process)
                sites[name] = ours
                facts[name] = ours.recv()
            times = measure(sites, args.repeat)
        finally:
            for conn in sites.values():
                with contextlib.suppress(OSError):
                    conn.send(None)
            for process in processes:
                process.join(timeout=60)
        load_end = load_average()
    empty, full = times["empty"], times["full"]
    display, filled_s, rollup_s = facts["full"]

    print(
        f"{args.db} ({display}), {args.runs:,} runs: written in {filled_s:.1f} s, rollup "
        f"filled in {rollup_s:.1f} s; median of {args.repeat}, the two sites taking turns; "
        f"load average {load_start} -> {load_end}; Python {platform.python_version()}"
    )
    print()
    print(f"| URL | empty (ms) | {args.runs:,} runs (ms) | ratio | goal |")
    print("|---|---:|---:|---:|---|")
    results = []
    for label in PAGES:
        ratio = full[label] / empty[label]
        met = ratio <= MAX_RATIO and full[label] < MAX_MS
        print(
            f"| {label} | {empty[label]:.1f} | {full[label]:.1f} | {ratio:.2f}x | "
            f"{'met' if met else 'NOT MET'} |"
        )
        results.append(
            {"url": PAGES[label], "label": label, "empty_ms": empty[label], "full_ms": full[label]}
        )
    if args.output:
        args.output.write_text(
            json.dumps(
                {
                    "db": args.db,
                    "runs": args.runs,
                    "repeat": args.repeat,
                    "fill_seconds": filled_s,
                    "rollup_seconds": rollup_s,
                    "results": results,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
