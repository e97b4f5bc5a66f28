"""When tasks run: the leader lease, APScheduler on the database job store, the executors that
turn due slots into runs, and the lazy autostart in serving processes."""
