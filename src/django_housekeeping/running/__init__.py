"""How a task runs: the control layer every face asks, ``run_task`` (the one run path),
dispatch outside the request, heartbeats and interrupted runs, the trigger throttle."""
