"""The chat site's housekeeping: what to delete, what to count, and when.

django_housekeeping imports this module at startup (as the admin imports ``admin.py``). Change a
retention period or a schedule per deployment in settings, without touching this file::

    HOUSEKEEPING = {"TASKS": {"conversations": {"keep": 60},   # days, or a timedelta
                              "daily_housekeeping": {"schedule": "30 3 * * *"}}}

The admin's "Retention policies" page previews what the conversations policy would delete.
"""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django_housekeeping import cron, every, group, housekeeping_task, retention

from chat.models import Conversation, Message

# Conversations older than 30 days go, with their messages: a declared retention policy.
retention(
    Conversation,
    field="created_at",
    keep=timedelta(days=30),
    schedule=cron("0 3 * * sun"),
    name="conversations",
    description="Weekly Conversation Cleanup",
)


@housekeeping_task(
    name="messages",
    description="Delete orphaned messages (messages without a conversation)",
    tags=["retention"],
)
def delete_orphaned_messages(ctx):
    return ctx.purge(Message.objects.filter(conversation__isnull=True))


@housekeeping_task(
    name="users",
    options={"days": 7},
    description="Delete users who never verified their e-mail N days after joining",
    tags=["retention"],
)
def delete_unverified_users(ctx):
    """Delete users who joined more than ``days`` days ago and never verified their e-mail.

    Their conversations, messages and verification go with them. Kept: every user who verified,
    including those an admin deactivated (banned: their record must stay), and staff and
    superusers whatever their verification.
    """
    cutoff = ctx.now - timedelta(days=ctx.options["days"])
    never_verified = (
        get_user_model()
        .objects.filter(date_joined__lt=cutoff, is_staff=False, is_superuser=False)
        .exclude(email_verification__is_verified=True)
    )
    return ctx.purge(never_verified)


# After the deleting tasks: in "all" and in the group, it counts what they left.
@housekeeping_task(
    name="stats",
    schedule=every(hours=6),
    description="Statistics",
    destructive=False,
    after=["conversations", "messages", "users"],
)
def usage_statistics(ctx):
    """Count users, conversations and messages, in total and over the last 24 hours."""
    day_ago = ctx.now - timedelta(hours=24)
    return {
        "total_users": get_user_model().objects.count(),
        "total_conversations": Conversation.objects.count(),
        "total_messages": Message.objects.count(),
        "recent_conversations_24h": Conversation.objects.filter(created_at__gte=day_ago).count(),
        "recent_messages_24h": Message.objects.filter(created_at__gte=day_ago).count(),
    }


group(
    "daily_housekeeping",
    ["conversations", "messages", "users", "stats"],
    schedule=cron("0 2 * * *"),
    description="Daily Housekeeping",
)
