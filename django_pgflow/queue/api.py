"""Enqueue, cancel and retry from application code, inside the caller's transaction.

These calls use Django's own connection, so a job enqueued inside
``transaction.atomic()`` exists only if that transaction commits, and the
workers' NOTIFY is delivered at commit.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from django.db import ProgrammingError, connections

from .. import otel, signals, validation
from ..conf import pgflow_settings
from ..models import Job
from ..setup_errors import not_migrated
from . import registry
from .options import (
    JobOptions,
    JobSpec,
    options_from,
    queue_defaults,
    settings_defaults,
)

# The job comes back as its columns in the model's order, so that the Job is
# built from them directly (Job.objects.raw cost as much as the insert itself).
JOB_FIELDS = Job._meta.concrete_fields
JOB_ATTNAMES = [field.attname for field in JOB_FIELDS]
JOB_DECODED = [(i, field) for i, field in enumerate(JOB_FIELDS) if hasattr(field, "from_db_value")]
JOB_COLUMNS = ", ".join(str(field.column) for field in JOB_FIELDS)
ENQUEUE_SQL = (
    f"SELECT {JOB_COLUMNS} FROM django_pgflow.enqueue("
    "%s, %s, %s::jsonb, %s::jsonb, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s::jsonb)"
)


def _resolved(spec: JobSpec) -> JobOptions:
    """The job's options: given > task > its queue's defaults > PGFLOW settings."""
    queue = spec.options.queue or pgflow_settings.DEFAULT_QUEUE
    options = spec.options.merged_over(queue_defaults(queue)).merged_over(settings_defaults())
    validation.validate_options(options)
    if options.resources:
        validation.validate_declared_resources(options.resources)
    return options


def _resources_json(options: JobOptions) -> str | None:
    return json.dumps(dict(options.resources)) if options.resources else None


def _payload(spec: JobSpec) -> tuple[str, str]:
    if not isinstance(spec.args, list | tuple):
        raise validation.InvalidJobError(
            f"args must be a list or tuple, got {type(spec.args).__name__}."
        )
    if not isinstance(spec.kwargs, dict):
        raise validation.InvalidJobError(
            f"kwargs must be a dict, got {type(spec.kwargs).__name__}."
        )
    limit = pgflow_settings.MAX_PAYLOAD_BYTES
    args = validation.to_json(list(spec.args), "args")
    kwargs = validation.to_json(spec.kwargs, "kwargs")
    size = len(args.encode()) + len(kwargs.encode())
    if size > limit:
        raise validation.InvalidJobError(
            f"The payload of {spec.task_name} (args and kwargs) is {size} bytes of JSON, over "
            f"the limit of {limit} bytes (PGFLOW['MAX_PAYLOAD_BYTES']). Store large data "
            "elsewhere and pass a reference."
        )
    return args, kwargs


def enqueue_spec(spec: JobSpec, *, using: str = "default") -> Job:
    """Validate and insert one job; returns it (or, for an active unique key, the holder)."""
    options = _resolved(spec)
    args, kwargs = _payload(spec)
    params = [
        options.queue,
        spec.task_name,
        args,
        kwargs,
        options.priority,
        options.run_at,
        options.delay,
        options.max_attempts,
        options.retry_delay,
        options.max_retry_delay,
        options.timeout,
        options.unique_key,
        _resources_json(options),
        options.lock_key,
    ]
    with otel.enqueue_span(spec.task_name, options.queue) as carrier:
        metadata = _metadata(spec, carrier)
        encoded = validation.to_json(metadata, "metadata", METADATA_BYTES) if metadata else None
        job = _insert([*params, encoded], using)
    if signals.job_enqueued.receivers:
        _send_enqueued(job.pk, job.task_name, job.queue, job)
    return job


# The SQL core's limit for metadata (check_metadata).
METADATA_BYTES = 65536


def _metadata(spec: JobSpec, carrier: dict[str, str] | None) -> dict[str, Any] | None:
    """What travels with the job: the caller's metadata, and the trace carrier."""
    if spec.metadata is not None and not isinstance(spec.metadata, dict):
        raise validation.InvalidJobError(
            f"metadata must be a dict, got {type(spec.metadata).__name__}."
        )
    if not carrier:
        return spec.metadata or None
    return {**(spec.metadata or {}), "trace": carrier}


def _insert(params: list[Any], using: str) -> Job:
    connection = connections[using]
    try:
        with validation.refused_by_sql(), connection.cursor() as cursor:
            cursor.execute(ENQUEUE_SQL, params)
            values = list(cursor.fetchone())
    except ProgrammingError as error:
        raise (not_migrated(error, using) or error) from error
    for index, field in JOB_DECODED:
        values[index] = field.from_db_value(values[index], None, connection)
    return Job.from_db(using, JOB_ATTNAMES, values)


def _send_enqueued(job_id: int, task_name: str, queue: str | None, job: Job | None) -> None:
    signals.job_enqueued.send(sender=Job, job_id=job_id, task_name=task_name, queue=queue, job=job)


def enqueue(
    task_name: str,
    args: list[Any] | tuple[Any, ...] | None = None,
    kwargs: dict[str, Any] | None = None,
    *,
    allow_unknown: bool = False,
    using: str = "default",
    metadata: dict[str, Any] | None = None,
    **options: Any,
) -> Job:
    """Enqueue a task by its dotted name: ``enqueue("myapp.tasks.send", args=[42])``.

    Options are those of ``Task.using``. Unset ones come from the task, then from
    ``PGFLOW`` settings. ``allow_unknown=True`` queues a task this process does
    not define (a worker elsewhere must). ``metadata`` (a dict) travels with the
    job and is never passed to the task.
    """
    spec = make_spec(task_name, args, kwargs, allow_unknown=allow_unknown, **options)
    return enqueue_spec(replace(spec, metadata=metadata), using=using)


def make_spec(
    task_name: str,
    args: list[Any] | tuple[Any, ...] | None = None,
    kwargs: dict[str, Any] | None = None,
    *,
    allow_unknown: bool = False,
    **options: Any,
) -> JobSpec:
    validation.validate_enqueueable(task_name)
    given = options_from({k: v for k, v in options.items() if v is not None})
    if allow_unknown:
        defaults = JobOptions()
    else:
        defaults = registry.get_task(task_name).options
    return JobSpec(
        task_name=task_name,
        args=_as_args(args),
        kwargs=kwargs if kwargs is not None else {},
        options=given.merged_over(defaults),
    )


def _as_args(args: Any) -> Any:
    """A tuple of positional arguments; anything else is left for _payload to refuse."""
    if args is None:
        return ()
    return tuple(args) if isinstance(args, list | tuple) else args


def _options_json(spec: JobSpec, options: JobOptions) -> str:
    """The job's fields other than args and kwargs, as the JSON enqueue_many reads."""
    run_at = options.run_at.isoformat() if isinstance(options.run_at, dt.datetime) else None
    fields = {
        "queue": options.queue,
        "task_name": spec.task_name,
        "priority": options.priority,
        "run_at": run_at,
        "delay": options.delay,
        "max_attempts": options.max_attempts,
        "retry_delay": options.retry_delay,
        "max_retry_delay": options.max_retry_delay,
        "timeout": options.timeout,
        "unique_key": options.unique_key,
        "resources": dict(options.resources) if options.resources else None,
        "lock_key": options.lock_key,
    }
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False)


def spec_json(spec: JobSpec) -> str:
    """One job as an item of the SQL ``enqueue_many()`` (a schedule's job is stored so)."""
    args, kwargs = _payload(spec)
    fields = _options_json(spec, _resolved(spec))
    return f'{fields[:-1]},"args":{args},"kwargs":{kwargs}}}'


class _Batch:
    """enqueue_batch()'s arguments, built spec by spec: each distinct set of options
    is sent once, and each job names its set by index."""

    def __init__(self, carrier: dict[str, str] | None) -> None:
        self.carrier = carrier
        self.groups: dict[tuple[str, JobOptions], int] = {}
        self.options: list[str] = []
        self.option: list[int] = []
        self.args: list[str] = []
        self.kwargs: list[str] = []
        self.metadata: list[str] = []
        self.any_kwargs = False
        self.any_metadata = False

    def add(self, spec: JobSpec) -> None:
        key = (spec.task_name, spec.options)
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = len(self.options)
            self.options.append(_options_json(spec, _resolved(spec)))
        args, kwargs = _payload(spec)
        metadata = _metadata(spec, self.carrier)
        self.option.append(group)
        self.args.append(args)
        self.kwargs.append(kwargs)
        self.any_kwargs = self.any_kwargs or kwargs != "{}"
        if metadata:
            self.metadata.append(validation.to_json(metadata, "metadata", METADATA_BYTES))
            self.any_metadata = True
        else:
            self.metadata.append("null")

    def params(self) -> list[Any]:
        return [
            _json_array(self.options),
            self.option,
            _json_array(self.args),
            _json_array(self.kwargs) if self.any_kwargs else None,
            _json_array(self.metadata) if self.any_metadata else None,
        ]


def _json_array(items: list[str]) -> str:
    return "[" + ",".join(items) + "]"


def enqueue_many(specs: Iterable[JobSpec], *, using: str = "default") -> list[int]:
    """Enqueue many jobs in one round trip; returns their ids in the order given.

    Every spec is validated before anything is sent: one bad spec refuses the
    whole batch and stores nothing.
    """
    if isinstance(specs, str | bytes | dict) or not isinstance(specs, Iterable):
        raise validation.InvalidJobError(
            f"enqueue_many takes an iterable of job specs such as [my_task.s(1, 2)], got "
            f"{type(specs).__name__}."
        )
    specs_list = list(specs)
    for index, spec in enumerate(specs_list):
        if not isinstance(spec, JobSpec):
            raise validation.InvalidJobError(
                f"enqueue_many takes job specs such as my_task.s(1, 2); item {index} is "
                f"{type(spec).__name__}."
            )
    if not specs_list:
        return []
    with otel.enqueue_span("enqueue_many", None) as carrier:
        batch = _Batch(carrier)
        for spec in specs_list:
            batch.add(spec)
        ids = _insert_many(batch.params(), using)
    if signals.job_enqueued.receivers:
        for spec, job_id in zip(specs_list, ids, strict=True):
            queue = spec.options.queue or pgflow_settings.DEFAULT_QUEUE
            _send_enqueued(job_id, spec.task_name, queue, None)
    return ids


ENQUEUE_BATCH_SQL = (
    "SELECT ord, id FROM django_pgflow.enqueue_batch(%s::jsonb, %s::integer[], %s::jsonb, "
    "%s::jsonb, %s::jsonb)"
)


def _insert_many(params: list[Any], using: str) -> list[int]:
    try:
        with validation.refused_by_sql(), connections[using].cursor() as cursor:
            cursor.execute(ENQUEUE_BATCH_SQL, params)
            rows = cursor.fetchall()
    except ProgrammingError as error:
        raise (not_migrated(error, using) or error) from error
    rows.sort()
    return [row[1] for row in rows]


def cancel_job(job_id: int, *, using: str = "default") -> bool:
    """Cancel a queued or running job; False if it had already finished (or never existed)."""
    validation.validate_id(job_id, "job_id")
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT django_pgflow.cancel(%s)", [job_id])
        return bool(cursor.fetchone()[0])


def retry_job(job_id: int, *, delay: float = 0, using: str = "default") -> bool:
    """Requeue a failed or cancelled job with a fresh attempt budget."""
    validation.validate_id(job_id, "job_id")
    validation.validate_positive_number("delay", delay, allow_zero=True)
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT django_pgflow.retry(%s, %s)", [job_id, delay])
        return bool(cursor.fetchone()[0])


__all__ = ["cancel_job", "enqueue", "enqueue_many", "enqueue_spec", "options_from", "retry_job"]
