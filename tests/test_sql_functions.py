"""The SQL core, called directly: one behaviour per test, grouped by function."""

from __future__ import annotations

import json

import psycopg
import pytest
from django.db import DatabaseError, connection, transaction

from django_pgflow.models import Job, Worker
from django_pgflow.sql import PURE
from django_pgflow.worker.connection import connect
from testproject.example.tasks import record

pytestmark = pytest.mark.django_db


def q(sql: str, *params):
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        return cursor.fetchall() if cursor.description else []


def one(sql: str, *params):
    return q(sql, *params)[0][0]


def worker() -> int:
    return one("SELECT django_pgflow.register_worker('host', 1, '[]'::jsonb, 4)")


def claim(worker_id: int, limit: int = 10, queues=None):
    return q(
        "SELECT id, attempts FROM django_pgflow.claim(%s, %s, %s, %s) ORDER BY id",
        worker_id,
        queues,
        limit,
        30,
    )


def enqueue(**kw) -> int:
    return record.using(**kw).enqueue(kw.get("unique_key") or "x").pk


# --- enqueue ------------------------------------------------------------------


def test_enqueue_rejects_hostile_queue_names():
    for name in ["Bad", "a b", "x'; drop table pgflow_job; --", "", "a" * 64]:
        with pytest.raises(DatabaseError, match="invalid queue name"), transaction.atomic():
            q("SELECT django_pgflow.enqueue(%s, 't.task')", name)
    assert Job.objects.count() == 0


def test_enqueue_rejects_args_that_are_not_an_array():
    with pytest.raises(DatabaseError, match="args must be a JSON array"), transaction.atomic():
        q("SELECT django_pgflow.enqueue('default', 't.task', '{\"a\": 1}'::jsonb)")
    with pytest.raises(DatabaseError, match="delay must be >= 0"), transaction.atomic():
        q("SELECT django_pgflow.enqueue('default', 't.task', p_delay => -1)")
    assert Job.objects.count() == 0


def test_enqueue_many_rejects_a_non_array_and_bad_rows_atomically():
    with pytest.raises(DatabaseError, match="JSON array"), transaction.atomic():
        q("SELECT * FROM django_pgflow.enqueue_many('{}'::jsonb)")
    bad = json.dumps([{"queue": "default", "task_name": "t.a"}, {"queue": "BAD", "task_name": "t"}])
    with pytest.raises(DatabaseError, match="invalid queue name"), transaction.atomic():
        q("SELECT * FROM django_pgflow.enqueue_many(%s::jsonb)", bad)
    assert Job.objects.count() == 0


def test_enqueue_batch_sends_each_set_of_options_once_and_keeps_positions():
    held = enqueue(unique_key="held")
    options = [
        {"queue": "default", "task_name": "t.a", "priority": 5, "delay": 60},
        {"queue": "default", "task_name": "t.b", "unique_key": "held"},
        {"queue": "default", "task_name": "t.c", "lock_key": "gpu", "max_attempts": 7},
    ]
    rows = q(
        "SELECT ord, id FROM django_pgflow.enqueue_batch(%s, %s, %s, %s, %s)",
        json.dumps(options),
        [0, 1, 2, 0],
        json.dumps([[1], [2], [3], [4]]),
        json.dumps([{}, {}, {"k": "v"}, {}]),
        json.dumps([None, None, None, {"tenant": 9}]),
    )
    ids = dict(rows)
    assert sorted(ids) == [1, 2, 3, 4]
    assert ids[2] == held  # the active job of the unique key, not a new one
    jobs = {job.pk: job for job in Job.objects.filter(pk__in=ids.values())}
    first, third, fourth = jobs[ids[1]], jobs[ids[3]], jobs[ids[4]]
    assert (first.task_name, first.args, first.priority) == ("t.a", [1], 5)
    assert first.run_at > first.created_at  # delay 60
    assert (fourth.task_name, fourth.args, fourth.metadata) == ("t.a", [4], {"tenant": 9})
    assert (third.kwargs, third.lock_key, third.gated, third.max_attempts) == (
        {"k": "v"},
        "gpu",
        True,
        7,
    )
    assert not first.gated and first.metadata == {} and first.kwargs == {}


def test_database_refuses_out_of_range_values():
    with pytest.raises(DatabaseError), transaction.atomic():
        q("SELECT django_pgflow.enqueue('default', 't.a', p_max_attempts => 0)")
    with pytest.raises(DatabaseError), transaction.atomic():
        q("SELECT django_pgflow.enqueue('default', 't.a', p_priority => 100000)")
    with pytest.raises(DatabaseError), transaction.atomic():
        q("SELECT django_pgflow.enqueue('default', 't.a', p_timeout => 0)")
    assert Job.objects.count() == 0


# --- claim --------------------------------------------------------------------


def test_claim_orders_by_priority_then_run_at_then_id():
    low = enqueue(priority=0)
    high = enqueue(priority=10)
    later = enqueue(priority=10)
    q("UPDATE pgflow_job SET run_at = run_at - interval '1 minute' WHERE id = %s", later)
    wid = worker()
    ids = [one("SELECT id FROM django_pgflow.claim(%s, NULL, 1, 30)", wid) for _ in range(3)]
    assert ids == [later, high, low]


def test_claim_skips_future_jobs_and_other_queues():
    enqueue(delay=60)
    other = enqueue(queue="emails")
    wid = worker()
    assert claim(wid, queues=["default"]) == []
    assert [r[0] for r in claim(wid, queues=["emails", "slow"])] == [other]


def test_claim_sets_lease_attempt_and_worker():
    job_id = enqueue(timeout=10)
    wid = worker()
    assert claim(wid) == [(job_id, 1)]
    job = Job.objects.get(pk=job_id)
    assert job.status == "started"
    assert job.worker_id == wid
    lease = (job.lease_expires_at - job.started_at).total_seconds()
    assert lease == pytest.approx(40, abs=0.01)  # timeout + margin


def test_two_claimers_never_get_the_same_job(transactional_db):
    for _ in range(20):
        enqueue()
    wid = worker()
    with connect("test-a") as a, connect("test-b") as b:
        a.autocommit = False
        b.autocommit = False
        got_a = a.execute("SELECT id FROM django_pgflow.claim(%s, NULL, 15, 30)", [wid]).fetchall()
        # a holds its row locks: b skips them instead of waiting or duplicating.
        got_b = b.execute("SELECT id FROM django_pgflow.claim(%s, NULL, 15, 30)", [wid]).fetchall()
        a.commit()
        b.commit()
    ids_a = {r[0] for r in got_a}
    ids_b = {r[0] for r in got_b}
    assert len(ids_a) == 15
    assert len(ids_b) == 5
    assert not ids_a & ids_b


# --- complete / fail: fenced by the attempt number ------------------------------


def test_complete_is_fenced_by_attempt():
    job_id = enqueue()
    wid = worker()
    claim(wid)
    assert one("SELECT django_pgflow.complete(%s, %s, 2, '\"stale\"')", wid, job_id) is False
    assert one("SELECT django_pgflow.complete(%s, %s, 1, '\"fresh\"')", wid, job_id) is True
    assert one("SELECT django_pgflow.complete(%s, %s, 1, '\"again\"')", wid, job_id) is False
    job = Job.objects.get(pk=job_id)
    assert (job.status, job.result) == ("completed", "fresh")


def test_complete_many_applies_only_current_attempts():
    a, b = enqueue(), enqueue()
    wid = worker()
    claim(wid)
    applied = q(
        "SELECT django_pgflow.complete_many(%s, %s, %s, ARRAY['1'::jsonb, '2'::jsonb])",
        wid,
        [a, b],
        [1, 7],
    )
    assert [r[0] for r in applied] == [a]
    assert Job.objects.get(pk=b).status == "started"


def complete_and_claim(wid: int, limit: int, ids: list[int], attempts: list[int]):
    return q(
        "SELECT late_id, id, attempts FROM django_pgflow.complete_and_claim("
        "%s, NULL, %s, 30, %s, %s, ARRAY(SELECT to_jsonb(i) FROM unnest(%s::bigint[]) i))",
        wid,
        limit,
        ids,
        attempts,
        ids,
    )


def test_complete_and_claim_completes_names_late_reports_then_claims_in_order():
    a, b = enqueue(), enqueue()
    wid = worker()
    claim(wid)
    c, d = enqueue(priority=1), enqueue(priority=2)
    rows = complete_and_claim(wid, 10, [a, b], [1, 7])
    # b's attempt 7 is late; then the claim, priority first.
    assert rows == [(b, None, None), (None, d, 1), (None, c, 1)]
    assert Job.objects.get(pk=a).status == "completed"
    assert Job.objects.get(pk=a).result == a
    assert Job.objects.get(pk=b).status == "started"


def test_complete_and_claim_with_nothing_to_report_or_no_room():
    a = enqueue()
    wid = worker()
    assert complete_and_claim(wid, 10, [], []) == [(None, a, 1)]
    b = enqueue()
    assert complete_and_claim(wid, 0, [a], [1]) == []
    assert Job.objects.get(pk=a).status == "completed"
    assert Job.objects.get(pk=b).status == "queued"


def test_complete_and_claim_rolls_back_both_halves_on_error():
    a = enqueue()
    wid = worker()
    claim(wid)
    b = enqueue()
    with pytest.raises(DatabaseError, match="lease_margin"), transaction.atomic():
        # A lease margin no interval can hold: the claim half fails.
        q(
            "SELECT * FROM django_pgflow.complete_and_claim(%s, NULL, 10, 1e300, %s, %s, "
            "ARRAY['1'::jsonb])",
            wid,
            [a],
            [1],
        )
    assert Job.objects.get(pk=a).status == "started"
    assert Job.objects.get(pk=b).status == "queued"


def test_fail_retries_with_backoff_then_fails_for_good():
    job_id = enqueue(max_attempts=2, retry_delay=10, max_retry_delay=15)
    wid = worker()
    claim(wid)
    error = json.dumps({"error": "ValueError", "message": "boom", "traceback": "tb"})
    assert one("SELECT django_pgflow.fail(%s, %s, 1, %s::jsonb)", wid, job_id, error) == "queued"
    job = Job.objects.get(pk=job_id)
    delay = one("SELECT extract(epoch FROM run_at - now()) FROM pgflow_job WHERE id = %s", job_id)
    assert 5 - 0.1 <= delay <= 10 + 0.1  # equal jitter over base * 2^0
    assert job.failures == 1
    assert job.errors[0]["attempt"] == 1
    assert job.errors[0]["message"] == "boom"
    q("UPDATE pgflow_job SET run_at = now() WHERE id = %s", job_id)
    claim(wid)
    assert one("SELECT django_pgflow.fail(%s, %s, 2, %s::jsonb)", wid, job_id, error) == "failed"
    job.refresh_from_db()
    assert (job.status, job.attempts, len(job.errors)) == ("failed", 2, 2)
    assert job.finished_at is not None


def test_backoff_is_capped():
    for failures in (1, 5, 30):
        seconds = one("SELECT extract(epoch FROM django_pgflow.backoff(%s, 1, 20))", failures)
        assert seconds <= 20
    assert one("SELECT extract(epoch FROM django_pgflow.backoff(30, 1, 20))") >= 10


def test_fail_without_retry_fails_at_once():
    job_id = enqueue(max_attempts=5)
    wid = worker()
    claim(wid)
    assert one("SELECT django_pgflow.fail(%s, %s, 1, '{}'::jsonb, false)", wid, job_id) == "failed"


def test_late_failure_is_ignored():
    job_id = enqueue()
    wid = worker()
    claim(wid)
    assert one("SELECT django_pgflow.fail(%s, %s, 9, '{}'::jsonb)", wid, job_id) is None
    assert Job.objects.get(pk=job_id).status == "started"


# --- cancel / retry -------------------------------------------------------------


def test_cancel_then_manual_retry_gives_a_fresh_budget():
    job_id = enqueue(max_attempts=1)
    wid = worker()
    claim(wid)
    assert one("SELECT django_pgflow.fail(%s, %s, 1, '{}'::jsonb)", wid, job_id) == "failed"
    assert one("SELECT django_pgflow.cancel(%s)", job_id) is False  # already finished
    assert one("SELECT django_pgflow.retry(%s)", job_id) is True
    job = Job.objects.get(pk=job_id)
    assert (job.status, job.failures, len(job.errors)) == ("queued", 0, 1)
    assert claim(wid) == [(job_id, 2)]
    assert one("SELECT django_pgflow.cancel(%s)", job_id) is True
    assert one("SELECT django_pgflow.complete(%s, %s, 2, 'null')", wid, job_id) is False  # late
    assert Job.objects.get(pk=job_id).status == "cancelled"


def test_retry_refuses_active_jobs_and_negative_delay():
    job_id = enqueue()
    assert one("SELECT django_pgflow.retry(%s)", job_id) is False
    with pytest.raises(DatabaseError, match="retry delay"), transaction.atomic():
        q("SELECT django_pgflow.retry(%s, -1)", job_id)


# --- heartbeat, release, reap ----------------------------------------------------


def test_heartbeat_extends_leases_of_its_worker_only():
    mine, theirs = enqueue(), enqueue()
    me, other = worker(), worker()
    q("SELECT id FROM django_pgflow.claim(%s, NULL, 1, 30)", me)
    q("SELECT id FROM django_pgflow.claim(%s, NULL, 1, 30)", other)
    q("UPDATE pgflow_job SET lease_expires_at = now() + interval '1 second'")
    assert one("SELECT django_pgflow.heartbeat(%s, 60)", me) == 1
    leases = dict(q("SELECT id, extract(epoch FROM lease_expires_at - now()) FROM pgflow_job"))
    assert leases[mine] > 59 and leases[theirs] < 2
    assert one("SELECT django_pgflow.heartbeat(-5, 60)") == -1


def test_release_hands_jobs_back_without_counting_a_failure():
    job_id = enqueue()
    wid = worker()
    claim(wid)
    assert one("SELECT django_pgflow.release(%s, %s)", wid, [job_id]) == 1
    job = Job.objects.get(pk=job_id)
    assert (job.status, job.failures, job.worker_id) == ("queued", 0, None)


def test_release_unknown_keeps_known_jobs():
    a, b = enqueue(), enqueue()
    wid = worker()
    claim(wid)
    assert one("SELECT django_pgflow.release_unknown(%s, %s)", wid, [a]) == 1
    assert Job.objects.get(pk=a).status == "started"
    assert Job.objects.get(pk=b).status == "queued"


def test_reap_requeues_expired_leases_and_silent_workers():
    expired, silent, healthy = enqueue(), enqueue(), enqueue()
    w1, w2, w3 = worker(), worker(), worker()
    q("SELECT django_pgflow.claim(%s, NULL, 1, 30)", w1)
    q("SELECT django_pgflow.claim(%s, NULL, 1, 30)", w2)
    q("SELECT django_pgflow.claim(%s, NULL, 1, 30)", w3)
    q("UPDATE pgflow_job SET lease_expires_at = now() - interval '1 second' WHERE id = %s", expired)
    q("UPDATE pgflow_worker SET last_heartbeat = now() - interval '1 hour' WHERE id = %s", w2)
    assert one("SELECT django_pgflow.reap(60)") == 2
    states = dict(Job.objects.values_list("pk", "status"))
    assert states == {expired: "queued", silent: "queued", healthy: "started"}
    lost = Job.objects.get(pk=silent).errors[0]
    assert lost["error"] == "WorkerLostError"
    assert "heartbeating" in lost["message"]


def test_reap_marks_silent_workers_lost_and_a_heartbeat_brings_them_back():
    silent = worker()
    q("UPDATE pgflow_worker SET last_heartbeat = now() - interval '1 hour' WHERE id = %s", silent)
    one("SELECT django_pgflow.reap(60)")
    assert Worker.objects.get(pk=silent).state == "lost"
    assert one("SELECT django_pgflow.heartbeat(%s, 30)", silent) == 0
    revived = Worker.objects.get(pk=silent)
    assert (revived.state, revived.stopped_at) == ("running", None)


def test_stop_worker_releases_and_marks_stopped():
    job_id = enqueue()
    wid = worker()
    claim(wid)
    assert one("SELECT django_pgflow.stop_worker(%s)", wid) == 1
    assert Worker.objects.get(pk=wid).state == "stopped"
    assert Job.objects.get(pk=job_id).status == "queued"


# --- legal transitions only -------------------------------------------------------


def test_database_refuses_illegal_transitions():
    job_id = enqueue()
    wid = worker()
    claim(wid)
    one("SELECT django_pgflow.complete(%s, %s, 1, 'null')", wid, job_id)
    for status in ("started", "queued", "failed"):
        with pytest.raises(DatabaseError, match="invalid status transition"), transaction.atomic():
            Job.objects.filter(pk=job_id).update(status=status)
    with pytest.raises(DatabaseError, match="cannot decrease"), transaction.atomic():
        Job.objects.filter(pk=job_id).update(attempts=0)
    assert Job.objects.get(pk=job_id).status == "completed"


# --- prune ------------------------------------------------------------------------


def test_prune_deletes_old_finished_jobs_in_batches():
    ids = [enqueue() for _ in range(5)]
    wid = worker()
    claim(wid)
    for job_id in ids:
        one("SELECT django_pgflow.complete(%s, %s, 1, 'null')", wid, job_id)
    fresh = enqueue()
    q("UPDATE pgflow_job SET finished_at = now() - interval '2 days' WHERE id = ANY(%s)", ids)
    assert one("SELECT django_pgflow.prune('completed', 86400, 2)") == 2
    assert one("SELECT django_pgflow.prune('completed', 86400, 10)") == 3
    assert one("SELECT django_pgflow.prune('completed', 86400, 10)") == 0
    assert list(Job.objects.values_list("pk", flat=True)) == [fresh]
    with pytest.raises(DatabaseError, match="only removes finished"), transaction.atomic():
        q("SELECT django_pgflow.prune('queued', 0, 10)")


# --- NOTIFY at commit ----------------------------------------------------------------


def test_notify_is_delivered_at_commit_only(transactional_db):
    with connect("test-listener") as listener:
        listener.execute("LISTEN django_pgflow")
        with transaction.atomic():
            record.using(queue="emails").enqueue("n")
            assert list(listener.notifies(timeout=0.3)) == []
        got = [n.payload for n in listener.notifies(timeout=2, stop_after=1)]
    assert got == ["emails"]


def test_sql_functions_are_schema_qualified_with_fixed_search_path():
    rows = q(
        "SELECT p.proname, p.proconfig, obj_description(p.oid, 'pg_proc') "
        "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = 'django_pgflow'"
    )
    assert len(rows) >= 15
    for name, config, comment in rows:
        if name not in PURE:  # no SET: they read no table (tests/test_schema.py)
            assert config and any(c.startswith("search_path=") for c in config), name
        assert comment, f"pgflow.{name} has no COMMENT ON FUNCTION"


def test_psycopg_error_names_the_offending_value():
    with (
        pytest.raises(psycopg.errors.InvalidParameterValue, match="'UP'"),
        connect("test-direct") as conn,
    ):
        conn.execute("SELECT django_pgflow.enqueue('UP', 't.task')")


# --- the worker's connection ----------------------------------------------------


def test_worker_connection_decodes_jsonb_like_json_loads():
    with connect("test") as conn:
        row = conn.execute(
            "SELECT '[]'::jsonb, '[]'::jsonb, '{}'::jsonb, '{\"a\": [1, \"é\"]}'::jsonb, "
            "'\"x\"'::jsonb, 'null'::jsonb"
        ).fetchone()
    assert row == ([], [], {}, {"a": [1, "é"]}, "x", None)
    assert row[0] is not row[1]  # a fresh list per row: tasks may mutate their args


# --- claim: what it takes --------------------------------------------------------


@pytest.mark.parametrize("margin", [-1, float("nan"), float("inf"), None])
def test_claim_refuses_a_lease_margin_no_lease_could_hold(margin):
    job_id = enqueue()
    wid = worker()
    with pytest.raises(DatabaseError, match="lease_margin must be"), transaction.atomic():
        q("SELECT * FROM django_pgflow.claim(%s, NULL, 10, %s)", wid, margin)
    assert Job.objects.get(pk=job_id).status == "queued"


@pytest.mark.parametrize("limit", [-1, None, 10001])
def test_claim_refuses_a_limit_out_of_range(limit):
    enqueue()
    wid = worker()
    with pytest.raises(DatabaseError, match="between 0 and 10000 jobs"), transaction.atomic():
        q("SELECT * FROM django_pgflow.claim(%s, NULL, %s)", wid, limit)
    assert not Job.objects.filter(status="started").exists()


def test_a_stopped_worker_claims_nothing():
    job_id = enqueue()
    wid = worker()
    one("SELECT django_pgflow.stop_worker(%s)", wid)
    refused = pytest.raises(DatabaseError, match="is not registered, or has stopped")
    with refused, transaction.atomic():
        claim(wid)
    assert Job.objects.get(pk=job_id).status == "queued"
