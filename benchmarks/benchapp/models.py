from django.db import models


class Conversation(models.Model):
    title = models.CharField(max_length=200)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "bench_conversation"

    def __str__(self) -> str:
        return self.title


class Message(models.Model):
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    role = models.CharField(max_length=20)
    body = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        db_table = "bench_message"

    def __str__(self) -> str:
        return self.body[:40]


class Number(models.Model):
    """1..10,000: the seed data is made in SQL from cross joins of this table."""

    n = models.IntegerField(primary_key=True)

    class Meta:
        db_table = "bench_number"

    def __str__(self) -> str:
        return str(self.n)


class Event(models.Model):
    """benchmarks/partitions.py: a time series, on PostgreSQL partitioned by month on ``at``
    (the benchmark creates the table; its primary key is ``(id, at)``)."""

    id = models.BigAutoField(primary_key=True)
    at = models.DateTimeField()
    value = models.IntegerField()
    payload = models.TextField()

    class Meta:
        db_table = "bench_event"

    def __str__(self) -> str:
        return f"event {self.pk}"
