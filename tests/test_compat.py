"""Private framework internals are used only through ``django_housekeeping.compat``.

The test reads every module of the package with ``ast`` (nothing is imported) and fails on:

- an attribute with a leading single underscore read or written on anything but ``self``/``cls``
  or one of the package's own modules, unless its name is in :data:`ALLOWED` (Django's documented
  underscore names, the package's own private names);
- any use of a name in :data:`INTERNALS` (the internals compat.py wraps), on any object, ``self``
  included (a subclass overriding or calling a framework's private hook), as an import, a name, an
  attribute or a method definition.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import django_housekeeping

PACKAGE = Path(django_housekeeping.__file__).parent
COMPAT = PACKAGE / "compat.py"

#: Underscore attributes that are fine anywhere, and why.
ALLOWED = {
    # Django documents these as public API (Model._meta, Model._default_manager,
    # Model._base_manager: "Model instance reference" and "Managers").
    "_meta": "documented Django API",
    "_default_manager": "documented Django API",
    "_base_manager": "documented Django API",
    # The standard library, not a framework.
    "_exit": "os._exit(): documented",
    "_Hash": "hashlib._Hash: typeshed's type of a hash object, in an annotation",
    # The package's own private names, read on an object of its own.
    "_registry": "tasks.registry.TaskRegistry._registry, ours",
}

#: The framework internals compat.py wraps: not to be named anywhere else, on any object.
INTERNALS = {
    # Django
    "_insert",
    "_raw_delete",
    "_chain",
    "_for_write",
    "_not_support_combined_queries",
    "_fields",
    "_state",
    "ModelState",
    "get_candidate_relations_to_delete",
    "_live_receivers",
    # Django REST framework
    "_readable_fields",
    # APScheduler 3
    "_process_jobs",
    "_main_loop",
    "_jobstore_alias",
    "_do_submit_job",
    "_run_job_success",
    "_run_job_error",
    "_pool",
}


def modules() -> Iterator[Path]:
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" not in path.relative_to(PACKAGE).parts:
            yield path


def own_names(tree: ast.Module) -> set[str]:
    """The names a module binds to the package's own modules and objects (``from
    django_housekeeping.x import y``, ``import django_housekeeping.x as y``)."""
    names = {"self", "cls"}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "django_housekeeping"
        ):
            names.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("django_housekeeping"):
                    names.add(alias.asname or alias.name.split(".")[0])
    return names


def private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def violations(source: str, relative: str) -> list[str]:
    """``"path:line: name (why)"`` for each forbidden use in ``source`` (the module at
    ``relative``, a path inside the package)."""
    tree = ast.parse(source, filename=relative)
    ours = own_names(tree)
    found: list[str] = []

    def report(node: ast.AST, name: str, why: str) -> None:
        found.append(f"{relative}:{getattr(node, 'lineno', '?')}: {name} ({why})")

    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            if node.attr in INTERNALS:
                report(node, node.attr, "a framework internal: use django_housekeeping.compat")
            elif (
                private(node.attr)
                and node.attr not in ALLOWED
                and not (isinstance(node.value, ast.Name) and node.value.id in ours)
            ):
                report(node, node.attr, "an underscore attribute of an object not ours")
        elif isinstance(node, ast.Name) and node.id in INTERNALS:
            report(node, node.id, "a framework internal: use django_housekeeping.compat")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in INTERNALS:
            report(node, node.name, "overrides a framework's private hook: see compat.py")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name.split(".")[-1] in INTERNALS:
                    report(node, alias.name, "imports a framework internal")
    return found


def test_private_framework_internals_are_used_only_through_compat() -> None:
    found = [
        line
        for path in modules()
        if path != COMPAT
        for line in violations(
            path.read_text(encoding="utf-8"), path.relative_to(PACKAGE).as_posix()
        )
    ]
    assert found == []


def test_compat_imports_none_of_the_package() -> None:
    """compat.py sits below every layer: it imports the frameworks only."""
    tree = ast.parse(COMPAT.read_text(encoding="utf-8"))
    imported = [
        node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
    ] + [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    ]
    assert [name for name in imported if name.startswith("django_housekeeping")] == []


def test_the_check_catches_each_internal() -> None:
    """The walk reports each internal the issue listed, on any receiver, in any form."""
    source = (
        "from django.db.models.base import ModelState\n"
        "from django.db.models.deletion import get_candidate_relations_to_delete\n"
        "from django.db.models import deletion\n"
        "deletion.get_candidate_relations_to_delete(opts)\n"
        "queryset._not_support_combined_queries('delete')\n"
        "queryset._fields\n"
        "copy = queryset._chain()\n"
        "copy._for_write = True\n"
        "queryset._raw_delete('default')\n"
        "manager._insert([], fields=[], raw=True)\n"
        "instance._state = ModelState()\n"
        "signal._live_receivers(model)\n"
        "serializer._readable_fields\n"
        "job._jobstore_alias\n"
        "class S:\n"
        "    def _process_jobs(self):\n"
        "        return super()._process_jobs()\n"
        "    def _main_loop(self):\n"
        "        self._pool.submit(self._run_job_success)\n"
        "queryset._something_new\n"
        "from django_housekeeping.purging import planner as planning\n"
        "self._ours, planning._ours_too, model._meta\n"
    )
    reported = [line.split(": ", 1)[1].split(" (")[0] for line in violations(source, "x.py")]
    assert sorted(set(reported)) == sorted(
        {
            "ModelState",
            "get_candidate_relations_to_delete",
            "_not_support_combined_queries",
            "_fields",
            "_chain",
            "_for_write",
            "_raw_delete",
            "_insert",
            "_state",
            "_live_receivers",
            "_readable_fields",
            "_jobstore_alias",
            "_process_jobs",
            "_main_loop",
            "_pool",
            "_run_job_success",
            "_something_new",
        }
    )


def test_live_receivers_is_caught_in_every_module() -> None:
    """The presenters call compat.live_receivers: the internal itself is refused everywhere."""
    source = "signal._live_receivers(model)\n"
    for relative in ("presenters/policies.py", "running/control.py"):
        assert violations(source, relative) == [
            f"{relative}:1: _live_receivers (a framework internal: use django_housekeeping.compat)"
        ]
