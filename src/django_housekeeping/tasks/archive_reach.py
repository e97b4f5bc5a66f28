"""The models a forced restore may load: what the purge of the task that wrote an archive could
reach.

An archive without a manifest (written before manifests existed) names no task; the operator
names it (``housekeeping restore FILE --force --task NAME``), or its file name does — ``ctx.purge``
names archives ``<task>-run<N>-<time>-<app_label.Model>.jsonl.gz``. The task must be registered
now. Its purge's model is the model of its retention policy, or else the model the file name
ends with; the models admitted are that model's :func:`~.purging.restore_checks.purge_reach`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from django.apps import apps
from django.db.models import Model

from django_housekeeping.purging.archive import SUFFIX
from django_housekeeping.purging.restore_checks import purge_reach
from django_housekeeping.tasks.registry import NotRegistered, registry
from django_housekeeping.tasks.retention import RetentionPolicy

# <task>-run<N>-<YYYYmmddTHHMMSS><microseconds>-<app_label.Model>.jsonl.gz
_NAME = re.compile(r"^(?P<task>.+)-run\d+-\d{8}T\d{12}-(?P<label>[A-Za-z0-9_]+\.[A-Za-z0-9_]+)$")


class UnknownReach(ValueError):
    """The task of a forced restore is not known: one line saying why."""


def archive_reach(path: str | os.PathLike[str], task: str | None = None) -> set[str]:
    """The labels (``"app_label.model_name"``) of the models the purge of ``task`` (default: the
    task the file name names) could reach; :class:`UnknownReach` when the task is not known."""
    name = Path(path).name.removesuffix(SUFFIX)
    match = _NAME.match(name)
    task_name = task or (match["task"] if match else None)
    if not task_name:
        raise UnknownReach(
            "--force needs the task whose purge wrote the archive (--task NAME): its file name "
            "does not say"
        )
    try:
        found = registry.get(task_name)
    except NotRegistered:
        raise UnknownReach(f"--force: there is no task {task_name!r} now") from None
    model: type[Model] | None = None
    if isinstance(found.func, RetentionPolicy):
        model = found.func.model
    elif match is not None:
        try:
            model = apps.get_model(match["label"])
        except LookupError:
            model = None
    if model is None:
        raise UnknownReach(
            f"--force: which model the purge of task {task_name!r} deletes is not known (neither "
            "a retention policy nor an archive file name that says)"
        )
    return purge_reach([model])
