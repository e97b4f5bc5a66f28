"""Rolling deploys: the previous release's code keeps inserting into the tables while the new
migrations apply, so every column added after ``0001`` has a database default or is nullable
(docs/development.md#migrations-for-rolling-deploys)."""

from __future__ import annotations

from django.db.migrations import AddField
from django.db.migrations.loader import MigrationLoader
from django.db.models import NOT_PROVIDED, Field

APP = "django_housekeeping"
FIRST = (APP, "0001_initial")


def _insertable_without_it(field: Field) -> bool:  # type: ignore[type-arg]
    return bool(field.null) or field.db_default is not NOT_PROVIDED or field.many_to_many


def test_every_column_added_after_0001_has_a_database_default_or_is_nullable() -> None:
    loader = MigrationLoader(None, ignore_no_migrations=True)  # the files, no database
    final = loader.project_state()
    first = loader.project_state(FIRST)
    offenders = []
    # Every AddField of a later migration, judged by the field as the migrations leave it.
    added = {
        (operation.model_name.lower(), operation.name)
        for (app_label, name), migration in loader.disk_migrations.items()
        if app_label == APP and name != FIRST[1]
        for operation in migration.operations
        if isinstance(operation, AddField)
    }
    # And every field of a model 0001 created that 0001 did not give it, however it came.
    for (app_label, model_name), model_state in first.models.items():
        if app_label != APP:
            continue
        now = final.models[(APP, model_name)]
        added |= {(model_name, name) for name in now.fields.keys() - model_state.fields.keys()}
    assert added, "no column added after 0001: the test would prove nothing"
    for model_name, name in sorted(added):
        field = final.models[(APP, model_name)].fields.get(name)
        if field is not None and not _insertable_without_it(field):
            offenders.append(f"{model_name}.{name}")
    assert offenders == [], (
        "columns added after 0001 with neither db_default nor null=True (the previous release's "
        f"inserts fail during a rolling deploy): {offenders}"
    )


def test_the_models_carry_the_migrations_database_defaults() -> None:
    """The model's field says ``db_default`` too (else makemigrations would drop it)."""
    from django_housekeeping.models import TaskRun

    assert TaskRun._meta.get_field("attempt").db_default is not NOT_PROVIDED
