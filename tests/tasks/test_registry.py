"""The ``@housekeeping_task`` decorator, ``group()`` and the task registry."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from django.apps import AppConfig, apps
from django.test import override_settings

import tests.testapp
from django_housekeeping import (
    AlreadyRegistered,
    HousekeepingTask,
    InvalidSchedule,
    NotRegistered,
    cron,
    every,
    group,
    housekeeping_task,
    registry,
    run_task,
)
from django_housekeeping.tasks.registry import ALL, TaskRegistry, autodiscover

FIXTURE_TASKS = {
    "threads",
    "record",
    "tests.testapp.housekeeping.no_context",
    "boom",
    "unserializable",
    "dormant",
    "nightly",
}

pytestmark = pytest.mark.usefixtures("temporary_tasks")


# --- the decorator ---


def test_bare_decorator_registers_under_module_and_qualname() -> None:
    def tidy(ctx: Any) -> dict[str, int]:
        """Tidy up.

        More words."""
        return {"tidied": 1}

    decorated = housekeeping_task(tidy)

    name = (
        "tests.tasks.test_registry.test_bare_decorator_registers_under_module_and_qualname"
        ".<locals>.tidy"
    )
    task = registry.get(name)
    assert decorated is task  # the handle the registry holds
    assert decorated(None) == {"tidied": 1}  # still callable like the function
    assert task.func is tidy
    assert task.name == name
    assert task.description == "Tidy up.\n\nMore words."
    assert task.declared.schedule is None
    assert task.schedule is None
    assert task.options == {}
    assert task.enabled is True
    assert task.timeout is None
    assert task.tags == ()
    assert task.members == ()
    assert task.is_group is False
    assert task.takes_context is True


def test_decorator_with_every_argument() -> None:
    @housekeeping_task(
        name="hk_test.conversations",
        schedule=cron("0 3 * * sun"),
        options={"days": 30},
        description="Delete old conversations",
        enabled=False,
        timeout=120,
        tags=["retention", "chat"],
    )
    def delete_old_conversations() -> str:
        """Not used: description= wins."""
        return "deleted"

    assert delete_old_conversations() == "deleted"
    task = registry.get("hk_test.conversations")
    assert task is delete_old_conversations
    assert task.schedule == cron("0 3 * * sun")
    assert task.options == {"days": 30}
    assert task.description == "Delete old conversations"
    assert task.enabled is False
    assert task.declared.enabled is False
    assert task.timeout == 120
    assert task.tags == ("retention", "chat")
    assert task.takes_context is False
    assert "test_registry.py:" in task.origin


def test_decorator_with_empty_parentheses_is_the_bare_form() -> None:
    @housekeeping_task()
    def paren() -> None: ...

    task = registry.get(f"{__name__}.{paren.func.__qualname__}")
    assert task is paren
    assert paren.name.endswith("<locals>.paren")


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ("0 4 * * *", cron("0 4 * * *")),
        (every(hours=6), every(hours=6)),
        (None, None),
    ],
)
def test_schedule_argument_accepts_cron_strings_and_schedules(
    schedule: object, expected: object
) -> None:
    @housekeeping_task(name="hk_test.scheduled", schedule=schedule)
    def scheduled() -> None: ...

    assert registry.get("hk_test.scheduled").schedule == expected


def test_an_invalid_schedule_is_kept_for_the_system_checks_not_raised() -> None:
    # Raising while an app's housekeeping.py is imported would stop every manage.py command.
    @housekeeping_task(name="hk_test.bad_schedule", schedule="0 3 * * sunday")
    def bad() -> None: ...

    task = registry.get("hk_test.bad_schedule")
    assert task.declared.schedule_error == (
        "schedule='0 3 * * sunday': invalid cron expression '0 3 * * sunday': "
        "invalid weekday name 'sunday'"
    )
    with pytest.raises(InvalidSchedule, match="invalid weekday name 'sunday'"):
        task.schedule  # noqa: B018


def test_a_valid_settings_schedule_replaces_an_invalid_declared_one() -> None:
    @housekeeping_task(name="hk_test.bad_schedule", schedule="every day")
    def bad() -> None: ...

    with override_settings(
        HOUSEKEEPING={"TASKS": {"hk_test.bad_schedule": {"schedule": "0 3 * * *"}}}
    ):
        assert registry.get("hk_test.bad_schedule").schedule == cron("0 3 * * *")


def test_a_single_tag_string_is_one_tag() -> None:
    @housekeeping_task(name="hk_test.tagged", tags="retention")
    def tagged() -> None: ...

    assert registry.get("hk_test.tagged").tags == ("retention",)


def test_declared_options_are_a_copy_and_options_a_fresh_dict() -> None:
    declared = {"days": 30}

    @housekeeping_task(name="hk_test.options", options=declared)
    def with_options() -> None: ...

    declared["days"] = 1
    task = registry.get("hk_test.options")
    assert task.options == {"days": 30}
    task.options["days"] = 2
    assert task.options == {"days": 30}
    assert isinstance(task.declared.options, MappingProxyType)


def test_task_is_hashable() -> None:
    @housekeeping_task(name="hk_test.hashable", options={"days": 1})
    def hashable() -> None: ...

    task = registry.get("hk_test.hashable")
    assert {task: 1}[registry.get("hk_test.hashable")] == 1


# --- the task handle ---


@pytest.mark.django_db(transaction=True)
def test_the_handle_runs_and_dispatches_itself(temporary_tasks: None) -> None:
    @housekeeping_task(name="hk_test.handle", options={"answer": 42})
    def handle(ctx: Any) -> dict[str, Any]:
        return {"answer": ctx.options["answer"], "dry_run": ctx.dry_run}

    assert isinstance(handle, HousekeepingTask)
    assert handle.name == "hk_test.handle"
    run = handle.run(dry_run=True)
    assert (run.task_name, run.status, run.result) == (
        "hk_test.handle",
        "succeeded",
        {"answer": 42, "dry_run": True},
    )
    assert run_task(handle).result == {"answer": 42, "dry_run": False}  # a task or its name
    dispatched = handle.dispatch()
    assert dispatched.run.status == "queued"
    assert dispatched.wait(30)
    assert dispatched.run.status == "succeeded"


def test_the_handle_is_frozen_and_a_group_cannot_be_called() -> None:
    task = registry.get("nightly")

    with pytest.raises(AttributeError):
        task.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError, match=r"'nightly' is a group of tasks; run it with \.run\(\)"):
        task()


# --- what the decorator rejects ---


def test_duplicate_name_raises_naming_both_origins() -> None:
    @housekeeping_task(name="hk_test.dup")
    def first_definition() -> None: ...

    with pytest.raises(AlreadyRegistered) as excinfo:

        @housekeeping_task(name="hk_test.dup")
        def second_definition() -> None: ...

    message = str(excinfo.value)
    assert "'hk_test.dup'" in message
    assert "first_definition" in message
    assert "second_definition" in message
    assert message.count("test_registry.py:") == 2
    assert registry.get("hk_test.dup") is first_definition  # not overwritten


def test_duplicate_of_a_fixture_task_names_its_module() -> None:
    with pytest.raises(
        AlreadyRegistered, match=r"tests\.testapp\.housekeeping\.delete_old_threads"
    ):

        @housekeeping_task(name="threads")
        def threads() -> None: ...


def test_duplicate_between_a_group_and_a_task() -> None:
    @housekeeping_task(name="hk_test.member")
    def member() -> None: ...

    with pytest.raises(AlreadyRegistered, match=r"group 'hk_test\.member'"):
        group("hk_test.member", ["threads"])


def test_all_is_a_reserved_name() -> None:
    with pytest.raises(AlreadyRegistered, match="'all' is reserved"):

        @housekeeping_task(name="all")
        def everything() -> None: ...

    with pytest.raises(AlreadyRegistered, match="'all' is reserved"):
        group("all", ["threads"])
    assert registry.get("all").func is None  # still the implicit group


@pytest.mark.parametrize("name", ["", "   "])
def test_an_empty_name_is_rejected(name: str) -> None:
    with pytest.raises(ValueError, match="needs a non-empty name"):

        @housekeeping_task(name=name)
        def nameless() -> None: ...

    assert name not in registry.as_mapping()


def test_function_with_two_parameters_is_rejected() -> None:
    with pytest.raises(TypeError, match="takes 2 arguments; a housekeeping task takes none or one"):

        @housekeeping_task(name="hk_test.two")
        def two(ctx: Any, extra: Any) -> None: ...

    assert "hk_test.two" not in registry


def test_function_with_a_required_keyword_only_parameter_is_rejected() -> None:
    with pytest.raises(TypeError, match="keyword-only argument 'ctx'"):

        @housekeeping_task(name="hk_test.kwonly")
        def kwonly(*, ctx: Any) -> None: ...

    assert "hk_test.kwonly" not in registry


def test_not_a_function_is_rejected() -> None:
    with pytest.raises(TypeError, match="needs a function, got 42"):
        housekeeping_task(name="hk_test.number")(42)  # type: ignore[type-var]


@pytest.mark.parametrize(
    ("source", "takes_context"),
    [
        ("def f(): pass", False),
        ("def f(ctx): pass", True),
        ("def f(ctx=None): pass", True),
        ("def f(ctx, /): pass", True),
        ("def f(*args): pass", True),
        ("def f(*, ctx=None): pass", False),
        ("def f(**kwargs): pass", False),
    ],
)
def test_takes_context_follows_the_signature(source: str, takes_context: bool) -> None:
    namespace: dict[str, Any] = {}
    exec(source, namespace)
    housekeeping_task(name="hk_test.signature")(namespace["f"])
    assert registry.get("hk_test.signature").takes_context is takes_context


# --- the registry ---


def test_fixture_tasks_are_registered() -> None:
    assert set(registry.as_mapping()) >= FIXTURE_TASKS
    assert registry.get("tests.testapp.housekeeping.no_context").takes_context is False


def test_register_get_unregister() -> None:
    tasks = TaskRegistry()
    task = HousekeepingTask(name="one", func=lambda: None)
    assert tasks.register(task) is task
    assert tasks.get("one") is task
    assert "one" in tasks
    assert len(tasks) == 1
    tasks.unregister("one")
    assert "one" not in tasks
    assert len(tasks) == 0
    with pytest.raises(NotRegistered, match="unknown task 'one'; valid tasks: all"):
        tasks.get("one")


def test_unregister_unknown_name_raises_not_registered() -> None:
    with pytest.raises(NotRegistered, match=r"unknown task 'hk_test\.never'"):
        registry.unregister("hk_test.never")


def test_not_registered_lists_the_valid_names() -> None:
    with pytest.raises(NotRegistered) as excinfo:
        registry.get("thread")
    error = excinfo.value
    assert isinstance(error, LookupError)
    assert error.name == "thread"
    assert error.valid_names == registry.names()
    assert str(error).startswith("unknown task 'thread'; valid tasks: ")
    for name in [*FIXTURE_TASKS, "all"]:
        assert name in str(error)


def test_iteration_len_contains_and_names() -> None:
    @housekeeping_task(name="aaa_hk_test.first")
    def first() -> None: ...

    names = [task.name for task in registry]
    assert names == sorted(names)
    assert names[0] == "aaa_hk_test.first"
    assert "all" not in names
    assert set(names) >= FIXTURE_TASKS
    assert len(registry) == len(names)
    assert "all" in registry
    assert "threads" in registry
    assert "aaa_hk_test.first" in registry
    assert "nope" not in registry
    assert registry.names() == sorted([*names, "all"])


def test_as_mapping_is_read_only() -> None:
    mapping = registry.as_mapping()
    assert mapping["threads"] is registry.get("threads")
    with pytest.raises(TypeError):
        mapping["x"] = registry.get("threads")  # type: ignore[index]


# --- groups ---


def test_group_registers_a_task_made_of_other_tasks() -> None:
    task = group("hk_test.daily", ["threads", "record"], schedule="0 1 * * *", tags=["daily"])

    assert registry.get("hk_test.daily") is task
    assert task.is_group is True
    assert task.func is None
    assert task.takes_context is False
    assert task.members == ("threads", "record")
    assert task.schedule == cron("0 1 * * *")
    assert task.description == "Runs threads, record"
    assert task.tags == ("daily",)
    assert task.origin.startswith("group 'hk_test.daily' (")
    assert "test_registry.py:" in task.origin


def test_group_needs_members() -> None:
    with pytest.raises(ValueError, match=r"group 'hk_test\.empty' needs at least one member task"):
        group("hk_test.empty", [])
    assert "hk_test.empty" not in registry


def test_group_with_a_single_member_string() -> None:
    assert group("hk_test.single", "threads").members == ("threads",)


def test_fixture_group() -> None:
    nightly = registry.get("nightly")
    assert nightly.is_group
    assert nightly.members == ("threads", "boom", "record")
    assert nightly.schedule == cron("0 2 * * *")


def test_all_is_every_enabled_task_that_is_not_a_group() -> None:
    @housekeeping_task(name="hk_test.extra")
    def extra() -> None: ...

    group("hk_test.group", ["hk_test.extra"])

    everything = registry.get(ALL)
    assert everything.name == "all"
    assert everything.is_group
    expected = sorted(task.name for task in registry if not task.is_group and task.enabled)
    assert list(everything.members) == expected
    assert {"threads", "record", "boom", "hk_test.extra"} <= set(everything.members)
    assert "dormant" not in everything.members  # enabled=False
    assert "nightly" not in everything.members  # a group
    assert "hk_test.group" not in everything.members


def test_all_follows_enabled_overrides() -> None:
    with override_settings(
        HOUSEKEEPING={"TASKS": {"dormant": {"enabled": True}, "threads": {"enabled": False}}}
    ):
        members = registry.get(ALL).members
        assert "dormant" in members
        assert "threads" not in members
    assert "threads" in registry.get(ALL).members


# --- effective values: declared, overridden by HOUSEKEEPING["TASKS"][name] ---


def test_settings_override_schedule_options_and_enabled() -> None:
    threads = registry.get("threads")
    overrides = {
        "threads": {
            "schedule": "30 4 * * *",
            "options": {"days": 60, "batch": 10},
            "enabled": False,
        }
    }
    with override_settings(HOUSEKEEPING={"TASKS": overrides}):
        assert threads.schedule == cron("30 4 * * *")
        assert threads.options == {"days": 60, "batch": 10}
        assert threads.enabled is False
        # What the code declared is kept apart.
        assert threads.declared.schedule == cron("0 3 * * sun")
        assert dict(threads.declared.options) == {"days": 30}
        assert threads.declared.enabled is True
    assert threads.schedule == cron("0 3 * * sun")
    assert threads.options == {"days": 30}
    assert threads.enabled is True


def test_options_override_merges_into_the_declared_options() -> None:
    @housekeeping_task(name="hk_test.merge", options={"days": 30, "dry": False})
    def merge() -> None: ...

    with override_settings(HOUSEKEEPING={"TASKS": {"hk_test.merge": {"options": {"days": 7}}}}):
        assert registry.get("hk_test.merge").options == {"days": 7, "dry": False}


def test_schedule_override_none_makes_the_task_manual() -> None:
    with override_settings(HOUSEKEEPING={"TASKS": {"record": {"schedule": None}}}):
        assert registry.get("record").schedule is None
    assert registry.get("record").schedule == every(hours=6)


def test_schedule_override_with_a_schedule_object() -> None:
    with override_settings(HOUSEKEEPING={"TASKS": {"record": {"schedule": every(minutes=5)}}}):
        assert registry.get("record").schedule == every(minutes=5)


def test_invalid_schedule_override_raises_when_read() -> None:
    with (
        override_settings(HOUSEKEEPING={"TASKS": {"record": {"schedule": "whenever"}}}),
        pytest.raises(InvalidSchedule, match="must have 5 fields"),
    ):
        registry.get("record").schedule  # noqa: B018


def test_override_of_another_task_changes_nothing() -> None:
    with override_settings(HOUSEKEEPING={"TASKS": {"record": {"enabled": False}}}):
        assert registry.get("threads").enabled is True
        assert registry.get("record").enabled is False


# --- autodiscover ---


def test_autodiscover_imports_every_apps_housekeeping_module(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Start from an empty registry and a not-yet-imported tests/testapp/housekeeping.py; every
    # change is undone by monkeypatch so the rest of the suite sees the original tasks.
    monkeypatch.setattr(registry, "_registry", {})
    monkeypatch.setattr(tests.testapp, "housekeeping", sys.modules["tests.testapp.housekeeping"])
    monkeypatch.delitem(sys.modules, "tests.testapp.housekeeping")

    autodiscover()

    assert set(registry.as_mapping()) >= FIXTURE_TASKS
    autodiscover()  # a second discovery finds the modules imported: no AlreadyRegistered


@pytest.fixture
def app_configs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[AppConfig]]:
    """Installed apps made of packages written by the test; only those are searched."""
    monkeypatch.syspath_prepend(str(tmp_path))
    configs: list[AppConfig] = []
    monkeypatch.setattr(apps, "get_app_configs", lambda: list(configs))
    yield configs
    for name in list(sys.modules):
        if name.startswith("hk_helper_app_"):
            del sys.modules[name]


def make_app(tmp_path: Path, name: str, housekeeping: str | None) -> AppConfig:
    package = tmp_path / name
    package.mkdir()
    (package / "__init__.py").write_text("")
    if housekeeping is not None:
        (package / "housekeeping.py").write_text(housekeeping)
    return AppConfig.create(name)


BROKEN_MODULE = """
from django_housekeeping import housekeeping_task


@housekeeping_task(name="hk_helper_app_broken.first")
def first():
    pass


raise ImportError("hk_helper_app_broken: a dependency is missing")
"""

GOOD_MODULE = """
from django_housekeeping import housekeeping_task


@housekeeping_task(name="hk_helper_app_good.task")
def task():
    pass
"""


def test_autodiscover_rolls_back_a_module_that_failed_to_import(
    app_configs: list[AppConfig], tmp_path: Path
) -> None:
    app_configs.append(make_app(tmp_path, "hk_helper_app_good", GOOD_MODULE))
    app_configs.append(make_app(tmp_path, "hk_helper_app_broken", BROKEN_MODULE))
    before = set(registry.as_mapping())

    with pytest.raises(ImportError, match="a dependency is missing"):
        autodiscover()

    # The good app's task stays; the broken module's half-done registrations are gone.
    assert set(registry.as_mapping()) == before | {"hk_helper_app_good.task"}
    assert "hk_helper_app_broken.first" not in registry


def test_autodiscover_skips_an_app_without_housekeeping_module(
    app_configs: list[AppConfig], tmp_path: Path
) -> None:
    app_configs.append(make_app(tmp_path, "hk_helper_app_plain", None))
    before = set(registry.as_mapping())

    autodiscover()

    assert set(registry.as_mapping()) == before


def test_a_timedelta_schedule_is_every_that_interval() -> None:
    @housekeeping_task(name="hk_test.six_hourly", schedule=timedelta(hours=6))
    def six_hourly() -> None: ...

    assert six_hourly.schedule == every(hours=6)
    assert str(six_hourly.schedule) == "every(6:00:00)"


def test_all_is_every_enabled_task_but_groups_in_alphabetical_order() -> None:
    """``run --all`` runs the members of "all" in this order, whatever the registration order."""
    for name in ("hk_test.zulu", "hk_test.alpha", "hk_test.mike"):
        housekeeping_task(name=name)(lambda: None)
    group("hk_test.bravo_group", ["hk_test.zulu"])

    members = registry.get(ALL).members

    assert list(members) == sorted(members)
    assert [m for m in members if m.startswith("hk_test.")] == [
        "hk_test.alpha",
        "hk_test.mike",
        "hk_test.zulu",
    ]


FIRST_MODULE_WITH_A_MISTAKE = """
from django_housekeeping import housekeeping_task


@housekeeping_task(name="hk_helper_app_first.fine")
def fine():
    pass


raise TypeError("hk_helper_app_first: the site's first mistake")
"""


def test_autodiscover_surfaces_the_error_of_the_first_module_imported_into_an_empty_registry(
    app_configs: list[AppConfig], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A site's first housekeeping.py, with a mistake, imported while no task is registered yet:
    # the site sees its own error, not Django's UnboundLocalError about the registry snapshot.
    monkeypatch.setattr(registry, "_registry", {})
    app_configs.append(make_app(tmp_path, "hk_helper_app_first", FIRST_MODULE_WITH_A_MISTAKE))

    with pytest.raises(TypeError, match="the site's first mistake"):
        autodiscover()

    # The half-imported module's registration is rolled back, as for any failed import.
    assert list(registry) == []


def test_an_empty_registry_is_still_truthy() -> None:
    assert len(TaskRegistry()) == 0
    assert TaskRegistry()
