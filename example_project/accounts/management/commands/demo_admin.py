"""``manage.py demo_admin``: create (or reset) the demo's administrator and print its login.

DEVELOPMENT ONLY: the password is printed on the terminal. It is ``--password``, or the one kept
in ``--password-file`` (created with a random password the first time), or a new random one.
"""

import secrets
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.utils import timezone

from accounts.models import EmailVerification


class Command(BaseCommand):
    help = "Create or reset the demo superuser and print its username and password."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin", help="Username (default 'admin').")
        parser.add_argument("--password", help="Password (default: a random one).")
        parser.add_argument(
            "--password-file",
            type=Path,
            help="Keep the random password in this file, so it stays the same from run to run.",
        )

    def handle(self, *args, username, password, password_file, **options):
        if password is None and password_file is not None and password_file.exists():
            password = password_file.read_text().strip() or None
        if password is None:
            password = secrets.token_urlsafe(12)
            if password_file is not None:
                password_file.parent.mkdir(parents=True, exist_ok=True)
                password_file.touch(mode=0o600)
                password_file.write_text(password + "\n")

        User = get_user_model()
        user, created = User.objects.get_or_create(
            **{User.USERNAME_FIELD: username}, defaults={"email": f"{username}@example.com"}
        )
        user.is_staff = user.is_superuser = user.is_active = True
        user.set_password(password)
        user.save()
        now = timezone.now()
        EmailVerification.objects.update_or_create(
            user=user, defaults={"is_verified": True, "created_at": now, "verified_at": now}
        )
        self.stdout.write(
            f"{'Created' if created else 'Updated'} the demo administrator (development only):\n"
            f"  username: {username}\n"
            f"  password: {password}"
        )
