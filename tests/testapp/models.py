from django.db import models

# ruff: noqa: DJ008  (fixture models, never shown)


class Thread(models.Model):
    title = models.CharField(max_length=100)
    created_at = models.DateTimeField()


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
