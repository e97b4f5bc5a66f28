"""The chat schema of the retention benchmark (benchmarks/retention.py)."""
