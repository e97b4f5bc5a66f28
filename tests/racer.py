"""A process that calls a management command at given wall-clock instants, for the race tests.

``python -m tests.racer START EVERY TIMES housekeeping run solo``: after Django is set up, calls
``manage.py housekeeping run solo`` at START, START + EVERY, ... (TIMES calls), so that two such
processes claim at the same instant, and prints one JSON line per call with its exit status.
"""

from __future__ import annotations

import io
import json
import sys
import time

import django
from django.core.management import CommandError, call_command
from django.db import close_old_connections


def main(argv: list[str]) -> None:
    start, every, times, command = float(argv[0]), float(argv[1]), int(argv[2]), argv[3:]
    django.setup()
    for index in range(times):
        time.sleep(max(start + index * every - time.time(), 0))
        close_old_connections()
        out, err = io.StringIO(), io.StringIO()
        try:
            call_command(*command, stdout=out, stderr=err)
            status, message = 0, ""
        except CommandError as exc:
            status, message = exc.returncode, str(exc)
        print(json.dumps({"call": index, "status": status, "message": message}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
