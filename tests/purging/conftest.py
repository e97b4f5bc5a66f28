from datetime import timedelta

import pytest
from django.utils import timezone

from tests.testapp.models import Post, Thread


@pytest.fixture
def threads() -> None:
    """Ten threads, eight of them 40 days old and two a day old, each with one post."""
    now = timezone.now()
    for i in range(10):
        thread = Thread.objects.create(
            title=str(i), created_at=now - timedelta(days=40 if i < 8 else 1)
        )
        Post.objects.create(thread=thread)
