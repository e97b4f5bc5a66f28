"""Fixture data for the purge tests: one builder per on_delete rule, and a snapshot of every
row of every fixture model."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import Model, QuerySet
from django.utils import timezone

from tests.testapp.models import (
    Album,
    Artist,
    Attachment,
    Bookmark,
    Comment,
    Dish,
    Document,
    Footnote,
    Mention,
    Owner,
    Page,
    Pin,
    Place,
    Post,
    Quote,
    Reaction,
    Remark,
    Restaurant,
    Review,
    Song,
    Subscription,
    Tag,
    Thread,
    Topic,
)

OLD = timezone.now() - timedelta(days=40)
NEW = timezone.now()

MODELS: list[type[Model]] = [
    Thread,
    Post,
    Reaction,
    Attachment,
    Pin,
    Quote,
    Bookmark,
    Subscription,
    Mention,
    Artist,
    Album,
    Song,
    Tag,
    Remark,
    Topic,
    Document,
    Document.topics.through,
    Page,
    Owner,
    Place,
    Restaurant,
    Review,
    Dish,
    Comment,
    Footnote,
]


def snapshot() -> dict[str, set[Any]]:
    """Every row of every fixture model, as the tuples of its own table's values."""
    return {
        model._meta.label: {
            tuple(row)
            for row in model._base_manager.values_list(
                *[field.attname for field in model._meta.local_concrete_fields]
            )
        }
        for model in MODELS
    }


def removed(before: dict[str, set[Any]], after: dict[str, set[Any]]) -> dict[str, int]:
    """Rows gone per model (rows that only changed count as gone and back, i.e. not at all)."""
    counts = {label: len(before[label]) - len(after[label]) for label in before}
    return {label: count for label, count in sorted(counts.items()) if count}


def thread(title: str, *, old: bool = True, posts: int = 0) -> Thread:
    made = Thread.objects.create(title=title, created_at=OLD if old else NEW)
    for i in range(posts):
        post = Post.objects.create(thread=made, body=f"{title}/{i}")
        Reaction.objects.create(post=post, emoji="+1")
    return made


def old_threads() -> QuerySet[Thread]:
    return Thread.objects.filter(created_at__lt=NEW - timedelta(days=30))


# --- the fixtures of each rule -------------------------------------------------------------------


def protected_threads() -> None:
    """Four old threads: one pinned, one with a quoted post, two free; and a young pinned one."""
    pinned = thread("pinned", posts=1)
    Pin.objects.create(thread=pinned)
    quoted = thread("quoted", posts=2)
    Quote.objects.create(post=quoted.posts.first())
    thread("free-1", posts=2)
    thread("free-2", posts=1)
    Pin.objects.create(thread=thread("young pinned", old=False))


def set_null_and_default() -> None:
    old = thread("old", posts=2)
    Bookmark.objects.create(post=old.posts.first(), note="stays")
    Subscription.objects.create(thread=old, email="a@example.com")
    young = thread("young", old=False, posts=1)
    Bookmark.objects.create(post=young.posts.get(), note="untouched")
    Subscription.objects.create(thread=young, email="b@example.com")


def do_nothing() -> None:
    old = thread("old", posts=1)
    Mention.objects.create(post=old.posts.get())


def music() -> None:
    """Django's RESTRICT example: songs belong to an artist and to an album."""
    for name in ("a", "b"):
        artist = Artist.objects.create(name=name)
        album = Album.objects.create(artist=artist, title=f"{name}-album")
        Album.objects.create(artist=artist, title=f"{name}-empty")
        Song.objects.create(artist=artist, album=album)
    # A song of artist c on an album of artist a: a's album may not go without c.
    c = Artist.objects.create(name="c")
    Song.objects.create(artist=c, album=Album.objects.get(title="a-album"))


def tag_and_remark(row: Document | Page, title: str) -> None:
    """Two tags and a remark on ``row``, through its generic relations."""
    row.tags.create(name=f"{title}-tag-1")
    row.tags.create(name=f"{title}-tag-2")
    row.remarks.create(text=f"{title}-remark")


def tag_threads_with_the_keys_of(rows: QuerySet[Document] | QuerySet[Page]) -> None:
    """A tag and a remark of a thread for each of ``rows``' primary keys: the same object ids,
    another content type, so a purge of ``rows`` leaves them."""
    thread_type = ContentType.objects.get_for_model(Thread)
    for row in rows:
        Tag.objects.create(content_type=thread_type, object_id=row.pk, name="thread tag")
        Remark.objects.create(content_type=thread_type, object_id=str(row.pk), text="r")


def documents() -> None:
    topics = [Topic.objects.create(name=name) for name in ("x", "y", "z")]
    for title, created in [("old-1", OLD), ("old-2", OLD), ("young", NEW)]:
        document = Document.objects.create(
            title=title, created_at=created, size=Decimal("12.50"), body=title * 3
        )
        tag_and_remark(document, title)
        document.topics.set(topics[:2] if title != "young" else topics)
        Footnote.objects.create(document=document, text=f"{title}-note")
    other = thread("tagged", old=False)
    tag_threads_with_the_keys_of(Document.objects.all())
    Tag.objects.create(
        content_type=ContentType.objects.get_for_model(Thread), object_id=other.pk, name="other"
    )


def pages() -> None:
    """Old and young pages with tags and remarks, and threads' tags and remarks with the same
    object ids."""
    for title, created_at in (("old-1", OLD), ("old-2", OLD), ("young", NEW)):
        tag_and_remark(Page.objects.create(title=title, created_at=created_at), title)
    tag_threads_with_the_keys_of(Page.objects.all())


def old_pages() -> QuerySet[Page]:
    return Page.objects.filter(title__startswith="old")


def restaurants() -> None:
    owner = Owner.objects.create(name="owner")
    keeper = Owner.objects.create(name="keeper")
    for name, created, who in [
        ("old-1", OLD, owner),
        ("old-2", OLD, keeper),
        ("young", NEW, owner),
    ]:
        restaurant = Restaurant.objects.create(name=name, created_at=created, owner=who)
        Dish.objects.create(restaurant=restaurant, name=f"{name}-dish")
        Review.objects.create(place=restaurant, stars=5)
    plain = Place.objects.create(name="plain-old", created_at=OLD)
    Review.objects.create(place=plain, stars=1)
    Place.objects.create(name="plain-young", created_at=NEW)


def comments() -> None:
    """A thread of replies: replies of old comments go with them, however young."""
    root = Comment.objects.create(created_at=OLD)
    reply = Comment.objects.create(parent=root, created_at=NEW)
    Comment.objects.create(parent=reply, created_at=NEW)
    Comment.objects.create(created_at=OLD)
    Comment.objects.create(created_at=NEW)
