"""The triggers' former place inside the package (unreleased builds after 0.1.0 pickled job rows
that name it): an alias of :mod:`django_housekeeping.triggers`, the stable import path."""

from django_housekeeping.triggers import WallClockCronTrigger

__all__ = ["WallClockCronTrigger"]
