"""Watching the housekeeping: health (one definition), alerts, run totals and metrics."""
