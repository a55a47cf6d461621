"""Tables of the example app: documents for the embedding pipeline, and an
execution log that tasks write themselves, so tests can count real runs."""

from __future__ import annotations

from django.db import models


class Document(models.Model):
    title = models.CharField(max_length=200)
    text = models.TextField()
    embedding = models.JSONField(null=True, blank=True)
    embedded_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.title


class Execution(models.Model):
    """One row per execution of a task body, written by the task itself."""

    task = models.CharField(max_length=100)
    key = models.CharField(max_length=100, blank=True, default="")
    job_id = models.BigIntegerField(null=True)
    attempt = models.IntegerField(null=True)
    pid = models.IntegerField(null=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True)

    class Meta:
        indexes = [models.Index(fields=["task", "key"])]

    def __str__(self) -> str:
        return f"{self.task}:{self.key}"


class BatchCall(models.Model):
    """One row per call of a batch task's function, written by the function itself."""

    task = models.CharField(max_length=100)
    size = models.IntegerField()
    items = models.JSONField(default=list)  # [[job_id, attempt], ...] in the order received
    pid = models.IntegerField(null=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return f"{self.task} x{self.size}"
