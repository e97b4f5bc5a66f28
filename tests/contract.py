"""The keys of the plain-data views of runs and tasks, as the CLI's --json and the API give them."""

RUN_KEYS = {
    "id",
    "task",
    "status",
    "trigger",
    "triggered_by",
    "dry_run",
    "slot",
    "started_at",
    "finished_at",
    "duration_seconds",
    "progress",
    "result",
    "error",
    "host",
    "pid",
    "parent_id",
}
TASK_KEYS = {
    "name",
    "description",
    "schedule",
    "enabled",
    "options",
    "tags",
    "members",
    "timeout",
    "last_run",
}
