"""Metadata that travels: given at enqueue or start, carried by the job and by every
task of a run, seen by the task in ``current_job().metadata``, shown in the admin,
and never passed as an argument."""

from __future__ import annotations

import pytest
from django.db import DataError, connection, transaction
from django.urls import reverse

from django_pgflow import InvalidJobError, enqueue, start_flow
from django_pgflow.models import Job, WorkflowRun
from testproject.example.event_flows import WithMetadata, job_metadata

from .admin_support import superuser_client
from .conftest import wait_for

__all__ = ["superuser_client"]  # a fixture

pytestmark = pytest.mark.django_db(transaction=True)

CONTEXT = {"tenant": "acme", "request_id": "req-42", "trace_id": "0af7651916cd43dd"}


def test_a_job_s_metadata_reaches_its_task_and_not_its_arguments(worker_thread):
    by_task = job_metadata.using(metadata=CONTEXT).enqueue()
    by_name = enqueue(job_metadata.name, metadata={"tenant": "globex"})
    plain = job_metadata.enqueue()
    worker_thread()
    for job in (by_task, by_name, plain):
        wait_for(lambda job=job: job.refresh().status == "completed", 30)
    assert (by_task.result, by_task.args, by_task.kwargs) == (CONTEXT, [], {})
    assert by_task.metadata == CONTEXT
    assert by_name.result == {"tenant": "globex"}
    assert plain.result == {} and plain.metadata == {}


def test_a_run_s_metadata_reaches_every_task_of_it(worker_thread):
    worker_thread()
    run = WithMetadata.start({"n": 1}, metadata=CONTEXT).wait(30)
    assert run.metadata == CONTEXT
    assert run.output == {"last": {"each": [CONTEXT, CONTEXT], "last": CONTEXT}}
    jobs = Job.objects.filter(run=run)
    assert jobs.count() == 4  # root, two map tasks, last
    assert all(job.metadata == CONTEXT for job in jobs)
    assert [job.args for job in jobs.filter(step_slug="root")] == [[{"n": 1}]]  # input only


def test_metadata_that_is_not_an_object_is_refused_and_nothing_is_stored():
    with pytest.raises(InvalidJobError, match="metadata must be a dict, got list"):
        job_metadata.using(metadata=["not", "a", "dict"]).enqueue()
    with pytest.raises(InvalidJobError, match="metadata must be a dict, got str"):
        start_flow("with_metadata", None, metadata="tenant=acme")  # type: ignore[arg-type]
    with pytest.raises(InvalidJobError, match="metadata"):
        WithMetadata.start(None, metadata={"blob": "x" * 70_000})
    refused = pytest.raises(DataError, match="metadata must be a JSON object, got array")
    with refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT django_pgflow.start_flow('with_metadata', 'null', NULL, '[1]')")
    assert not Job.objects.exists() and not WorkflowRun.objects.exists()


def test_the_admin_shows_the_metadata_of_a_job_and_of_a_run(superuser_client):
    job = job_metadata.using(metadata={"tenant": "tenant-on-a-job"}).enqueue()
    run = WithMetadata.start(None, metadata={"tenant": "tenant-on-a-run"})
    page = superuser_client.get(reverse("admin:django_pgflow_job_change", args=[job.pk]))
    assert page.status_code == 200
    assert "tenant-on-a-job" in page.content.decode()
    page = superuser_client.get(reverse("admin:django_pgflow_workflowrun_change", args=[run.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="metadata"' in html and "tenant-on-a-run" in html
    # The run's step job shows it too: it travels with every task.
    step_job = Job.objects.get(run=run, step_slug="root")
    page = superuser_client.get(reverse("admin:django_pgflow_job_change", args=[step_job.pk]))
    assert "tenant-on-a-run" in page.content.decode()
