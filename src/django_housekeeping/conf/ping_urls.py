"""Cron-monitor check-in URLs: what a valid one is (``E019``), a task's own from a pattern, and
the form logs and faces show (the host only: the path of such a URL is its secret).

A check-in URL is an ``http``/``https`` URL with a host and no query or fragment (the check-ins
append ``/start`` and ``/fail`` to its path). ``HOUSEKEEPING["PING_URL"]`` is a pattern: ``{task}``
in it stands for the task's name (URL-quoted), and it must have one; a task's own ``ping_url``
may use ``{task}`` too, and ``""`` turns the check-ins of that task off.
"""

from __future__ import annotations

from string import Formatter
from typing import Any
from urllib.parse import quote, urlsplit

PLACEHOLDER = "{task}"


def ping_url_problems(value: Any, *, pattern: bool = False) -> list[str]:
    """What is wrong with a check-in URL (one phrase each), for ``E019``; ``pattern``: the
    setting's, which must contain ``{task}``. ``None`` and ``""`` (no check-ins) are valid."""
    if value is None or value == "":
        return []
    if not isinstance(value, str):
        return [f"must be a URL, got {type(value).__name__}"]
    try:
        fields = [name for _, name, _, _ in Formatter().parse(value) if name is not None]
    except ValueError as exc:
        return [f"has unbalanced braces ({exc})"]
    problems = [f"has an unknown placeholder {{{name}}}" for name in fields if name != "task"]
    if pattern and "task" not in fields:
        problems.append("must contain {task}, which stands for each task's name")
    try:
        parts = urlsplit(value.replace(PLACEHOLDER, "task"))
        parts.port  # noqa: B018  # raises ValueError for a port that is no number
    except ValueError:
        return [*problems, "is no URL"]
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problems.append("must be an http:// or https:// URL with a host")
    if parts.query or parts.fragment:
        problems.append("must have no query or fragment (the check-ins append /start, /fail)")
    return problems


def expand(url: str, task_name: str) -> str:
    """The URL of one task: ``{task}`` replaced by its name, URL-quoted."""
    return url.replace(PLACEHOLDER, quote(task_name, safe=""))


def redacted(url: str) -> str:
    """What logs and faces may show of a check-in URL: its scheme and host, not its path (the
    secret of a healthchecks.io or Cronitor URL)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
    except ValueError:
        return "(a malformed URL)"
    return f"{parts.scheme}://{host}/…"
