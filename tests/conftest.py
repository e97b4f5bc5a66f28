from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from django_housekeeping import registry


@pytest.fixture
def temporary_tasks() -> Iterator[None]:
    """Every task registered while the test runs is unregistered after it."""
    before = set(registry.as_mapping())
    yield
    for name in set(registry.as_mapping()) - before:
        registry.unregister(name)


@pytest.fixture
def staff_client(django_user_model: Any) -> Callable[..., tuple[Client, Any]]:
    """``make(*codenames)``: a logged-in client for a staff user with those permissions of this
    app (e.g. ``"run_task"``, ``"change_taskstate"``)."""

    def make(*perms: str) -> tuple[Client, Any]:
        user = django_user_model.objects.create_user(
            username=f"staff_{'_'.join(perms) or 'none'}", password=None, is_staff=True
        )
        user.user_permissions.set(
            Permission.objects.filter(
                content_type__app_label="django_housekeeping", codename__in=perms
            )
        )
        client = Client()
        client.force_login(user)
        return client, user

    return make
