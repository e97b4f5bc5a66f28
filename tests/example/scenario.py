"""Helpers for the code the example tests run inside an example process (ExampleSite.python()).

Imported only there, after ``django.setup()`` with the example's settings: the models below are
the example project's, not the test suite's.
"""

import json
from datetime import timedelta

from accounts.models import EmailVerification
from chat.models import Conversation, Message
from django.contrib.auth import get_user_model
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from django_housekeeping import registry, run_task
from django_housekeeping.models import ErasedKey, ErasureRecord, LegalHold, TaskRun

__all__ = [
    "Conversation",
    "EmailVerification",
    "ErasureRecord",
    "LegalHold",
    "Message",
    "TaskRun",
    "User",
    "ago",
    "conversation",
    "emit",
    "message",
    "registry",
    "reset",
    "run_task",
    "state",
    "user",
]

User = get_user_model()


def ago(days=0, hours=0):
    return timezone.now() - timedelta(days=days, hours=hours)


def reset():
    """An empty site: no runs, messages, conversations or users."""
    TaskRun.objects.all().delete()
    LegalHold.objects.all().delete()
    ErasedKey.objects.all().delete()  # the erasures' ledger protects its records
    ErasureRecord.objects.all().delete()
    Message.objects.all().delete()
    Conversation.objects.all().delete()
    User.objects.all().delete()


def user(name, *, joined_days_ago, verified=None, active=True, staff=False, superuser=False):
    """A user; ``verified=None`` gives them no EmailVerification row at all."""
    account = User.objects.create(
        username=name,
        is_active=active,
        is_staff=staff,
        is_superuser=superuser,
        date_joined=ago(joined_days_ago),
    )
    if verified is not None:
        EmailVerification.objects.create(
            user=account,
            is_verified=verified,
            created_at=account.date_joined,
            verified_at=account.date_joined if verified else None,
        )
    return account


def conversation(owner, title, *, days_ago=0, hours_ago=0, messages=0):
    """A conversation with ``messages`` messages named ``<title>/1``, ``<title>/2`` ..."""
    created = ago(days_ago, hours_ago)
    chat = Conversation.objects.create(user=owner, title=title, created_at=created)
    for number in range(1, messages + 1):
        message(chat, owner, f"{title}/{number}", days_ago=days_ago, hours_ago=hours_ago)
    return chat


def message(chat, owner, content, *, days_ago=0, hours_ago=0):
    return Message.objects.create(
        conversation=chat, user=owner, content=content, created_at=ago(days_ago, hours_ago)
    )


def state():
    """What is left: usernames, conversation titles, message contents, verified usernames."""
    return {
        "users": sorted(User.objects.values_list("username", flat=True)),
        "conversations": sorted(Conversation.objects.values_list("title", flat=True)),
        "messages": sorted(Message.objects.values_list("content", flat=True)),
        "verifications": sorted(EmailVerification.objects.values_list("user__username", flat=True)),
    }


def emit(value):
    """Hand ``value`` (JSON-able) back to the test (project.RESULT_MARKER marks the line)."""
    print("@@result@@" + json.dumps(value, cls=DjangoJSONEncoder))
