"""The dashboard in a real browser: Playwright driving Debian's Chromium against the live server.

``HOUSEKEEPING_SCREENSHOTS=docs`` also saves the screenshots there (docs/dashboard.png is one).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib import admin
from django.test import Client, override_settings
from django.utils import timezone
from django_apscheduler.models import DjangoJob
from playwright.sync_api import Browser, Page, expect, sync_playwright

import django_housekeeping
from django_housekeeping import group, holds, housekeeping_task, registry, retention
from django_housekeeping.models import TaskRun
from django_housekeeping.monitoring.rollup import run_day
from django_housekeeping.running import control
from tests.helpers import (
    DASHBOARD,
    PASSWORD,
    make_lease,
    make_run,
    make_user,
    wait_for,
)
from tests.testapp.models import Chat, ChatLine, Thread

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 30_000
OPERATOR = ["view_taskrun", "run_task"]
STATIC_ROOT = Path(django_housekeeping.__file__).parent / "static"

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("runs_finish", "temporary_tasks"),
]


@pytest.fixture(scope="session")
def _static_files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Static files for the live server when ``django.contrib.staticfiles`` is not installed.

    The live server then serves STATIC_ROOT at STATIC_URL, which it reads when it starts (so this
    comes first): here the admin's and this app's static directories.
    """
    if "django.contrib.staticfiles" in settings.INSTALLED_APPS:
        yield
        return
    root = tmp_path_factory.mktemp("static")
    (root / "admin").symlink_to(Path(admin.__file__).parent / "static" / "admin")
    (root / "django_housekeeping").symlink_to(STATIC_ROOT / "django_housekeeping")
    with override_settings(STATIC_URL=settings.STATIC_URL or "/static/", STATIC_ROOT=str(root)):
        yield


@pytest.fixture(scope="session")
def live_server(_static_files: None, live_server: Any) -> Any:
    return live_server


@pytest.fixture(scope="module")
def async_unsafe() -> Iterator[None]:
    """Django's ORM in this thread, where Playwright's sync API runs an event loop.

    For as long as the browser runs: the tests' own queries, and the database setup and flushes
    of the transactional tests around them.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


@pytest.fixture(scope="module")
def browser(async_unsafe: None) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser, live_server: Any) -> Iterator[Page]:
    """A fresh browser context (no cookies) whose page may load nothing but the live server."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    elsewhere: list[str] = []
    errors: list[str] = []

    def note(request: Any) -> None:
        if not request.url.startswith((live_server.url, "data:")):
            elsewhere.append(request.url)

    page.on("request", note)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: (
            errors.append(message.text)
            # A 404 (the admin login page's favicon) or a refused request a test makes on purpose.
            if message.type == "error" and not message.text.startswith("Failed to load resource")
            else None
        ),
    )
    yield page
    context.close()
    assert elsewhere == []
    assert errors == []


def log_in(page: Page, live_server: Any, username: str) -> None:
    page.goto(live_server.url + DASHBOARD)
    expect(page).to_have_url(f"{live_server.url}/admin/login/?next={DASHBOARD}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")


def day_label(day: date) -> str:
    """A day as the charts' time axis labels it in the tests' en-GB locale: "30 Nov"."""
    return f"{day.day} {day.strftime('%b')}"


def assert_fits(page: Page) -> None:
    """Nothing on the page is wider than the window: no horizontal scrolling, and no chart,
    axis or run result sticking out of its panel."""
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    sticking_out = page.evaluate(
        """() => Array.from(document.querySelectorAll(
            ".hk-plot, .hk-axis-x, .hk-chart-svg, .hk-chart figcaption, .hk-result, .hk-numbers,"
            + " .hk-empty-row td"
        )).filter((node) => {
            const panel = node.closest(".hk-panel").getBoundingClientRect();
            const box = node.getBoundingClientRect();
            return box.width && (box.left < panel.left - 0.5 || box.right > panel.right + 0.5);
        }).map((node) => node.className.baseVal ?? node.className)"""
    )
    assert sticking_out == []


def save_screenshot(page: Page, tmp_path: Path, name: str, *, full_page: bool = True) -> Path:
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=full_page)
    target = os.environ.get("HOUSEKEEPING_SCREENSHOTS")
    if target:
        (Path(target) / name).write_bytes(path.read_bytes())
    return path


# -- the tests -------------------------------------------------------------------------------


def test_staff_dry_run_then_run_a_task_without_reloading(
    page: Page, live_server: Any, tmp_path: Path
) -> None:
    make_user("operator", staff=True, permissions=OPERATOR)
    for age in (40, 50, 60):
        Thread.objects.create(title=f"{age} days", created_at=timezone.now() - timedelta(days=age))
    Thread.objects.create(title="new", created_at=timezone.now())

    log_in(page, live_server, "operator")

    expect(page).to_have_url(live_server.url + DASHBOARD)
    jobs = page.locator("#hk-tasks tbody tr")
    expect(jobs).to_have_count(len(registry))
    expect(page.locator("#hk-tasks tr[data-task='threads']")).to_contain_text(
        "Delete threads older than N days"
    )
    expect(page.locator("#hk-tasks tr[data-task='record']")).to_contain_text("every")
    page.evaluate("window.hkSamePage = true")

    page.get_by_role("button", name="Dry-run threads", exact=True).click()

    activity = page.locator("#hk-activity li").first
    expect(activity).to_contain_text("threads (dry run)")
    expect(activity).to_contain_text("would delete 3 (testapp.Thread 3)")
    expect(activity).to_contain_text("testapp.Thread: 3")
    assert Thread.objects.count() == 4
    assert page.evaluate("window.hkSamePage") is True

    page.get_by_role("button", name="Run threads", exact=True).click()

    dialog = page.locator("#hk-confirm")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Run threads now?")
    expect(dialog).to_contain_text("testapp.Thread: 3")
    page.get_by_role("button", name="Delete and run threads", exact=True).click()

    expect(dialog).to_be_hidden()
    expect(page.locator("#hk-activity li").first).to_contain_text("deleted 3 (testapp.Thread 3)")
    newest = page.locator("#hk-runs tbody tr").first
    expect(newest).to_contain_text("threads")
    expect(newest).to_contain_text("succeeded")
    expect(newest).to_contain_text("deleted 3")
    expect(newest).to_contain_text("testapp.Thread: 3")
    expect(page.locator("#hk-error")).to_be_hidden()
    assert page.evaluate("window.hkSamePage") is True
    assert Thread.objects.count() == 1
    runs = list(TaskRun.objects.filter(task_name="threads").order_by("id"))
    # The dry run, the dry run behind the confirmation, the run.
    assert [(run.dry_run, run.trigger, run.status) for run in runs] == [
        (True, "dashboard", "succeeded"),
        (True, "dashboard", "succeeded"),
        (False, "dashboard", "succeeded"),
    ]
    save_screenshot(page, tmp_path, "dashboard-after-run.png")


def test_cancelling_the_confirmation_deletes_nothing(page: Page, live_server: Any) -> None:
    make_user("operator", staff=True, permissions=OPERATOR)
    Thread.objects.create(title="old", created_at=timezone.now() - timedelta(days=90))
    log_in(page, live_server, "operator")

    page.get_by_role("button", name="Run threads", exact=True).click()
    expect(page.locator("#hk-confirm")).to_contain_text("testapp.Thread: 1")
    page.get_by_role("button", name="Cancel", exact=True).click()

    expect(page.locator("#hk-confirm")).to_be_hidden()
    expect(page.get_by_role("button", name="Run threads", exact=True)).to_be_enabled()
    assert Thread.objects.count() == 1
    assert list(TaskRun.objects.values_list("dry_run", flat=True)) == [True]


def test_the_live_progress_of_a_running_purge(page: Page, live_server: Any) -> None:
    halfway, release = threading.Event(), threading.Event()

    @housekeeping_task(name="slow_purge", description="A purge in batches")
    def slow_purge(ctx: Any) -> dict[str, Any]:
        ctx.progress(2, 4)
        halfway.set()
        release.wait(TIMEOUT_MS / 1000)
        ctx.progress(4, 4)
        return {"deleted": {"testapp.Thread": 4}, "total": 4, "dry_run": ctx.dry_run}

    make_user("operator", staff=True, permissions=OPERATOR)
    log_in(page, live_server, "operator")
    try:
        page.get_by_role("button", name="Dry-run slow_purge", exact=True).click()
        assert halfway.wait(TIMEOUT_MS / 1000)
        progress = page.get_by_role("progressbar", name="Progress of slow_purge run")
        expect(progress).to_have_attribute("value", "2")
        expect(progress).to_have_attribute("max", "4")
        expect(page.locator("#hk-activity li").first).to_contain_text("2 of 4 (50 %) done")
    finally:
        release.set()
    expect(page.locator("#hk-activity li").first).to_contain_text("would delete 4")


def test_cancel_on_the_dashboard_asks_then_stops_the_run(page: Page, live_server: Any) -> None:
    halfway, release = threading.Event(), threading.Event()
    steps: list[int] = []

    @housekeeping_task(name="long_purge", description="A purge in batches")
    def long_purge(ctx: Any) -> None:
        ctx.progress(1, 4)
        halfway.set()
        release.wait(TIMEOUT_MS / 1000)
        steps.append(2)
        ctx.progress(2, 4)  # raises RunCancelled: the run was cancelled meanwhile
        steps.append(3)

    make_user("operator", staff=True, permissions=OPERATOR)
    log_in(page, live_server, "operator")
    try:
        page.get_by_role("button", name="Dry-run long_purge", exact=True).click()
        assert halfway.wait(TIMEOUT_MS / 1000)
        page.get_by_role("button", name="Cancel long_purge run", exact=False).click()
        expect(page.locator("#hk-confirm-title")).to_contain_text("Cancel long_purge run")
        page.locator("#hk-confirm-ok").click()
        # The request's answer ("Asked run #… to stop") shows until the next refresh redraws
        # the run from the server, which then says it is being cancelled: wait for that state.
        expect(page.locator("#hk-activity li").first).to_contain_text(
            "Cancelling: it stops at its next progress step"
        )
        wait_for(
            lambda: TaskRun.objects.filter(
                task_name="long_purge", cancel_requested_at__isnull=False
            ).exists(),
            TIMEOUT_MS / 1000,
            "the cancel to be stored",
        )
    finally:
        release.set()
    wait_for(
        lambda: TaskRun.objects.filter(task_name="long_purge", status="cancelled").exists(),
        TIMEOUT_MS / 1000,
        "the run to end cancelled",
    )
    expect(page.locator("#hk-activity li").first.locator(".hk-cancelled")).to_be_visible()
    assert steps == [2]


def test_the_page_refreshes_itself_every_30_seconds(page: Page, live_server: Any) -> None:
    make_user("operator", staff=True, permissions=OPERATOR)
    # The page's clock stands still from the start: its 30-second timer counts only what the test
    # lets pass, however long the login takes on a busy machine.
    start = timezone.now()
    page.clock.install(time=start)
    page.clock.pause_at(start + timedelta(seconds=1))
    log_in(page, live_server, "operator")
    expect(page.locator("#hk-runs tbody tr[data-run]")).to_have_count(0)
    expect(page.locator("#hk-runs tbody")).to_contain_text("No runs yet")
    page.evaluate("window.hkSamePage = true")

    run = make_run("record", result={"threads": 0})
    page.clock.run_for(29_000)
    expect(page.locator("#hk-runs tbody tr[data-run]")).to_have_count(0)
    with page.expect_response(lambda response: "/data/" in response.url):
        page.clock.run_for(1_000)

    expect(page.locator(f"#hk-runs tr[data-run='{run.pk}']")).to_contain_text("succeeded")
    assert page.evaluate("window.hkSamePage") is True


def test_a_user_who_is_not_staff_cannot_log_in_to_it(page: Page, live_server: Any) -> None:
    make_user("visitor")

    log_in(page, live_server, "visitor")

    expect(page).to_have_url(f"{live_server.url}/admin/login/?next={DASHBOARD}")
    expect(page.locator(".errornote")).to_contain_text(
        "Please enter the correct username and password for a staff account."
    )
    expect(page.locator("#hk-tasks")).to_have_count(0)


def test_a_user_without_the_view_permission_is_refused_with_a_session(
    page: Page, live_server: Any
) -> None:
    """Logged in elsewhere on the site (not through the admin), and still refused."""
    client = Client()
    client.force_login(make_user("visitor"))
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
    )

    refused = page.goto(live_server.url + DASHBOARD)

    assert refused is not None
    assert refused.status == 403
    expect(page.locator("#hk-tasks")).to_have_count(0)
    response = page.request.get(live_server.url + DASHBOARD + "data/")
    assert response.status == 403
    assert response.json() == {"detail": control.denial_message(control.VIEW)}


def test_anonymous_visitors_get_the_login_page(page: Page, live_server: Any) -> None:
    response = page.goto(live_server.url + DASHBOARD + "data/")

    assert response is not None
    assert response.status == 401
    page.goto(live_server.url + DASHBOARD)
    expect(page).to_have_url(f"{live_server.url}/admin/login/?next={DASHBOARD}")


def test_staff_without_the_run_permission_get_no_buttons(page: Page, live_server: Any) -> None:
    make_user("viewer", staff=True, permissions=["view_taskrun"])

    log_in(page, live_server, "viewer")

    expect(page.locator("#hk-tasks tbody tr")).to_have_count(len(registry))
    expect(page.locator("button[data-action]")).to_have_count(0)
    expect(page.locator("#hk-all-actions")).to_contain_text("You may look, not run")


@pytest.mark.usefixtures("example_site")
def test_the_dashboard_with_statistics_at_phone_and_desktop_width(
    page: Page, live_server: Any, tmp_path: Path
) -> None:
    log_in(page, live_server, "admin")

    cards = page.locator("#hk-cards .hk-card")
    expect(cards).to_have_count(5)
    expect(cards.first).to_contain_text("Total users")
    expect(cards.first).to_contain_text("1,284")
    charts = page.locator("#hk-charts").get_by_role("img")
    expect(charts).to_have_count(5)
    expect(charts.first).to_have_accessible_name(
        "Total users over the last 30 days: 1,284 now, lowest 1,180, highest 1,284, 12 runs."
    )
    deleted = page.get_by_role("img", name=re.compile("^Rows deleted per day"))
    expect(deleted).to_have_accessible_name(
        re.compile(r"^Rows deleted per day over the last 30 days: [\d,]+ in all, at most ")
    )
    purge_days = {
        timezone.localdate(run.started_at)
        for run in TaskRun.objects.filter(dry_run=False, result__has_key="deleted")
    }
    expect(page.locator("#hk-chart-rows-deleted rect.hk-bar")).to_have_count(len(purge_days))
    durations = page.locator("#hk-durations li")
    expect(durations).to_have_count(5)
    expect(page.locator("#hk-durations li[data-task='messages']")).to_contain_text(
        "p50 5.00 s · p95 6.00 s · 29 runs"
    )
    expect(page.locator("#hk-durations li[data-task='users']")).to_contain_text("1 failed")
    expect(page.locator("#hk-scheduler")).to_contain_text("Healthhealthy")
    expect(page.locator("#hk-problems")).to_have_count(0)
    expect(page.locator("#hk-scheduler")).to_contain_text("Schedulerrunning")
    expect(page.locator("#hk-scheduler")).to_contain_text("web-1 (pid 4242)")
    expect(page.locator("#hk-tasks tr[data-task='stats']")).to_contain_text("in 2 h")
    expect(page.locator("#hk-runs tbody tr", has_text="would delete 252")).to_contain_text(
        "chat.Conversation: 12"
    )
    progress = page.get_by_role("progressbar", name="Progress of users run")
    expect(progress).to_have_attribute("value", "1200")
    expect(page.locator("#hk-activity li").first).to_contain_text("1,200 of 4,800 (25 %) done")
    # The charts' axes: the period's first, middle and last day under each, its highest and
    # lowest value beside it, the range in the caption; every point and day says its value.
    users = page.locator("#hk-charts figure").first
    days = [timezone.localdate() - timedelta(days=30), timezone.localdate()]
    expect(users.locator(".hk-axis-x span")).to_have_count(3)
    expect(users.locator(".hk-axis-x span").first).to_have_text(day_label(days[0]))
    expect(users.locator(".hk-axis-x span").last).to_have_text(day_label(days[1]))
    expect(users.locator(".hk-axis-y span")).to_have_text(["1,284", "1,180"])
    expect(users.locator("figcaption")).to_have_text("Total users1,180 \u2013 1,284")
    points = users.locator("path.hk-point")
    expect(points).to_have_count(12)
    expect(points.last.locator("title")).to_have_text(re.compile(r": 1,284 \(run #\d+\)$"))
    points.nth(3).hover(force=True)  # a dot is a zero-length stroke: no box, still hoverable
    expect(users.locator(".hk-readout")).to_have_text(re.compile(r"^\d+ \w+, \d\d:\d\d: 1,203$"))
    page.mouse.move(0, 0)
    expect(users.locator(".hk-readout")).to_have_text("1,180 \u2013 1,284")
    rows_deleted = page.locator("#hk-chart-rows-deleted")
    expect(rows_deleted.locator("g.hk-day")).to_have_count(31)
    expect(rows_deleted.locator(".hk-axis-x span").first).to_have_text(day_label(days[0]))
    expect(rows_deleted.locator(".hk-axis-x span").last).to_have_text(day_label(days[1]))
    expect(rows_deleted.locator(".hk-axis-y span").last).to_have_text("0")
    expect(rows_deleted.locator("g.hk-day").first.locator("title")).to_have_text(
        f"{day_label(days[0])}: 0 rows"  # the history begins 28 days ago
    )
    # A statistics run shows its numbers, not JSON; a purge its counts per model, folded.
    stats_run = page.locator("#hk-runs tbody tr", has=page.locator("td", has_text="stats")).first
    expect(stats_run.locator(".hk-numbers")).to_contain_text("Total users1,284")
    expect(page.locator("#hk-runs")).not_to_contain_text('{"')
    purge = page.locator("#hk-runs tbody tr", has_text="would delete 252")
    expect(purge.locator("details summary")).to_have_text("2 models")
    expect(purge.locator("details li").first).not_to_be_visible()
    purge.locator("details summary").click()
    expect(purge.locator("details li").first).to_be_visible()

    page.get_by_role("button", name="Show the last 7 days", exact=True).click()
    expect(charts.first).to_have_accessible_name(
        "Total users over the last 7 days: 1,284 now, lowest 1,250, highest 1,284, 4 runs."
    )
    expect(users.locator(".hk-axis-x span").first).to_have_text(
        day_label(timezone.localdate() - timedelta(days=7))
    )
    expect(users.locator(".hk-axis-y span")).to_have_text(["1,284", "1,250"])
    expect(rows_deleted.locator("g.hk-day")).to_have_count(8)
    page.get_by_role("button", name="Show the last 30 days", exact=True).click()
    expect(charts.first).to_have_accessible_name(re.compile("last 30 days"))
    page.set_viewport_size({"width": 1280, "height": 2000})  # down to the first recent runs
    save_screenshot(page, tmp_path, "dashboard.png", full_page=False)

    page.set_viewport_size({"width": 390, "height": 844})

    expect(page.get_by_role("button", name="Run all tasks", exact=True)).to_be_visible()
    assert_fits(page)
    # Below the fold, at phone width too: the charts' axes and the runs' folded counts.
    page.locator("#hk-charts").evaluate("node => node.scrollIntoView()")
    save_screenshot(page, tmp_path, "dashboard-phone.png", full_page=False)
    expect(users.locator(".hk-axis-x span").last).to_be_visible()
    expect(users.locator(".hk-axis-y span").first).to_be_visible()
    expect(purge.locator("details li").first).to_be_visible()
    assert_fits(page)


@pytest.mark.usefixtures("example_site")
def test_the_dashboard_of_a_site_without_a_statistics_task(
    page: Page, live_server: Any, tmp_path: Path, settings: Any
) -> None:
    settings.HOUSEKEEPING = {}
    failed = make_run(
        "messages", status=TaskRun.Status.FAILED, error="OperationalError: the disk is full"
    )

    log_in(page, live_server, "admin")

    # The health says what is wrong, with a link to the run that failed.
    expect(page.locator("#hk-scheduler")).to_contain_text("Healthunhealthy")
    problem = page.locator("#hk-problems li[data-code='failed']")
    expect(problem).to_contain_text(
        f"messages: its last run (#{failed.pk}) failed: OperationalError: the disk is full"
    )
    expect(problem.get_by_role("link", name=f"Open run #{failed.pk}")).to_have_attribute(
        "href", f"/admin/django_housekeeping/taskrun/{failed.pk}/change/"
    )

    expect(page.locator("#hk-statistics-note")).to_contain_text(
        'The site\'s own statistics appear here when HOUSEKEEPING["STATISTICS_TASK"] names'
    )
    expect(page.locator("#hk-cards .hk-card")).to_have_count(0)
    expect(page.locator("#hk-charts").get_by_role("img")).to_have_count(0)
    expect(page.get_by_role("img", name=re.compile("^Rows deleted per day over"))).to_be_visible()
    expect(page.locator("#hk-durations li")).to_have_count(5)
    page.get_by_role("button", name="Show the last 7 days", exact=True).click()
    durations = page.get_by_role("list", name="Run durations per task over the last 7 days")
    # The window is whole days: which of the daily runs (an hour before this time of day, day
    # after day) fall in it depends on the time of day the test runs at.
    first_day = run_day(timezone.now() - timedelta(days=7))
    runs = sum(
        run_day(started) >= first_day
        for started in TaskRun.objects.filter(task_name="messages").values_list(
            "started_at", flat=True
        )
    )
    expect(durations.locator("li[data-task='messages']")).to_contain_text(
        f"· {runs} runs, 1 failed"
    )
    expect(page.locator("#hk-error")).to_be_hidden()
    save_screenshot(page, tmp_path, "dashboard-no-statistics-task.png", full_page=False)


def test_the_empty_states_of_a_new_site(
    page: Page, live_server: Any, tmp_path: Path, settings: Any
) -> None:
    """Every panel says in a sentence that it has nothing yet, at desktop and phone width."""
    settings.HOUSEKEEPING = {}
    make_user("admin", superuser=True)
    with only_tasks():
        log_in(page, live_server, "admin")

        expect(page.locator("#hk-runs tbody tr")).to_have_text(
            ["No runs yet: the runs of every task, however started, appear here."]
        )
        expect(page.locator("#hk-tasks tbody tr")).to_have_text(
            ["No tasks yet: the tasks in every installed app's housekeeping.py appear here."]
        )
        expect(page.locator("#hk-all-actions button")).to_have_count(0)
        expect(page.locator("#hk-activity-empty")).to_have_text(
            "Runs you start here, and runs in progress, appear here."
        )
        expect(page.locator("#hk-scheduler")).to_contain_text("none: no scheduler is running")
        expect(page.locator("#hk-statistics-note")).to_contain_text(
            "The site's own statistics appear here when"
        )
        expect(page.locator("#hk-cards .hk-card")).to_have_count(0)
        rows_deleted = page.locator("#hk-chart-rows-deleted")
        expect(rows_deleted.locator(".hk-chart-empty")).to_have_text(
            "No rows deleted in the last 30 days."
        )
        expect(rows_deleted.locator(".hk-axis-x span")).to_have_count(3)
        expect(page.locator("#hk-durations")).to_contain_text("No runs in the last 30 days.")
        save_screenshot(page, tmp_path, "dashboard-empty.png")
        page.set_viewport_size({"width": 390, "height": 844})
        assert_fits(page)
        save_screenshot(page, tmp_path, "dashboard-empty-phone.png")

        # A statistics task that has not run yet; then one whose numbers are older than the period.
        @housekeeping_task(name="stats", description="Statistics", destructive=False)
        def stats() -> dict[str, int]:
            return {"total_users": 3}

        settings.HOUSEKEEPING = {"STATISTICS_TASK": "stats"}
        page.get_by_role("button", name="Refresh the dashboard now").click()
        expect(page.locator("#hk-statistics-note")).to_have_text(
            "No statistics yet: run the stats task."
        )
        expect(page.locator("#hk-tasks tbody tr[data-task='stats']")).to_be_visible()
        make_run("stats", age=timedelta(days=40), result={"total_users": 3})
        page.get_by_role("button", name="Refresh the dashboard now").click()
        expect(page.locator("#hk-cards .hk-card")).to_have_text(["3Total users"])
        chart = page.locator("#hk-charts figure")
        expect(chart.locator(".hk-chart-empty")).to_have_text("No data in the last 30 days.")
        expect(chart.locator("figcaption")).to_have_text("Total usersno data")
        expect(chart.locator(".hk-axis-x span")).to_have_count(3)
        expect(page.locator("#hk-runs tbody tr[data-run]")).to_have_count(1)
        assert_fits(page)


@pytest.mark.usefixtures("example_site")
def test_a_dry_run_of_the_statistics_task_feeds_no_statistics(page: Page, live_server: Any) -> None:
    registry.unregister("stats")

    @housekeeping_task(name="stats", description="Statistics", destructive=False)
    def stats() -> dict[str, int]:
        return {"total_users": 99_999, "total_messages": 1}

    latest = TaskRun.objects.filter(task_name="stats").latest("started_at")
    log_in(page, live_server, "admin")
    cards = page.locator("#hk-cards .hk-card")
    users = page.locator("#hk-charts").get_by_role("img").first
    name = "Total users over the last 30 days: 1,284 now, lowest 1,180, highest 1,284, 12 runs."
    expect(users).to_have_accessible_name(name)

    page.get_by_role("button", name="Dry-run stats", exact=True).click()

    activity = page.locator("#hk-activity li").first
    expect(activity).to_contain_text("stats (dry run)")
    expect(activity.locator(".hk-numbers")).to_contain_text("Total users99,999")
    dry = TaskRun.objects.get(task_name="stats", dry_run=True)
    expect(page.locator(f"#hk-runs tr[data-run='{dry.pk}']")).to_contain_text("dry run")
    # The page has refreshed (the dry run is in the recent runs): the numbers are the real runs'.
    expect(cards.first).to_contain_text("1,284")
    expect(users).to_have_accessible_name(name)
    expect(page.locator("#hk-statistics-note")).to_contain_text(f"run #{latest.pk},")
    expect(page.locator("#hk-durations li[data-task='stats']")).to_contain_text("· 12 runs")
    data = page.request.get(live_server.url + DASHBOARD + "data/").json()["statistics"]
    assert data["run_id"] == latest.pk
    assert data["statistics"]["total_users"] == 1284
    assert dry.pk not in {p["run_id"] for series in data["series"] for p in series["points"]}
    assert data["housekeeping"]["tasks"]["stats"]["runs"] == {"succeeded": 12}


def test_the_page_loads_without_a_failed_request(page: Page, live_server: Any) -> None:
    """Its favicon included: no 404 in the console."""
    make_user("operator", staff=True, permissions=OPERATOR)
    log_in(page, live_server, "operator")  # the admin's login page has no favicon: a 404
    expect(page).to_have_url(live_server.url + DASHBOARD)
    # A second tab of the same session, watched from its first request (a reload would abort the
    # first tab's requests in flight, and count them as failed).
    tab = page.context.new_page()
    failed: list[str] = []
    console: list[str] = []
    tab.on("requestfailed", lambda request: failed.append(f"{request.failure} {request.url}"))
    tab.on(
        "response",
        lambda response: (
            failed.append(f"{response.status} {response.url}") if response.status >= 400 else None
        ),
    )
    tab.on(
        "console", lambda message: console.append(message.text) if message.type == "error" else None
    )
    tab.on("pageerror", lambda error: console.append(str(error)))

    tab.goto(live_server.url + DASHBOARD, wait_until="networkidle")

    expect(tab.locator("#hk-tasks tbody tr[data-task]")).to_have_count(len(registry))
    icon = tab.locator("link[rel=icon]").get_attribute("href")
    assert icon == "/static/django_housekeeping/favicon.svg"
    response = tab.request.get(live_server.url + icon)
    assert response.status == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    tab.close()
    assert failed == []
    assert console == []


def test_a_run_is_shown_from_its_details(page: Page, live_server: Any, tmp_path: Path) -> None:
    """The server's ``details`` of a run is what a run's row shows (the page reads no result)."""
    make_user("operator", staff=True, permissions=OPERATOR)
    make_run("threads", result={"deleted": {"testapp.Thread": 2}, "total": 2})
    log_in(page, live_server, "operator")
    data = page.request.get(live_server.url + DASHBOARD + "data/").json()
    run = data["runs"][0]
    # The server's shape (every key of the API's ResultDetails), with other values.
    details = {
        **run["details"],
        "kind": "none",
        "summary": "",
        "verb": None,
        "models": [],
        "total": None,
    }
    crafted = [
        {
            **run,
            "id": 901,
            "summary": "the summary is not shown when there are details",
            "details": {
                **details,
                "kind": "purge",
                "summary": "deleted 375 (partial)",
                "verb": "deleted",
                "models": [
                    {"model": "chat.Message", "deleted": 375, "protected": 2, "held": 1},
                    {"model": "chat.Attachment", "deleted": 0, "protected": 0, "held": 0},
                ],
                "total": 375,
                "partial": True,
                "archive": "housekeeping/chat.Message-2025-11-30.jsonl.gz",
            },
        },
        {
            **run,
            "id": 902,
            "task": "stats",
            "result": {"total_users": 1284},
            "summary": '{"total_users": 1284}',
            "details": {
                **details,
                "kind": "numbers",
                "summary": "2 numbers",
                "numbers": [
                    {"key": "total_users", "value": 1284},
                    {"key": "recent_messages_24h", "value": 763},
                ],
            },
        },
        {
            **run,
            "id": 903,
            "task": "daily",
            "details": {
                **details,
                "kind": "group",
                "summary": "2 tasks, 1 failed",
                "members": [
                    {"task": "threads", "status": "succeeded", "summary": "deleted 2"},
                    {"task": "boom", "status": "failed", "summary": ""},
                ],
            },
        },
        {
            **run,
            "id": 904,
            "status": "failed",
            "details": {**details, "kind": "error", "summary": "OperationalError: disk full"},
        },
    ]
    data["runs"] = crafted
    page.route(re.compile(r"/data/\?"), lambda route: route.fulfill(json=data))

    page.get_by_role("button", name="Refresh the dashboard now").click()

    purge = page.locator("#hk-runs tr[data-run='901']")
    expect(purge.locator(".hk-summary")).to_have_text("deleted 375 (partial)")
    expect(purge).not_to_contain_text("the summary is not shown")
    expect(purge.locator(".hk-badge.hk-partial")).to_have_text("partial")
    expect(purge.locator("details summary")).to_have_text("2 models")
    expect(purge.locator("details li")).to_have_text(
        ["chat.Message: 375, 2 protected, 1 held", "chat.Attachment: 0"]
    )
    expect(purge).to_contain_text("Archived to housekeeping/chat.Message-2025-11-30.jsonl.gz")
    numbers = page.locator("#hk-runs tr[data-run='902']")
    expect(numbers.locator(".hk-summary")).to_have_text("2 numbers")
    expect(numbers.locator(".hk-numbers > div")).to_have_text(
        ["Total users1,284", "Recent messages (24 h)763"]
    )
    expect(numbers).not_to_contain_text("{")
    group_run = page.locator("#hk-runs tr[data-run='903']")
    group_run.locator("details summary").click()
    expect(group_run.locator("details li")).to_have_text(["threads: deleted 2", "boom: failed"])
    expect(page.locator("#hk-runs tr[data-run='904'] .hk-summary.hk-error-text")).to_have_text(
        "OperationalError: disk full"
    )
    save_screenshot(page, tmp_path, "dashboard-run-details.png")
    page.set_viewport_size({"width": 390, "height": 844})
    assert_fits(page)


# -- the admin: run a task that deletes, after its dry run's confirmation --------------------------


def test_the_admin_confirms_a_run_that_deletes(
    page: Page, live_server: Any, tmp_path: Path
) -> None:
    make_user("operator", staff=True, permissions=OPERATOR)
    for age in (40, 50):
        Thread.objects.create(title=f"{age} days", created_at=timezone.now() - timedelta(days=age))
    tasks = "/admin/django_housekeeping/taskrun/tasks/"
    page.goto(f"{live_server.url}/admin/login/?next={tasks}")
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page).to_have_url(live_server.url + tasks)

    page.get_by_role("button", name="Run threads now", exact=True).click()

    expect(page).to_have_title(re.compile("Are you sure?"))
    # The page reloads itself until the dry run has finished.
    expect(page.locator("table.housekeeping-counts")).to_contain_text("testapp.Thread")
    expect(page.locator("table.housekeeping-counts td.count")).to_have_text("2")
    expect(page.locator("#content-main")).to_contain_text("would delete 2 (testapp.Thread 2)")
    assert Thread.objects.count() == 2
    save_screenshot(page, tmp_path, "admin-confirm-run.png")

    page.get_by_role("button", name="Yes, I\u2019m sure", exact=True).click()

    expect(page).to_have_url(live_server.url + tasks)
    expect(page.locator(".messagelist .success")).to_contain_text("of threads started")
    page.locator(".messagelist .success a").click()
    expect(page.locator(".field-status .readonly")).to_have_text("succeeded")
    expect(page.locator("table.housekeeping-models tbody td")).to_have_text(
        ["testapp.Thread", "2", "0", "0"]
    )
    assert not Thread.objects.exists()
    save_screenshot(page, tmp_path, "admin-run.png")


# -- the admin: retention policies and their preview ----------------------------------------------


def test_the_retention_policies_page_previews_a_policy(
    page: Page, live_server: Any, tmp_path: Path
) -> None:
    make_user("operator", staff=True, permissions=OPERATOR)
    retention(
        Chat,
        field="updated_at",
        keep=30,
        keep_by="plan",
        keep_for={"pro": 365},
        schedule="15 4 * * *",
    )
    now = timezone.now()
    for title, plan, days in [("old", "free", 40), ("pro-old", "pro", 400), ("new", "pro", 200)]:
        chat = Chat.objects.create(title=title, plan=plan, updated_at=now - timedelta(days=days))
        ChatLine.objects.bulk_create(ChatLine(chat=chat) for _ in range(3))
    holds.place(Chat.objects.get(title="old"), reason="Support case #1024")
    policies = "/admin/django_housekeeping/taskrun/retention-policies/"
    page.goto(f"{live_server.url}/admin/login/?next={policies}")
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page).to_have_url(live_server.url + policies)

    row = page.locator('tr[data-policy="testapp.chat_retention"]')
    expect(row.locator("td.windows li")).to_have_text(
        ["every other row: 30 days", "plan='pro': 365 days"]
    )
    expect(row.locator("td.rows-due")).to_have_text("2")
    expect(row.locator("td.held")).to_have_text("1")
    save_screenshot(page, tmp_path, "admin-retention-policies.png")

    page.get_by_role("button", name="Preview testapp.chat_retention", exact=True).click()

    expect(page).to_have_title(re.compile("Preview of testapp.chat_retention"))
    # The page reloads itself until the dry run has finished.
    expect(page.locator("#housekeeping-blast-radius tbody tr")).to_have_count(2)
    expect(
        page.locator('#housekeeping-blast-radius tr[data-model="testapp.Chat"] td')
    ).to_have_text(["testapp.Chat", "1", "0", "1"])
    expect(
        page.locator('#housekeeping-blast-radius tr[data-model="testapp.ChatLine"] td')
    ).to_have_text(["testapp.ChatLine", "3", "0", "3"])
    expect(page.locator("#housekeeping-receivers")).to_contain_text("no pre_delete or post_delete")
    expect(page.locator("#content-main")).to_contain_text("Nothing was deleted.")
    assert (Chat.objects.count(), ChatLine.objects.count()) == (3, 9)
    save_screenshot(page, tmp_path, "admin-retention-preview.png")

    # The dashboard's panel: the same policy, its rows due and its latest preview.
    page.goto(live_server.url + DASHBOARD)
    panel = page.locator('#hk-policies tr[data-policy="testapp.chat_retention"]')
    expect(panel.locator("td.rows-due")).to_have_text("2")
    expect(panel.locator("td.held")).to_have_text("1")
    expect(panel.locator("td.hk-result")).to_contain_text("would delete 4")
    expect(panel.get_by_role("button", name="Preview testapp.chat_retention")).to_be_enabled()
    save_screenshot(page, tmp_path, "dashboard-retention-policies.png")


# -- the admin: results a person can read ---------------------------------------------------------

MANY_MODELS = {
    f"chat.{name}": 100 + i
    for i, name in enumerate(
        ["Attachment", "Conversation", "Embedding", "Feedback", "Message", "Reaction", "Summary"]
    )
}


def admin_log_in(page: Page, live_server: Any, path: str) -> None:
    make_user("viewer", staff=True, permissions=["view_taskrun"])
    page.goto(f"{live_server.url}/admin/login/?next={path}")
    page.fill("#id_username", "viewer")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page).to_have_url(live_server.url + path)


def test_the_run_history_is_readable_at_1280_px(
    page: Page, live_server: Any, tmp_path: Path
) -> None:
    purge = make_run(
        "conversations",
        age=timedelta(minutes=3),
        result={"deleted": MANY_MODELS, "total": sum(MANY_MODELS.values()), "dry_run": False},
    )
    make_run(
        "boom",
        age=timedelta(minutes=2),
        status=TaskRun.Status.FAILED,
        error="Traceback (most recent call last):\nRuntimeError: boom: the database said no\n",
    )
    make_run("stats", age=timedelta(minutes=1), result={"total_users": 1284, "messages": 98765})
    changelist = "/admin/django_housekeeping/taskrun/"

    admin_log_in(page, live_server, changelist)

    cell = page.locator(f'#result_list tr:has(a[href$="/{purge.pk}/change/"]) .field-summary span')
    summary = cell.get_attribute("title")
    assert summary is not None
    assert summary.startswith("deleted 721 (chat.Attachment 100, chat.Conversation 101, ")
    assert summary.endswith("chat.Summary 106)")
    expect(cell).to_have_text(summary)  # whole in the page, wrapped up to 4 lines on the screen
    expect(cell).to_have_css("-webkit-line-clamp", "4")
    box = cell.bounding_box()
    assert box is not None
    # Beside both of the admin's sidebars, the room the other columns leave (about 20
    # characters); all of its width with the navigation sidebar collapsed.
    assert box["width"] >= 120
    assert box["x"] + box["width"] <= 1280
    expect(page.locator("#result_list .field-summary span").nth(0)).to_have_attribute(
        "title", "messages 98765, total_users 1284"
    )
    # Every column fits: neither the page nor the table scrolls sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    results = page.locator("#changelist .results")
    assert results.evaluate("element => element.scrollWidth <= element.clientWidth")
    save_screenshot(page, tmp_path, "admin-history-1280.png", full_page=False)


def test_a_run_page_lays_its_result_out(page: Page, live_server: Any, tmp_path: Path) -> None:
    result = {
        "deleted": {"chat.Conversation": 12, "chat.Message": 375},
        "total": 387,
        "dry_run": True,
        "protected": {"chat.Conversation": 2},
        "partial": True,
        "archive": None,
    }
    run = make_run("conversations", dry_run=True, result=result)
    path = f"/admin/django_housekeeping/taskrun/{run.pk}/change/"

    admin_log_in(page, live_server, path)

    table = page.locator("table.housekeeping-models")
    expect(table.locator("thead th")).to_have_text(["Model", "Would delete", "Protected", "Held"])
    expect(table.locator("tbody tr").nth(0).locator("td")).to_have_text(
        ["chat.Conversation", "12", "2", "0"]
    )
    expect(table.locator("tbody tr").nth(1).locator("td")).to_have_text(
        ["chat.Message", "375", "0", "0"]
    )
    expect(table.locator("tfoot")).to_have_text(re.compile(r"Total\s*387"))
    expect(page.locator(".housekeeping-partial")).to_be_visible()
    raw = page.locator("details.housekeeping-raw pre")
    expect(raw).to_be_hidden()
    page.get_by_text("Raw JSON", exact=True).click()
    expect(raw).to_be_visible()
    expect(raw).to_contain_text('"chat.Message": 375')
    save_screenshot(page, tmp_path, "admin-run-result.png")


# -- a site like the example project, for the statistics and the screenshot ---------------------


@pytest.fixture
def example_site(settings: Any) -> Iterator[None]:
    """The example project's tasks (in place of the test tasks) and settings, and a month of
    history."""
    settings.HOUSEKEEPING = {"STATISTICS_TASK": "stats"}
    with only_tasks():
        _example_tasks()
        _example_history()
        yield


@contextmanager
def only_tasks() -> Iterator[None]:
    """No task registered but those registered inside; the registry as it was after."""
    saved = dict(registry.as_mapping())
    for name in saved:
        registry.unregister(name)
    try:
        yield
    finally:
        for name in list(registry.as_mapping()):
            registry.unregister(name)
        for task in saved.values():
            registry.register(task)


def _example_tasks() -> None:
    retention = {"tags": ["retention"]}

    @housekeeping_task(
        name="conversations",
        schedule="0 3 * * sun",
        options={"days": 30},
        description="Weekly Conversation Cleanup",
        **retention,
    )
    def conversations(ctx: Any) -> Any:
        return ctx.purge(Thread.objects.none())

    @housekeeping_task(name="messages", description="Delete orphaned messages", **retention)
    def messages(ctx: Any) -> Any:
        return ctx.purge(Thread.objects.none())

    @housekeeping_task(
        name="users", options={"days": 7}, description="Delete unverified users", **retention
    )
    def users(ctx: Any) -> Any:
        return ctx.purge(Thread.objects.none())

    @housekeeping_task(
        name="stats", schedule="0 */6 * * *", description="Statistics", destructive=False
    )
    def stats() -> dict[str, int]:
        return {}

    group(
        "daily_housekeeping",
        ["conversations", "messages", "users", "stats"],
        schedule="0 2 * * *",
        description="Daily Housekeeping",
    )


def _example_history() -> None:
    make_user("admin", superuser=True)
    make_lease(heartbeat_age=2, expires_in=28)
    now = timezone.now()
    DjangoJob.objects.create(
        id="stats", next_run_time=now + timedelta(hours=2, minutes=30), job_state=b""
    )
    DjangoJob.objects.create(
        id="daily_housekeeping", next_run_time=now + timedelta(hours=9), job_state=b""
    )
    DjangoJob.objects.create(
        id="conversations", next_run_time=now + timedelta(days=3), job_state=b""
    )
    users = (1180, 1187, 1195, 1203, 1210, 1222, 1231, 1240, 1250, 1262, 1271, 1284)
    for i, days in enumerate((28, 26, 24, 21, 18, 15, 12, 9, 6, 4, 2, 0)):
        make_run(
            "stats",
            age=timedelta(days=days, hours=1),
            result={
                "total_users": users[i],
                "total_conversations": 3400 + i * 95,
                "total_messages": 41000 + i * 1210,
                "recent_conversations_24h": 60 + (i * 7) % 25,
                "recent_messages_24h": 700 + (i * 53) % 260,
            },
        )
    for days in range(1, 29):
        _daily_run(days)
    make_run(
        "users",
        age=timedelta(days=2, hours=5),
        trigger=TaskRun.Trigger.CLI,
        status=TaskRun.Status.FAILED,
        error="Traceback (most recent call last):\nOperationalError: lock wait timeout exceeded",
    )
    purged = {
        "conversations": {"chat.Conversation": 12, "chat.Message": 240},
        "messages": {"chat.Message": 3},
        "users": {"accounts.User": 2, "accounts.EmailVerification": 2},
    }
    results = {
        name: {"deleted": deleted, "total": sum(deleted.values()), "dry_run": False}
        for name, deleted in purged.items()
    }
    daily = make_run(
        "daily_housekeeping",
        age=timedelta(hours=1, minutes=3),
        result={
            "tasks": {name: {"status": "succeeded", "result": r} for name, r in results.items()},
            "failed": [],
        },
    )
    for minutes, (name, result) in enumerate(results.items()):
        make_run(name, age=timedelta(hours=1, minutes=2 - minutes), parent=daily, result=result)
    make_run(
        "conversations",
        age=timedelta(minutes=5),
        trigger=TaskRun.Trigger.DASHBOARD,
        dry_run=True,
        result={
            "deleted": {"chat.Conversation": 12, "chat.Message": 240},
            "total": 252,
            "dry_run": True,
        },
    )
    make_run(
        "users",
        age=timedelta(seconds=40),
        status=TaskRun.Status.RUNNING,
        trigger=TaskRun.Trigger.API,
        heartbeat_at=timezone.now(),
        progress_done=1200,
        progress_total=4800,
    )


def _daily_run(days: int) -> None:
    """The Daily Housekeeping of ``days`` days ago, its members' runs with it."""
    purged = {
        "conversations": {
            "chat.Conversation": 6 + (days * 5) % 11,
            "chat.Message": 90 + (days * 37) % 170,
        },
        "messages": {"chat.Message": (days * 3) % 7},
        "users": {"accounts.User": days % 4, "accounts.EmailVerification": days % 4},
        "stats": None,
    }
    seconds = {
        "conversations": 30 + (days * 13) % 50,
        "messages": 4 + days % 3,
        "users": 8 + (days * 7) % 9,
        "stats": 1,
    }
    started = timezone.now() - timedelta(days=days, hours=1, minutes=3)
    results = {
        name: {"deleted": deleted, "total": sum(deleted.values()), "dry_run": False}
        if deleted is not None
        else {"total_users": 1}
        for name, deleted in purged.items()
    }
    daily = make_run(
        "daily_housekeeping",
        started_at=started,
        duration=timedelta(seconds=sum(seconds.values())),
        result={
            "tasks": {name: {"status": "succeeded", "result": r} for name, r in results.items()},
            "failed": [],
        },
    )
    at = started
    for name, result in results.items():
        if name == "stats":
            continue  # the statistics' own history is above
        make_run(
            name,
            started_at=at,
            duration=timedelta(seconds=seconds[name]),
            parent=daily,
            result=result,
        )
        at += timedelta(seconds=seconds[name])


def test_place_a_legal_hold_from_a_models_admin(
    page: Page, live_server: Any, tmp_path: Path
) -> None:
    """The mixin's action: select rows, "Place legal hold", give the reason on its page."""
    from django.contrib.auth.models import Permission

    from django_housekeeping import holds

    user = make_user("legal", staff=True, permissions=["change_legalhold"])
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="testapp", codename__endswith="thread")
    )
    disputed = Thread.objects.create(title="Disputed thread", created_at=timezone.now())
    Thread.objects.create(title="Another thread", created_at=timezone.now())
    changelist = "/admin/testapp/thread/"

    page.goto(live_server.url + changelist)
    page.fill("#id_username", "legal")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page).to_have_url(live_server.url + changelist)
    page.locator(f"input[name=_selected_action][value='{disputed.pk}']").check()
    page.select_option("select[name=action]", "place_legal_hold")
    page.click("button[name=index]")

    expect(page.locator("h1")).to_have_text("Place a legal hold")
    expect(page.locator("#housekeeping-held-objects")).to_contain_text(str(disputed))
    assert_fits_window(page)
    screenshot = save_screenshot(page, tmp_path, "admin-place-legal-hold.png")
    assert screenshot.stat().st_size > 10_000

    page.fill("#id_reason", "Customer dispute #4411")
    page.click("#housekeeping-place-hold-form input[type=submit]")

    expect(page).to_have_url(live_server.url + changelist)
    expect(page.locator(".messagelist")).to_contain_text("Placed a legal hold on 1 row")
    assert holds.is_held(disputed)
    assert not holds.is_held(Thread.objects.get(title="Another thread"))


def assert_fits_window(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
