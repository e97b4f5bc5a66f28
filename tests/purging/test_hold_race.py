"""Holds and purges serialize (issue 22): real processes place legal holds and erase rows just
ahead of a purge of 100,000 rows in small batches; every hold ``place()`` returned keeps its
row, the others are refused with :class:`~django_housekeeping.holds.HoldRefused`, and every row
is deleted once, by the purge or by an erasure."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from django_housekeeping.models import LegalHold
from tests.helpers import Processes, process_environment, wait_for
from tests.testapp.models import Post, Thread

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.processes]

POSTS_PER_THREAD = 4
BATCH = 100  # threads per batch: 500 rows with their posts


def seed(threads: int) -> None:
    """``threads`` old threads with their posts (five rows each), and five young ones."""
    old = timezone.now() - timedelta(days=40)
    Thread.objects.bulk_create(
        [Thread(title=f"old-{i}", created_at=old) for i in range(threads)]
        + [Thread(title=f"young-{i}", created_at=timezone.now()) for i in range(5)],
        batch_size=5000,
    )
    pks = list(Thread.objects.order_by("pk").values_list("pk", flat=True))
    Post.objects.bulk_create(
        (Post(thread_id=pk, body=f"{pk}/{i}") for pk in pks for i in range(POSTS_PER_THREAD)),
        batch_size=5000,
    )


def race(processes: Processes, tmp_path: Path, roles: list[str], archive: bool) -> dict[str, Any]:
    """Start the purge and the ``roles`` (children of tests/purging/holdrace.py) together; once
    the purge is done, stop the others. The purge's result and each role's lines."""
    stop = tmp_path / "stop"
    outputs = {role: tmp_path / f"{role}.out" for role in ["purge", *roles]}
    children = {}
    for role in [*roles, "purge"]:  # the racers first: they are there when the purge begins
        processes.env.update(
            HOLDRACE_ROLE=role,
            HOLDRACE_OUT=str(outputs[role]),
            HOLDRACE_BATCH=str(BATCH),
            HOLDRACE_STOP=str(stop),
            HOLDRACE_ARCHIVE=str(tmp_path / "archive.jsonl.gz") if archive else "",
            # SQLite's busy handler is not fair: a process waiting for the write lock rarely
            # gets it between two batches of a purge that takes it again at once.
            HOLDRACE_PAUSE="0.5" if connection.vendor == "sqlite" else "",
        )
        children[role] = processes.django(
            role, "shell", "-c", "from tests.purging.holdrace import main; main()"
        )
    purge = children["purge"]
    wait_for(lambda: purge.poll() is not None, 240, "the purge to end")
    assert purge.returncode == 0, processes.logs()
    stop.write_text("stop")
    for role in roles:
        child = children[role]
        wait_for(lambda child=child: child.poll() is not None, 60, f"the {role} process to end")
        assert child.returncode == 0, processes.logs()
    lines = {
        role: [json.loads(line) for line in outputs[role].read_text().splitlines()]
        for role in roles
    }
    return {"purge": json.loads(outputs["purge"].read_text()), **lines}


def assert_holds_kept(lines: list[dict[str, Any]]) -> int:
    """Every hold placed keeps its row (and a held post its thread); every other attempt was
    refused with HoldRefused or found its row gone before trying. How many were placed."""
    errors = [line for line in lines if line["outcome"] not in ("placed", "refused", "gone")]
    assert not errors, errors[:5]
    placed_threads = {line["pk"] for line in lines if line.get("model") == "thread"}
    placed_posts = {line["pk"] for line in lines if line.get("model") == "post"}
    lost_threads = placed_threads - set(
        Thread.objects.filter(pk__in=placed_threads).values_list("pk", flat=True)
    )
    lost_posts = placed_posts - set(
        Post.objects.filter(pk__in=placed_posts).values_list("pk", flat=True)
    )
    assert (lost_threads, lost_posts) == (set(), set()), (
        f"{len(lost_threads)} of {len(placed_threads)} held threads and {len(lost_posts)} of "
        f"{len(placed_posts)} held posts were deleted"
    )
    # Every confirmed hold is active, on a row that exists.
    assert LegalHold.objects.filter(released_at=None).count() == len(lines) - sum(
        line["outcome"] != "placed" for line in lines
    )
    return len(placed_threads) + len(placed_posts)


@pytest.fixture
def processes(tmp_path: Path) -> Processes:
    return Processes(process_environment(lease_ttl=30), tmp_path)


@pytest.mark.parametrize("archive", [False, True], ids=["archive-off", "archive-on"])
def test_holds_placed_just_ahead_of_a_purge_keep_their_rows_or_are_refused(
    processes: Processes, tmp_path: Path, archive: bool
) -> None:
    threads = 20_000  # 100,000 rows with their posts
    seed(threads)

    result = race(processes, tmp_path, ["place"], archive)

    lines = result["place"]
    placed = assert_holds_kept(lines)
    assert placed >= 10, lines[:20]  # the race happened: holds were placed during the purge
    assert {line.get("model") for line in lines if line["outcome"] == "placed"} == {
        "thread",
        "post",
    }
    # What the purge kept is what the holds keep; everything else of the old threads is gone.
    kept = Thread.objects.filter(title__startswith="old")
    assert kept.count() == result["purge"]["held"].get("testapp.Thread", 0)
    assert result["purge"]["deleted"]["testapp.Thread"] == threads - kept.count()
    assert Post.objects.count() == POSTS_PER_THREAD * (kept.count() + 5)


def test_erasures_and_holds_racing_a_purge(processes: Processes, tmp_path: Path) -> None:
    threads = 6_000  # 30,000 rows
    seed(threads)

    result = race(processes, tmp_path, ["place", "erase"], archive=False)

    assert_holds_kept(result["place"])
    erasures = result["erase"]
    errors = [line for line in erasures if line["outcome"] not in ("erased", "held", "gone")]
    assert not errors, errors[:5]
    erased = [line for line in erasures if line["outcome"] == "erased"]
    assert erased, erasures[:20]
    assert {line["status"] for line in erased} == {"erased"}
    # An erasure that returned deleted its thread (or found it deleted by the purge): it is gone.
    assert not Thread.objects.filter(pk__in=[line["thread"] for line in erased]).exists()
    # Each row was deleted once: the purge's and the erasures' counts add up to the rows gone.
    kept = Thread.objects.filter(title__startswith="old").count()
    for label, model, rows in (
        ("testapp.Thread", Thread, threads),
        ("testapp.Post", Post, POSTS_PER_THREAD * threads),
    ):
        by_erasures = sum(line["deleted"].get(label, 0) for line in erased)
        gone = rows + (5 if model is Thread else 5 * POSTS_PER_THREAD) - model.objects.count()
        assert result["purge"]["deleted"].get(label, 0) + by_erasures == gone, label
    assert kept == result["purge"]["held"].get("testapp.Thread", 0)
