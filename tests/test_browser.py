"""The dashboard in a real browser: Playwright driving Debian's Chromium against the live server.

``HOUSEKEEPING_SCREENSHOTS=docs`` also saves the screenshots there (docs/dashboard.png is one).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from datetime import timedelta
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
from django_housekeeping import group, housekeeping_task, registry
from django_housekeeping.models import TaskRun
from django_housekeeping.running import control
from tests.helpers import (
    DASHBOARD,
    PASSWORD,
    make_lease,
    make_run,
    make_user,
)
from tests.testapp.models import Thread

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


def test_the_page_refreshes_itself_every_30_seconds(page: Page, live_server: Any) -> None:
    make_user("operator", staff=True, permissions=OPERATOR)
    # The page's clock stands still from the start: its 30-second timer counts only what the test
    # lets pass, however long the login takes on a busy machine.
    start = timezone.now()
    page.clock.install(time=start)
    page.clock.pause_at(start + timedelta(seconds=1))
    log_in(page, live_server, "operator")
    expect(page.locator("#hk-runs tbody tr")).to_have_count(0)
    page.evaluate("window.hkSamePage = true")

    run = make_run("record", result={"threads": 0})
    page.clock.run_for(29_000)
    expect(page.locator("#hk-runs tbody tr")).to_have_count(0)
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
    page.get_by_role("button", name="Show the last 7 days", exact=True).click()
    expect(charts.first).to_have_accessible_name(
        "Total users over the last 7 days: 1,284 now, lowest 1,250, highest 1,284, 4 runs."
    )
    page.get_by_role("button", name="Show the last 30 days", exact=True).click()
    expect(charts.first).to_have_accessible_name(re.compile("last 30 days"))
    page.set_viewport_size({"width": 1280, "height": 1480})
    save_screenshot(page, tmp_path, "dashboard.png", full_page=False)

    page.set_viewport_size({"width": 390, "height": 844})

    expect(page.get_by_role("button", name="Run all tasks", exact=True)).to_be_visible()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    save_screenshot(page, tmp_path, "dashboard-phone.png", full_page=False)


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
    expect(durations.locator("li[data-task='messages']")).to_contain_text("· 8 runs, 1 failed")
    expect(page.locator("#hk-error")).to_be_hidden()
    save_screenshot(page, tmp_path, "dashboard-no-statistics-task.png", full_page=False)


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
    save_screenshot(page, tmp_path, "admin-history-1280.png", full_page=False)

    cell = page.locator(f'#result_list tr:has(a[href$="/{purge.pk}/change/"]) .field-summary span')
    summary = cell.get_attribute("title")
    assert summary is not None
    assert summary.startswith("deleted 721 (chat.Attachment 100, chat.Conversation 101, ")
    assert summary.endswith("chat.Summary 106)")
    expect(cell).to_have_text(summary)  # whole in the page, cut on the screen
    expect(cell).to_have_css("text-overflow", "ellipsis")
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
    saved = dict(registry.as_mapping())
    for name in saved:
        registry.unregister(name)
    try:
        _example_tasks()
        _example_history()
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
