"""Watching the housekeeping: health (one definition), alerts, the daily rollup and metrics."""
