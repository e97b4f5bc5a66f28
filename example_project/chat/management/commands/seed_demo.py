"""``manage.py seed_demo``: fill the chat site with data the housekeeping tasks have work on.

Users of every kind the ``users`` task tells apart (never verified and joined long ago, never
verified and new, verified, banned, one staff member), conversations spread over the last 90 days
(those older than 30 are the ``conversations`` task's), their messages, and orphaned messages (the
``messages`` task's). Rows go in with bulk inserts, so a million messages take seconds.

One old conversation of a verified user gets a legal hold (a support case): the
``conversations`` task keeps it, and the admin's "Legal holds" page lists it.
"""

import random
import time
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand
from django.db import connections, transaction
from django.db.models import Max
from django.utils import timezone
from django_housekeeping import holds

from accounts.models import EmailVerification
from chat.models import Conversation, Message

SENTENCES = (
    "How do I reset my password?",
    "Can you summarize this document in three bullet points?",
    "Please explain retrieval augmented generation with an example.",
    "Which embedding model should we use for German and English text?",
    "Here is a shorter version of the text you asked for.",
    "The answer depends on how your vector store is configured.",
    "Thanks, that helps a lot!",
    "What does the error 'context length exceeded' mean?",
    "I found three passages in the handbook that answer this.",
    "Could you translate the summary into French?",
)

# Shares of the non-staff users, in percent; the rest are verified and active.
MIX = {"unverified-old": 10, "unverified-new": 5, "banned": 5}


def count(minimum):
    """An argparse type: an integer of at least ``minimum``."""

    def parse(text):
        value = int(text)
        if value < minimum:
            raise ValueError(text)
        return value

    parse.__name__ = f"integer >= {minimum}"
    return parse


class Command(BaseCommand):
    help = "Create demo users, conversations and messages (some old, some orphaned)."

    MESSAGE_FIELDS = ("conversation", "user", "role", "content", "created_at")

    def add_arguments(self, parser):
        add = parser.add_argument
        add("--users", type=count(1), default=200, help="Users, one of them staff (200).")
        add("--conversations", type=count(0), default=5000, help="Conversations (5000).")
        add("--messages-per", type=count(0), default=10, help="Messages per conversation (10).")
        add("--orphans", type=count(0), help="Messages without a conversation (1%% of them).")
        add("--days", type=count(1), default=90, help="Spread conversations over N days (90).")
        add("--seed", type=int, help="Random seed, for repeatable data.")
        add("--if-empty", action="store_true", help="Add nothing if there are conversations.")
        add("--batch-size", type=count(1), default=5000, help="Rows per INSERT batch (5000).")

    def handle(self, *args, **options):
        if options["if_empty"] and (Conversation.objects.exists() or Message.objects.exists()):
            self.stdout.write(
                f"Demo data is already there ({get_user_model().objects.count()} users, "
                f"{Conversation.objects.count()} conversations, {Message.objects.count()} "
                "messages): nothing added."
            )
            return
        self.random = random.Random(options["seed"])
        self.now = timezone.now()
        self.batch_size = options["batch_size"]
        days = options["days"]
        started = time.monotonic()
        with transaction.atomic():
            users = self.create_users(options["users"], days)
            conversations = self.create_conversations(users, options["conversations"], days)
            messages = self.create_messages(conversations, options["messages_per"])
            orphans = options["orphans"]
            if orphans is None:
                orphans = max(1, messages // 100) if messages else 0
            self.create_orphans(users, orphans, days)
            held = self.hold_a_conversation()
        kinds = ", ".join(f"{number} {kind}" for kind, number in self.user_mix.items())
        self.stdout.write(
            f"Created {sum(self.user_mix.values())} users ({kinds}), "
            f"{len(conversations)} conversations, {messages} messages and {orphans} orphaned "
            f"messages in {time.monotonic() - started:.1f} s."
        )
        if held is not None:
            self.stdout.write(
                f"Placed a legal hold on {held} (#{held.pk}): the conversations task keeps it."
            )

    def hold_a_conversation(self):
        """A legal hold on the oldest conversation of a verified, active user (none: no hold)."""
        conversation = (
            Conversation.objects.filter(
                user__is_active=True,
                user__is_staff=False,
                user__email_verification__is_verified=True,
            )
            .order_by("created_at", "pk")
            .first()
        )
        if conversation is None:
            return None
        holds.place(conversation, reason="Demo: support case #1024 needs this conversation")
        return conversation

    def ago(self, low_days, high_days):
        """A time between ``high_days`` and ``low_days`` days ago."""
        return self.now - timedelta(days=self.random.uniform(low_days, high_days))

    def create_users(self, count, days):
        """Users of each kind; returns ``[(pk, date_joined), ...]`` of the non-staff ones."""
        User = get_user_model()
        others = count - 1
        mix = {kind: others * share // 100 for kind, share in MIX.items()}
        if others >= len(MIX) + 1:  # enough users for at least one of each kind
            mix = {kind: max(1, number) for kind, number in mix.items()}
        mix["verified"] = others - sum(mix.values())
        self.user_mix = {"staff": 1, **mix}

        first_pk = (User.objects.aggregate(last=Max("pk"))["last"] or 0) + 1
        joined = {
            "staff": lambda: self.ago(days, days),
            "unverified-old": lambda: self.ago(8, days),  # past the `users` task's 7 days
            "unverified-new": lambda: self.ago(0, 6),
            "banned": lambda: self.ago(days, 2 * days),
            "verified": lambda: self.ago(days, 2 * days),
        }
        people = []
        for kind, number in self.user_mix.items():
            for _ in range(number):
                username = f"{kind}-{first_pk + len(people)}"
                people.append((kind, username, joined[kind]()))
        User.objects.bulk_create(
            [
                User(
                    username=username,
                    email=f"{username}@example.com",
                    password=make_password(None),
                    is_staff=kind == "staff",
                    is_active=kind != "banned",
                    date_joined=date_joined,
                )
                for kind, username, date_joined in people
            ],
            batch_size=self.batch_size,
        )
        pks = dict(
            User.objects.filter(username__in=[username for _, username, _ in people]).values_list(
                "username", "pk"
            )
        )
        verifications = []
        for kind, username, date_joined in people:
            verified = kind in ("banned", "verified")
            verified_at = min(self.now, date_joined + timedelta(hours=self.random.uniform(0, 48)))
            verifications.append(
                EmailVerification(
                    user_id=pks[username],
                    is_verified=verified,
                    created_at=date_joined,
                    verified_at=verified_at if verified else None,
                )
            )
        EmailVerification.objects.bulk_create(verifications, batch_size=self.batch_size)
        return [
            (pks[username], date_joined)
            for kind, username, date_joined in people
            if kind != "staff"
        ]

    def create_conversations(self, users, count, days):
        """Conversations spread over the last ``days`` days, none before its owner joined.

        Returns ``[(pk, user_pk, created_at), ...]``.
        """
        if not users:
            return []
        last_pk = Conversation.objects.aggregate(last=Max("pk"))["last"] or 0
        rows = []
        for number in range(count):
            user_pk, joined = self.random.choice(users)
            created_at = self.ago(0, days)
            if created_at < joined:
                created_at = joined + (self.now - joined) * self.random.random()
            rows.append(
                Conversation(
                    user_id=user_pk, title=f"Conversation {number + 1}", created_at=created_at
                )
            )
        Conversation.objects.bulk_create(rows, batch_size=self.batch_size)
        # Read the keys back: not every database returns them from a bulk insert.
        return list(
            Conversation.objects.filter(pk__gt=last_pk)
            .order_by("pk")
            .values_list("pk", "user_id", "created_at")
        )

    def create_messages(self, conversations, per_conversation):
        """``per_conversation`` messages in each conversation, user and assistant in turn."""
        rows = []
        created = 0
        for conversation_pk, user_pk, started in conversations:
            sent = started
            for number in range(per_conversation):
                sent = min(self.now, sent + timedelta(seconds=self.random.randint(5, 300)))
                if number % 2 == 0:
                    rows.append(
                        (conversation_pk, user_pk, Message.Role.USER, self.sentence(), sent)
                    )
                else:
                    rows.append(
                        (conversation_pk, None, Message.Role.ASSISTANT, self.sentence(), sent)
                    )
                if len(rows) >= self.batch_size:
                    created += self.insert_messages(rows)
        return created + self.insert_messages(rows)

    def create_orphans(self, users, count, days):
        rows = []
        for _ in range(count):
            user_pk = self.random.choice(users)[0] if users else None
            rows.append((None, user_pk, Message.Role.USER, self.sentence(), self.ago(0, days)))
            if len(rows) >= self.batch_size:
                self.insert_messages(rows)
        self.insert_messages(rows)

    def insert_messages(self, rows):
        """Insert and empty ``rows`` of (conversation, user, role, content, created_at).

        Straight through the cursor, several times faster than ``bulk_create`` for a million rows
        as no model instance is built: COPY on PostgreSQL (psycopg 3), multi-row INSERTs elsewhere.
        """
        count = len(rows)
        if not count:
            return 0
        connection = connections[Message.objects.db]
        quote = connection.ops.quote_name
        fields = [Message._meta.get_field(name) for name in self.MESSAGE_FIELDS]
        table = quote(Message._meta.db_table)
        columns = ", ".join(quote(field.column) for field in fields)
        with connection.cursor() as cursor:
            if hasattr(cursor.cursor, "copy"):
                with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                adapt = connection.ops.adapt_datetimefield_value
                placeholders = f"({', '.join(['%s'] * len(fields))})"
                per_statement = min(1000, connection.ops.bulk_batch_size(fields, rows))
                for start in range(0, count, per_statement):
                    chunk = rows[start : start + per_statement]
                    cursor.execute(
                        f"INSERT INTO {table} ({columns}) VALUES "
                        + ", ".join([placeholders] * len(chunk)),
                        [value for row in chunk for value in (*row[:-1], adapt(row[-1]))],
                    )
        rows.clear()
        return count

    def sentence(self):
        return self.random.choice(SENTENCES)
