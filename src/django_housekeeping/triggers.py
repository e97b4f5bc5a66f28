"""APScheduler triggers with crontab's behaviour at daylight-saving changes.

**A stable import path: this module never moves nor renames what it defines.** The job store
pickles each job's trigger by its class's import path (``django_housekeeping.triggers.
WallClockCronTrigger``), and a leader of any release must load the rows a leader of another
release wrote (a rolling deploy changes leaders back and forth). Nothing but the triggers lives
here; move the code that uses them, never them (docs/development.md#stable-import-paths).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from apscheduler.triggers.cron import CronTrigger


class WallClockCronTrigger(CronTrigger):  # type: ignore[misc]  # APScheduler 3 ships no types
    """A cron trigger that never fires twice at the same wall-clock time.

    When clocks go back, APScheduler 3 fires a job set for a time in the repeated hour twice (at
    02:30 summer time and again at 02:30 winter time). As in crontab, a job runs once in the
    repeated hour: the repeated wall-clock time is skipped. On the spring-forward day a time that
    does not exist still runs once, an hour later, as APScheduler does.
    """

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        next_fire_time: datetime | None = super().get_next_fire_time(previous_fire_time, now)
        if next_fire_time is None or previous_fire_time is None:
            return next_fire_time
        previous_wall = previous_fire_time.astimezone(self.timezone).replace(tzinfo=None)
        if next_fire_time.replace(tzinfo=None) != previous_wall:
            return next_fire_time
        # The repeated hour: look again from its end. (Asking APScheduler for the time right after
        # an ambiguous time gives the same ambiguous time back.)
        after_repeat = (next_fire_time + timedelta(hours=1)).astimezone(self.timezone)
        following: datetime | None = super().get_next_fire_time(None, after_repeat)
        return following
