"""What a task is: the registry and the decorator, schedules (``cron``/``every``) and the
context a task function receives."""
