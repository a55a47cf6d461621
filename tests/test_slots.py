"""Capacity as slot rows: what the claim takes, every way a job gives it back,
a capacity changed while held, deleted jobs, and many connections claiming
at once.

These drive the SQL functions the worker calls over real connections, so the
claims race each other for real; test_resources.py runs the same gates
through worker processes."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from django_pgflow import enqueue_many
from django_pgflow.models import Job
from django_pgflow.worker.connection import connection_kwargs
from testproject.example.tasks import record

from .test_resources import intervals, max_overlap

pytestmark = pytest.mark.django_db(transaction=True)


@contextmanager
def sql_worker(queues: list[str] | None = None) -> Iterator[tuple[psycopg.Connection[Any], int]]:
    """A connection registered as a worker, calling the worker's SQL functions."""
    with psycopg.connect(autocommit=True, **connection_kwargs()) as conn:
        row = conn.execute(
            "SELECT django_pgflow.register_worker('test', 0, %s, 4)", [Jsonb(queues or [])]
        ).fetchone()
        assert row is not None
        yield conn, row[0]


def sync(conn: psycopg.Connection[Any], resources: dict[str, int], queues: dict[str, Any]) -> None:
    conn.execute("SELECT django_pgflow.sync_limits(%s, %s)", [Jsonb(resources), Jsonb(queues)])


def claim(conn: psycopg.Connection[Any], worker: int, limit: int = 10) -> list[tuple[int, int]]:
    rows = conn.execute(
        "SELECT id, attempts FROM django_pgflow.claim(%s, NULL, %s)", [worker, limit]
    ).fetchall()
    return [(r[0], r[1]) for r in rows]


def complete(conn: psycopg.Connection[Any], jobs: list[tuple[int, int]]) -> None:
    conn.execute(
        "SELECT django_pgflow.complete_many((SELECT worker_id FROM pgflow_job WHERE id = %s), "
        "%s, %s, array_fill('null'::jsonb, ARRAY[%s]), '{}')",
        [jobs[0][0], [j for j, _ in jobs], [a for _, a in jobs], len(jobs)],
    )


def slots(conn: psycopg.Connection[Any], name: str = "gpu") -> tuple[int, int, int]:
    """(free, held, retired) slots of a resource."""
    row = conn.execute(
        "SELECT count(*) FILTER (WHERE NOT held AND NOT retired), count(*) FILTER (WHERE held),"
        " count(*) FILTER (WHERE retired) FROM pgflow_slot_state"
        " WHERE kind = 'resource' AND name = %s",
        [name],
    ).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


def gpu_jobs(count: int, **options: Any) -> list[int]:
    return enqueue_many(
        record.using(resources={"gpu": 1}, **options).s(f"slot-{i}") for i in range(count)
    )


def test_a_lowered_capacity_lets_holders_finish_and_admits_no_one_until_under_it() -> None:
    gpu_jobs(6)
    with sql_worker() as (conn, worker):
        sync(conn, {"gpu": 3}, {})
        first = claim(conn, worker)
        assert len(first) == 3 and slots(conn) == (0, 3, 0)

        sync(conn, {"gpu": 1}, {})
        assert slots(conn) == (0, 3, 2)  # two held slots retire: the holders run on
        assert claim(conn, worker) == []
        complete(conn, first[:2])
        assert claim(conn, worker) == []  # one still runs: the new capacity is full
        complete(conn, first[2:])
        second = claim(conn, worker)
        assert len(second) == 1

        sync(conn, {"gpu": 2}, {})
        assert slots(conn) == (1, 1, 0)  # retired slots of finished jobs are gone
        assert len(claim(conn, worker)) == 1
        assert claim(conn, worker) == []


def test_every_way_out_of_started_gives_the_slot_back() -> None:
    ids = gpu_jobs(6, max_attempts=2)
    with sql_worker() as (conn, worker):
        sync(conn, {"gpu": 1}, {})

        def take() -> tuple[int, int]:
            got = claim(conn, worker)
            assert len(got) == 1, "the single gpu slot was not free"
            assert slots(conn) == (0, 1, 0)
            return got[0]

        complete(conn, [take()])
        job, attempt = take()
        conn.execute(
            "SELECT django_pgflow.fail(%s, %s, %s, %s)",
            [worker, job, attempt, Jsonb({"message": "x"})],
        )  # retried: back to queued, later
        job, _ = take()
        conn.execute("SELECT django_pgflow.cancel(%s)", [job])
        take()
        conn.execute("SELECT django_pgflow.release(%s)", [worker])  # a stopping worker
        job, _ = take()
        conn.execute(
            "UPDATE pgflow_job SET lease_expires_at = now() - interval '1 second' WHERE id = %s",
            [job],
        )
        conn.execute("SELECT django_pgflow.reap(60)")  # a dead worker's lease ran out
        take()
        assert Job.objects.filter(pk__in=ids, status="started").count() == 1


def test_every_way_a_gated_job_stops_wakes_every_worker_and_a_plain_one_does_not() -> None:
    gpu_jobs(6, max_attempts=2)
    plain = enqueue_many([record.using(queue="emails").s("plain")])
    with sql_worker() as (conn, worker), sql_worker() as (listener, _):
        sync(conn, {"gpu": 1}, {})
        listener.execute("LISTEN django_pgflow")

        def woken() -> list[str]:
            return [n.payload for n in listener.notifies(timeout=0.5)]

        def take() -> tuple[int, int]:
            got = claim(conn, worker, limit=1)
            assert len(got) == 1
            woken()  # what the claim itself sent, if anything
            return got[0]

        complete(conn, [take()])  # complete_many, as the worker does
        assert woken() == ["*"]
        job, attempt = take()
        conn.execute("SELECT django_pgflow.complete(%s, %s, %s)", [worker, job, attempt])
        assert woken() == ["*"]
        job, attempt = take()
        conn.execute(
            "SELECT django_pgflow.fail(%s, %s, %s, %s)",
            [worker, job, attempt, Jsonb({"message": "x"})],
        )
        assert "*" in woken()
        job, _ = take()
        conn.execute("SELECT django_pgflow.cancel(%s)", [job])
        assert woken() == ["*"]

        with sql_worker(["emails"]) as (plain_conn, plain_worker):
            got = plain_conn.execute(
                "SELECT id, attempts FROM django_pgflow.claim(%s, ARRAY['emails'], 10)",
                [plain_worker],
            ).fetchall()
            assert [j for j, _ in got] == plain
            woken()
            complete(plain_conn, [(j, a) for j, a in got])
            assert woken() == []


def test_sync_adopts_running_holders_and_frees_slots_of_vanished_jobs() -> None:
    gpu_jobs(4)
    with sql_worker() as (conn, worker):
        sync(conn, {"gpu": 2}, {})
        running = claim(conn, worker)
        assert len(running) == 2
        # As on an install upgraded while jobs ran: the slots forget their
        # holders, and one names a job that no longer exists.
        conn.execute("UPDATE pgflow_slot SET job_id = NULL, attempt = NULL")
        conn.execute("UPDATE pgflow_slot SET job_id = -1, attempt = 1 WHERE n = 1")
        conn.execute("SELECT django_pgflow.sync_slots()")
        held = {
            r[0] for r in conn.execute("SELECT job_id FROM pgflow_slot WHERE job_id IS NOT NULL")
        }
        assert held == {job for job, _ in running}
        assert claim(conn, worker) == []


def test_deleting_or_truncating_jobs_frees_the_slots_they_hold() -> None:
    ids = gpu_jobs(4)
    with sql_worker() as (conn, worker):
        sync(conn, {"gpu": 2}, {})
        running = claim(conn, worker)
        assert slots(conn) == (0, 2, 0) and claim(conn, worker) == []
        # A row gone shows no attempt over: the DELETE itself clears its slot.
        conn.execute("DELETE FROM pgflow_job WHERE id = %s", [running[0][0]])
        assert slots(conn) == (1, 1, 0)
        assert len(claim(conn, worker)) == 1
        conn.execute("TRUNCATE pgflow_job CASCADE")
        assert slots(conn) == (2, 0, 0)
        assert conn.execute(
            "SELECT count(*) FROM pgflow_slot WHERE job_id IS NOT NULL"
        ).fetchone() == (0,)
    assert not Job.objects.filter(pk__in=ids).exists()


def test_jobs_the_rate_window_turns_away_give_back_the_slots_they_were_given() -> None:
    ids = enqueue_many(record.using(queue="limited").s(f"rated-{i}") for i in range(6))
    with sql_worker() as (conn, worker):
        limits = {"limited": {"concurrency": 5, "rate_count": 3, "rate_period": 60}}
        sync(conn, {}, limits)
        # The shards are open, so five jobs get a queue slot each; the rate
        # window then admits three: the other two are dropped from the claim.
        first = claim(conn, worker)
        assert len(first) == 3
        assert [j for j, _ in first] == ids[:3]
        held = conn.execute(
            "SELECT count(*) FROM pgflow_slot_state WHERE kind = 'queue' AND name = 'limited'"
            " AND held"
        ).fetchone()
        assert held == (3,)
        assert claim(conn, worker) == []  # the window is spent
        complete(conn, first)
        assert claim(conn, worker) == []  # slots are free, the window still spent
        assert Job.objects.filter(pk__in=ids, status="queued").count() == 3


def test_many_connections_claiming_at_once_never_oversubscribe_nor_reorder_a_key() -> None:
    gpu = gpu_jobs(120)
    keyed = enqueue_many(record.using(lock_key="account-7").s(f"key-{i}") for i in range(30))
    capped = enqueue_many(record.using(queue="limited").s(f"cap-{i}") for i in range(60))
    errors: list[BaseException] = []

    def drain() -> None:
        try:
            with sql_worker() as (conn, worker):
                while True:
                    got = claim(conn, worker, limit=4)
                    if got:
                        conn.execute("SELECT pg_sleep(0.002)")  # the jobs "run"
                        complete(conn, got)
                    elif not conn.execute(
                        "SELECT count(*) FROM pgflow_job WHERE status IN ('queued', 'started')"
                    ).fetchone()[0]:  # type: ignore[index]
                        return
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)

    with sql_worker() as (conn, _):
        sync(conn, {"gpu": 3}, {"limited": json.loads('{"concurrency": 2}')})
    threads = [threading.Thread(target=drain) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    everything = gpu + keyed + capped
    assert Job.objects.filter(pk__in=everything, status="completed").count() == len(everything)
    assert Job.objects.filter(pk__in=everything, attempts=1).count() == len(everything)
    assert max_overlap(intervals(gpu)) <= 3
    assert max_overlap(intervals(capped)) <= 2
    assert max_overlap(intervals(keyed)) == 1
    starts = list(
        Job.objects.filter(pk__in=keyed).order_by("started_at").values_list("pk", flat=True)
    )
    assert starts == sorted(keyed)
