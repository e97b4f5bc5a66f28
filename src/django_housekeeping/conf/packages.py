"""Other packages named ``django_housekeeping`` on the import path.

Debian and Ubuntu ship ``python3-django-housekeeping``, another project (spanezz's
django-housekeeping, since 2014) with the same import name and a ``housekeeping`` command too.
Whichever directory comes first on ``sys.path`` is imported and the other is invisible: this
finds the others, so that the system check W004 can name them.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "django_housekeeping"
# A file only this project has, and files only the other project has.
OUR_MARKER = Path("tasks") / "registry.py"
OTHER_PROJECT_MARKERS = ("toposort.py", "housekeeping.py", "run.py")


@dataclass(frozen=True)
class OtherPackage:
    path: Path
    other_project: bool  # spanezz's django-housekeeping; else another copy of this one

    @property
    def description(self) -> str:
        if self.other_project:
            return (
                "another project with the same import name (spanezz's django-housekeeping, "
                "Debian's and Ubuntu's python3-django-housekeeping)"
            )
        return "another copy of django-housekeeping (an older install?)"


def imported_package() -> Path:
    """The directory ``import django_housekeeping`` found: this one (conf/'s parent)."""
    return Path(__file__).resolve().parent.parent


def other_packages(path: list[str] | None = None) -> list[OtherPackage]:
    """Every ``django_housekeeping`` package on ``path`` (``sys.path``) but the imported one."""
    ours = imported_package()
    found: list[OtherPackage] = []
    seen = {ours}
    for entry in sys.path if path is None else path:
        candidate = Path(entry or ".") / PACKAGE
        try:
            if not (candidate / "__init__.py").is_file():
                continue
            resolved = candidate.resolve()
        except OSError:  # an unreadable entry: nothing to say about it
            continue
        if resolved in seen:
            continue
        seen.add(resolved)
        other_project = not (resolved / OUR_MARKER).is_file() and any(
            (resolved / marker).is_file() for marker in OTHER_PROJECT_MARKERS
        )
        found.append(OtherPackage(resolved, other_project))
    return found
