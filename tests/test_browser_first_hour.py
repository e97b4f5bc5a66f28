"""What a newcomer sees first, in a real browser (Debian's Chromium through Playwright): the
dashboard of a fresh demo (one statistics run: one point per chart), its run list at 1400 px, and
the same dashboard after a week of history.

``HOUSEKEEPING_SCREENSHOTS=docs`` saves the screenshots docs/dashboard.md shows (see there).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from django_housekeeping.models import TaskRun
from tests import test_browser
from tests.helpers import make_lease, make_run, make_user
from tests.test_browser import _example_tasks, admin_log_in, log_in, only_tasks, save_screenshot

# The browser fixtures of tests/test_browser.py, for these tests too.
_static_files = test_browser._static_files
live_server = test_browser.live_server
async_unsafe = test_browser.async_unsafe
browser = test_browser.browser
page = test_browser.page

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("runs_finish", "temporary_tasks"),
]

WIDE = {"width": 1400, "height": 1000}
# The demo's first Daily Housekeeping: what its seed leaves to delete.
PURGED = {
    "conversations": {"chat.Conversation": 2939, "chat.Message": 29390},
    "messages": {"chat.Message": 500},
    "users": {"accounts.User": 19, "accounts.EmailVerification": 3429},
}
STATS = {
    "total_users": 182,
    "total_conversations": 1704,
    "total_messages": 17040,
    "recent_conversations_24h": 171,
    "recent_messages_24h": 1716,
}


def daily_run(age: timedelta, stats: dict[str, int]) -> TaskRun:
    """One Daily Housekeeping group run with its members' runs, as the scheduler records it."""
    results: dict[str, Any] = {
        name: {"deleted": deleted, "total": sum(deleted.values()), "dry_run": False}
        for name, deleted in PURGED.items()
    }
    results["stats"] = stats
    daily = make_run(
        "daily_housekeeping",
        age=age,
        result={
            "tasks": {name: {"status": "succeeded", "result": r} for name, r in results.items()},
            "failed": [],
        },
    )
    for offset, (name, result) in enumerate(results.items()):
        make_run(name, age=age - timedelta(seconds=10 * (offset + 1)), parent=daily, result=result)
    return daily


@pytest.fixture
def demo(settings: Any) -> Iterator[None]:
    """The example project's tasks, a leader, and the admin."""
    settings.HOUSEKEEPING = {"STATISTICS_TASK": "stats"}
    with only_tasks():
        _example_tasks()
        make_user("admin", superuser=True)
        make_lease(heartbeat_age=1, expires_in=29)
        yield


def centre(locator: Locator) -> float:
    box = locator.first.bounding_box()
    assert box is not None
    return box["y"] + box["height"] / 2


@pytest.mark.usefixtures("demo")
def test_a_fresh_demo(page: Page, live_server: Any, tmp_path: Path) -> None:
    daily_run(timedelta(minutes=2), STATS)
    page.set_viewport_size(WIDE)

    log_in(page, live_server, "admin")

    charts = page.locator("#hk-charts figure")
    expect(charts).to_have_count(5)
    for index in range(5):
        chart = charts.nth(index)
        # One point: its value beside the dot, not at the top of the axis.
        expect(chart.locator(".hk-axis-y span")).to_have_count(1)
        expect(chart.locator("path.hk-point")).to_have_count(1)
        label = centre(chart.locator(".hk-axis-y span"))
        dot = centre(chart.locator("path.hk-point"))
        assert abs(label - dot) <= 4, (index, label, dot)
    # The Scheduler panel is as tall as what it says, not as the Statistics panel beside it.
    scheduler = page.locator("section[aria-labelledby='hk-scheduler-title']").bounding_box()
    facts = page.locator("#hk-scheduler").bounding_box()
    statistics = page.locator("section[aria-labelledby='hk-statistics-title']").bounding_box()
    assert scheduler is not None
    assert facts is not None
    assert statistics is not None
    assert statistics["height"] > scheduler["height"] + 100
    assert scheduler["y"] + scheduler["height"] - (facts["y"] + facts["height"]) <= 24
    # A statistics run says its numbers once (a list), not a line of them too.
    stats_row = page.locator("#hk-runs tbody tr", has=page.locator("td", has_text="stats")).first
    expect(stats_row.locator(".hk-numbers")).to_contain_text("Total users182")
    expect(stats_row.locator(".hk-result")).not_to_contain_text("total_users")
    assert stats_row.locator(".hk-result").inner_text().count("182") == 1
    save_screenshot(page, tmp_path, "dashboard-fresh.png", full_page=False)


@pytest.mark.usefixtures("demo")
def test_the_run_list_at_1400_px_shows_whole_results(
    page: Page, live_server: Any, tmp_path: Path
) -> None:
    daily_run(timedelta(minutes=2), STATS)
    page.set_viewport_size(WIDE)

    log_in(page, live_server, "admin")

    users = page.locator("#hk-runs tbody tr", has_text="accounts.EmailVerification 3429").first
    result = users.locator(".hk-result .hk-summary")
    expect(result).to_have_text("deleted 3448 (accounts.EmailVerification 3429, accounts.User 19)")
    # Nothing clipped: the result is as wide as its text, and the table fits its panel.
    assert result.evaluate("node => node.scrollWidth <= node.clientWidth + 1")
    cell = users.locator(".hk-result").bounding_box()
    assert cell is not None
    assert cell["width"] >= 400
    wrap = page.locator("#hk-runs").evaluate(
        "table => table.parentElement.scrollWidth - table.parentElement.clientWidth"
    )
    assert wrap <= 0
    page.locator("#hk-runs").scroll_into_view_if_needed()
    save_screenshot(page, tmp_path, "dashboard-runs.png", full_page=False)


@pytest.mark.usefixtures("demo")
def test_after_a_week_of_history(page: Page, live_server: Any, tmp_path: Path) -> None:
    for day in range(7, -1, -1):
        grown = {
            key: value + (7 - day) * (5 + index * 3)
            for index, (key, value) in enumerate(STATS.items())
        }
        daily_run(timedelta(days=day, minutes=2), grown)
    page.set_viewport_size(WIDE)

    log_in(page, live_server, "admin")
    page.get_by_role("button", name="Show the last 7 days", exact=True).click()
    expect(page.locator("#hk-charts").get_by_role("img").first).to_have_accessible_name(
        re.compile("^Total users over the last 7 days: 217 now")
    )

    users = page.locator("#hk-charts figure").first
    expect(users.locator("path.hk-point")).to_have_count(8)
    expect(users.locator(".hk-axis-y span")).to_have_text(["217", "182"])
    save_screenshot(page, tmp_path, "dashboard-week.png", full_page=False)


@pytest.mark.usefixtures("demo")
def test_the_admin_run_list_at_1400_px_shows_whole_results(
    page: Page, live_server: Any, tmp_path: Path
) -> None:
    daily = daily_run(timedelta(minutes=2), STATS)
    page.set_viewport_size(WIDE)

    admin_log_in(page, live_server, "/admin/django_housekeeping/taskrun/")

    users = TaskRun.objects.get(parent=daily, task_name="users")
    cell = page.locator(f'#result_list tr:has(a[href$="/{users.pk}/change/"]) .field-summary span')
    expect(cell).to_have_text("deleted 3448 (accounts.EmailVerification 3429, accounts.User 19)")
    # Beside both of the admin's sidebars: wrapped, not cut after twenty characters.
    assert cell.evaluate("node => node.scrollWidth <= node.clientWidth + 1")
    assert cell.evaluate("node => node.scrollHeight <= node.clientHeight + 1")
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDE["width"]
    save_screenshot(page, tmp_path, "admin-runs.png", full_page=False)
