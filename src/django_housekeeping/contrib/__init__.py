"""Integrations with other packages, each an optional dependency."""
