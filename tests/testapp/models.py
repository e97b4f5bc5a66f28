from typing import Any

from django.contrib.contenttypes.fields import GenericForeignKey, GenericRelation
from django.db import models

# ruff: noqa: DJ008  (fixture models, never shown)


class Thread(models.Model):
    title = models.CharField(max_length=100)
    created_at = models.DateTimeField()


class OldThread(Thread):
    """A proxy: its rows are reported under its own label, as QuerySet.delete() does."""

    class Meta:
        proxy = True


class Post(models.Model):
    thread = models.ForeignKey(Thread, null=True, on_delete=models.CASCADE, related_name="posts")
    body = models.TextField(blank=True)


class Reaction(models.Model):
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="reactions")
    emoji = models.CharField(max_length=10)


class Attachment(models.Model):
    """Reachable from a Thread along two cascading paths: directly and through its Post."""

    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="attachments")
    post = models.ForeignKey(
        Post, null=True, blank=True, on_delete=models.CASCADE, related_name="attachments"
    )
    name = models.CharField(max_length=100, blank=True)


class SlotRecord(models.Model):
    """Written by the fixture tasks so tests can see what ran; no constraint on purpose."""

    task_name = models.CharField(max_length=200)
    now = models.DateTimeField()
    dry_run = models.BooleanField(default=False)


# --- The purge engine's fixtures: every on_delete rule, generic relations, multi-table
# inheritance, many-to-many, a cycle and a custom handler. ---


class Pin(models.Model):
    """A pinned thread is protected: purging it is refused and reported."""

    thread = models.ForeignKey(Thread, on_delete=models.PROTECT, related_name="pins")


class Quote(models.Model):
    """A quoted post protects its thread too, one level down the cascade."""

    post = models.ForeignKey(Post, on_delete=models.PROTECT, related_name="quotes")


class Bookmark(models.Model):
    """Survives its post: the reference is set to NULL."""

    post = models.ForeignKey(Post, null=True, on_delete=models.SET_NULL, related_name="bookmarks")
    note = models.CharField(max_length=100, blank=True)


class Subscription(models.Model):
    """Survives its thread: the reference is set to the default."""

    thread = models.ForeignKey(
        Thread,
        null=True,
        default=None,
        on_delete=models.SET_DEFAULT,
        related_name="subscriptions",
    )
    email = models.CharField(max_length=100, blank=True)


class Mention(models.Model):
    """DO_NOTHING without a database constraint: left alone, pointing at nothing."""

    post = models.ForeignKey(
        Post, on_delete=models.DO_NOTHING, db_constraint=False, related_name="mentions"
    )


class Artist(models.Model):
    name = models.CharField(max_length=100)


class Album(models.Model):
    artist = models.ForeignKey(Artist, on_delete=models.CASCADE, related_name="albums")
    title = models.CharField(max_length=100, blank=True)


class Song(models.Model):
    """Django's RESTRICT example: an album goes only together with its songs' artist."""

    artist = models.ForeignKey(Artist, on_delete=models.CASCADE, related_name="songs")
    album = models.ForeignKey(Album, on_delete=models.RESTRICT, related_name="songs")


class Tag(models.Model):
    """Attached to anything through a generic foreign key with an integer object id."""

    content_type = models.ForeignKey("contenttypes.ContentType", on_delete=models.CASCADE)
    object_id = models.PositiveBigIntegerField()
    target = GenericForeignKey("content_type", "object_id")
    name = models.CharField(max_length=50)


class Remark(models.Model):
    """A generic foreign key whose object id is text."""

    content_type = models.ForeignKey("contenttypes.ContentType", on_delete=models.CASCADE)
    object_id = models.CharField(max_length=40)
    target = GenericForeignKey("content_type", "object_id")
    text = models.CharField(max_length=100, blank=True)


class Topic(models.Model):
    name = models.CharField(max_length=50)


class Document(models.Model):
    """Generic relations, a many-to-many (auto-created through model) and data worth archiving."""

    title = models.CharField(max_length=100)
    created_at = models.DateTimeField()
    size = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    body = models.TextField(blank=True)
    tags = GenericRelation(Tag)
    remarks = GenericRelation(Remark)
    topics = models.ManyToManyField(Topic, blank=True, related_name="documents")


class Page(models.Model):
    """Generic relations (integer and text object ids) and nothing Django's collector must do:
    purged with the planned statements."""

    title = models.CharField(max_length=100)
    created_at = models.DateTimeField()
    tags = GenericRelation(Tag)
    remarks = GenericRelation(Remark)


class Owner(models.Model):
    name = models.CharField(max_length=100)


class Place(models.Model):
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField()


class Restaurant(Place):
    """Multi-table inheritance: a restaurant row and its place row go together."""

    owner = models.ForeignKey(
        Owner, null=True, blank=True, on_delete=models.CASCADE, related_name="restaurants"
    )
    serves_pizza = models.BooleanField(default=False)


class Review(models.Model):
    place = models.ForeignKey(Place, on_delete=models.CASCADE, related_name="reviews")
    stars = models.PositiveSmallIntegerField(default=3)


class Dish(models.Model):
    restaurant = models.ForeignKey(Restaurant, on_delete=models.CASCADE, related_name="dishes")
    name = models.CharField(max_length=100, blank=True)


class Comment(models.Model):
    """A cascade that reaches its own table: purged through Django's collector."""

    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies"
    )
    created_at = models.DateTimeField()


def detach(collector: Any, field: Any, sub_objs: Any, using: str) -> None:
    """A custom on_delete handler (the engine hands such relations to Django's collector)."""
    collector.add_field_update(field, None, sub_objs)


class Footnote(models.Model):
    document = models.ForeignKey(Document, null=True, on_delete=detach, related_name="footnotes")
    text = models.CharField(max_length=100, blank=True)


# --- Retention policies: per-plan windows (a plan of the chat itself, and of its account). ---


class Account(models.Model):
    # NULL on purpose: rows whose keep_by value is NULL have a window too.
    plan = models.CharField(max_length=20, null=True, blank=True)  # noqa: DJ001


class Chat(models.Model):
    """A chat kept by its last update, per plan: its own, or its account's."""

    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.CASCADE, related_name="chats"
    )
    plan = models.CharField(max_length=20, null=True, blank=True)  # noqa: DJ001
    title = models.CharField(max_length=100, blank=True)
    updated_at = models.DateTimeField(db_index=True)
    archived = models.BooleanField(default=False)


class ChatLine(models.Model):
    """Goes with its chat: a policy's blast radius reaches it."""

    chat = models.ForeignKey(Chat, on_delete=models.CASCADE, related_name="lines")
    text = models.CharField(max_length=100, blank=True)


# --- Partitioned tables: on PostgreSQL, migration 0004 creates these tables PARTITION BY RANGE
# (at), primary key (id, at); plain tables elsewhere. The tests create the partitions. ---


class Reading(models.Model):
    """A time series nothing references: its old partitions may be dropped whole."""

    id = models.BigAutoField(primary_key=True)
    at = models.DateTimeField()
    value = models.IntegerField(default=0)


class Sample(models.Model):
    """A partitioned table a foreign key references: its rows go by batches, with their notes."""

    id = models.BigAutoField(primary_key=True)
    at = models.DateTimeField()


class SampleNote(models.Model):
    # No constraint: a partitioned table's key is (id, at), so nothing can reference id alone.
    sample = models.ForeignKey(
        Sample, on_delete=models.CASCADE, related_name="notes", db_constraint=False
    )
    text = models.CharField(max_length=100, blank=True)
