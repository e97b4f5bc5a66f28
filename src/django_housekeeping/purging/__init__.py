"""The batched deletion engine behind ``purge()``: its planner, its options, and the archives of
what it deletes. It knows nothing of scheduling or of the faces."""
