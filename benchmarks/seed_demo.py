#!/usr/bin/env python
"""The example project's ``seed_demo`` against the same rows saved one by one, in the same run.

    python benchmarks/seed_demo.py                       # 10,000 conversations, 100,000 messages
    python benchmarks/seed_demo.py --conversations 2000 --messages-per 10 --output r.json

On a fresh SQLite database of the example project (in a temporary directory), each measurement in a
new process:

- ``bulk``: ``manage.py seed_demo`` (bulk inserts, what the demo and its test use);
- ``row by row``: as many users, conversations, messages and orphaned messages as it reported,
  created with one ``save()`` each in one transaction — what a naive seeder does.

Both times include starting the process (about half a second).

It prints both times and the speed-up, bulk against row by row; docs/benchmarks.md records them.
The example's tests check what ``seed_demo`` creates, not how fast: speed is measured here.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "example_project"

# The same rows as seed_demo wrote (its report gives the counts), one save() each.
ROW_BY_ROW = """
import sys, django
django.setup()
from datetime import timedelta
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone
from chat.models import Conversation, Message
users, conversations, messages, orphans = map(int, sys.argv[1:5])
now, password = timezone.now(), make_password("demo")
with transaction.atomic():
    people = [
        get_user_model().objects.create(username=f"user{n}", email=f"u{n}@example.com",
                                        password=password)
        for n in range(users)
    ]
    per = messages // conversations
    for number in range(conversations):
        user = people[number % users]
        conversation = Conversation.objects.create(
            user=user, title=f"conversation {number}", created_at=now - timedelta(minutes=number)
        )
        for _ in range(per):
            Message(conversation=conversation, user=user, role="user", content="hello",
                    created_at=conversation.created_at).save()
    for _ in range(orphans):
        Message(conversation=None, user=people[0], role="user", content="hello").save()
"""
REPORT = re.compile(
    r"Created (\d+) users .*?, (\d+) conversations, (\d+) messages and (\d+) orphaned messages"
)


def run(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(args, cwd=EXAMPLE, env=env, check=True, capture_output=True, text=True)
    return time.perf_counter() - started, done.stdout


def measure(conversations: int, messages_per: int) -> tuple[dict[str, float], list[str]]:
    times: dict[str, float] = {}
    counts: list[str] = []
    for variant in ("bulk", "row by row"):
        with tempfile.TemporaryDirectory() as directory:
            env = {
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "core.settings",
                "DATABASE_URL": f"sqlite:///{Path(directory) / 'bench.sqlite3'}",
            }
            manage = [sys.executable, str(EXAMPLE / "manage.py")]
            run([*manage, "migrate", "--verbosity", "0"], env)
            if variant == "bulk":
                command = [
                    *manage,
                    "seed_demo",
                    "--conversations",
                    str(conversations),
                    "--messages-per",
                    str(messages_per),
                ]
            else:
                command = [sys.executable, "-c", ROW_BY_ROW, *counts]
            times[variant], output = run(command, env)
            if variant == "bulk":
                match = REPORT.search(output)
                if match is None:
                    raise SystemExit(f"seed_demo did not report its rows: {output!r}")
                counts = list(match.groups())
    return times, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--messages-per", type=int, default=10)
    parser.add_argument("--output", type=Path, help="Also write the figures here, as JSON.")
    options = parser.parse_args()
    times, counts = measure(options.conversations, options.messages_per)
    rows = sum(map(int, counts))
    speedup = times["row by row"] / times["bulk"]
    for variant, seconds in times.items():
        print(f"{variant:>10}: {rows:,} rows in {seconds:.1f} s ({rows / seconds:,.0f} rows/s)")
    print(f"bulk is {speedup:.1f}x row by row")
    if options.output:
        options.output.write_text(json.dumps({"rows": rows, "seconds": times, "speedup": speedup}))


if __name__ == "__main__":
    main()
