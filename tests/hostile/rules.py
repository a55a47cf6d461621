"""The documented effect of each function of the schema, as a rule over the
rows a call changed (see ``effects.py``).

These state the behaviour issue 12 requires, not only today's: reports are
fenced by worker as well as attempt, claims go to registered running workers
with a lease no shorter than the job's timeout, what is enqueued can be read
back by Python and can ever start, capacities are bounded.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from .effects import (
    ACTIVE,
    FINISHED,
    Call,
    as_keys,
    loads,
    num,
    payload_too_big,
    same_id,
    vet_mirrors,
    vet_runs,
)
from .snapshot import Change, Row

MAX_CAPACITY = 100_000  # slots per resource or queue: a row each


def updated(call: Call, table: str = "pgflow_job") -> list[Change]:
    return [c for c in call.changes(table) if c.before is not None and c.after is not None]


def inserted(call: Call, table: str = "pgflow_job") -> list[Change]:
    return [c for c in call.changes(table) if c.before is None]


def deleted(call: Call, table: str) -> list[Change]:
    return [c for c in call.changes(table) if c.after is None]


def text_of(call: Call, name: str) -> str | None:
    """A text argument as it would be stored (None: NULL or not valid text)."""
    return call.text(name)


# --- enqueueing -------------------------------------------------------------------


def enqueued(call: Call) -> list[Change]:
    """Jobs a call inserted: queued, unclaimed, plain (not a step's), able to start."""
    made = inserted(call)
    for change in made:
        call.vet(change)
        row, where = change.after, f"enqueued job {change.key[0]}"
        assert row is not None
        state = (row["status"], row["attempts"], row["failures"], row["worker_id"], row["run_id"])
        if state != ("queued", "0", "0", None, None):
            call.bad(f"{where} was stored as (status, attempts, failures, worker, run) {state}")
        if (row["task_name"] or "").startswith("pgflow.step."):
            call.bad(
                f"{where} runs step task {row['task_name']} as a plain job, on the caller's args"
            )
        if row["lock_key"] == "":
            call.bad(f"{where} was stored with an empty lock key")
        if row.get("impossible") is not None:
            call.bad(f"{where} was stored although it can never start: {row['impossible']}")
        check_resources(call, row, where)
        key = row["unique_key"]
        if key is not None and any(
            r["unique_key"] == key and r["status"] in ACTIVE
            for r in call.before.rows("pgflow_job").values()
        ):
            call.bad(f"{where} was inserted while an active job holds its unique key {key!r}")
    return made


def check_resources(call: Call, row: Row, where: str) -> None:
    wanted = loads(row["resources"] or "null") or {}
    capacity = {
        r["name"]: int(r["capacity"] or 0) for r in call.before.rows("pgflow_resource").values()
    }
    if not isinstance(wanted, dict):
        call.bad(f"{where} stores resources {row['resources']}")
        return
    for name, amount in wanted.items():
        if name not in capacity:
            call.bad(f"{where} needs resource {name!r}, which nobody declared: it can never start")
        elif isinstance(amount, int | float) and amount > capacity[name]:
            have = capacity[name]
            call.bad(f"{where} needs {amount} {name}, whose capacity is {have}: it can never start")


def same_fields(call: Call, change: Change, wanted: dict[str, object], where: str) -> None:
    row = change.after
    assert row is not None
    for column, value in wanted.items():
        stored = row.get(column)
        expected = None if value is None else str(value)
        if stored != expected:
            call.bad(f"{where}: {column} {value!r} was stored as {stored!r}")


def enqueue(call: Call) -> None:
    made = enqueued(call)
    if len(made) > 1:
        call.bad(f"enqueue inserted {len(made)} jobs")
    for change in made:
        wanted: dict[str, object] = {}
        for column in ("queue", "task_name", "unique_key", "lock_key", "priority"):
            if f"p_{column}" in call.args:  # a named call leaves some to their defaults
                value = (
                    call.integer("p_priority")
                    if column == "priority"
                    else text_of(call, f"p_{column}")
                )
                wanted[column] = value
        same_fields(call, change, wanted, f"enqueued job {change.key[0]}")


def enqueue_many(call: Call) -> None:
    made = enqueued(call)
    items = call.json("p_jobs")
    order: dict[str | None, int] = {}
    for text in call.rows or []:
        ord_, job_id = text.strip("()").split(",")
        order[job_id] = int(ord_)
    for change in made:
        where = f"enqueue_many item {order.get(change.key[0])} (job {change.key[0]})"
        if not isinstance(items, list) or change.key[0] not in order:
            continue
        item = items[order[change.key[0]] - 1]
        wanted = {c: item.get(c) for c in ("queue", "task_name", "unique_key", "lock_key")}
        same_fields(call, change, wanted, where)


def enqueue_batch(call: Call) -> None:
    """enqueue_many's effect, each job's options named by index into p_options."""
    made = enqueued(call)
    options, chosen = call.json("p_options"), call.ids("p_option")
    order = {
        text.strip("()").split(",")[1]: int(text.strip("()").split(",")[0])
        for text in call.rows or []
    }
    for change in made:
        position = order.get(change.key[0])
        if not isinstance(options, list) or chosen is None or position is None:
            continue
        item = options[chosen[position - 1]]
        wanted = {c: item.get(c) for c in ("queue", "task_name", "unique_key", "lock_key")}
        same_fields(call, change, wanted, f"enqueue_batch job {position} (id {change.key[0]})")


def enqueue_periodic(call: Call) -> None:
    name = text_of(call, "p_name")
    for change in updated(call, "pgflow_periodic"):
        assert change.before is not None
        if change.before["name"] == name and set(change.columns) <= {
            "last_tick",
            "next_tick",
            "last_job_id",
        }:
            call.vet(change)
    made = enqueued(call)
    if len(made) > 1 or any(
        not (c.value("unique_key") or "").startswith("periodic:") for c in made
    ):
        call.bad(f"enqueue_periodic inserted {[c.describe() for c in made]}")


def sync_periodic(call: Call) -> None:
    name = text_of(call, "p_name")
    for change in call.changes("pgflow_periodic"):
        if change.after is not None and change.after["name"] == name:
            call.vet(change)


# --- flows --------------------------------------------------------------------------


def start_flow(call: Call) -> None:
    made = inserted(call, "pgflow_run")
    if len(made) > 1:
        call.bad(f"start_flow inserted {len(made)} runs")
    for change in made:
        row, where = change.after, f"run {change.key[0]}"
        assert row is not None
        if row["input"] is None:
            call.bad(f"{where} was started with a NULL input")
        if row["run_key"] == "":
            call.bad(f"{where} was started with an empty run key")
        wanted = {"flow_slug": text_of(call, "p_flow_slug"), "run_key": text_of(call, "p_run_key")}
        for column, value in wanted.items():
            if row[column] != value:
                call.bad(f"{where}: {column} {value!r} was stored as {row[column]!r}")
        problem = payload_too_big(row, ("input",), where)
        if problem:
            call.bad(problem)
        vet_runs(call, {str(change.key[0])})
        vet_mirrors(call, {c.key[0] for c in inserted(call) if c.value("run_id") == change.key[0]})


def run_transition(call: Call, before: tuple[str, ...], after: str) -> None:
    run_id = call.integer("p_run_id")
    for change in updated(call, "pgflow_run"):
        if not same_id(change.before, "id", run_id):
            continue
        assert change.before is not None and change.after is not None
        if change.before["status"] not in before or change.after["status"] != after:
            call.bad(f"run {run_id} went {change.before['status']} -> {change.after['status']}")
        vet_runs(call, {str(run_id)})
        jobs = {c.key[0] for c in call.changes("pgflow_job") if c.value("run_id") == str(run_id)}
        vet_mirrors(call, as_keys(jobs))


def cancel_run(call: Call) -> None:
    run_transition(call, ("started",), "cancelled")


def resume_run(call: Call) -> None:
    run_transition(call, ("failed", "cancelled"), "started")


# --- one job by id ------------------------------------------------------------------


def one_job(call: Call, before: tuple[str, ...], after: str) -> Change | None:
    job_id = call.integer("p_job_id")
    for change in updated(call):
        if same_id(change.before, "id", job_id):
            assert change.before is not None and change.after is not None
            if change.before["status"] not in before or change.after["status"] != after:
                call.bad(f"job {job_id} went {change.before['status']} -> {change.after['status']}")
            call.vet(change)
            return change
    return None


def cancel(call: Call) -> None:
    change = one_job(call, ACTIVE, "cancelled")
    if change is not None:
        run_id = change.value("run_id")
        vet_runs(call, {run_id} if run_id else set())
        vet_mirrors(call, {change.key[0]})


def retry(call: Call) -> None:
    change = one_job(call, ("failed", "cancelled"), "queued")
    if change is None:
        return
    row = change.after
    assert row is not None
    if row["run_id"] is not None:
        call.bad(f"retry requeued step job {change.key[0]} outside its run")
    if (row["failures"], row["worker_id"], row["lease_expires_at"]) != ("0", None, None):
        call.bad(f"retry left job {change.key[0]} with {change.describe()}")
    delay = call.number("p_delay")
    run_at = num(row, "run_at")
    if delay is not None and run_at is not None and run_at < call.before.at + delay - 1:
        call.bad(f"retry with delay {delay} set run_at {run_at - call.before.at:.0f}s ahead")


# --- what a worker reports ----------------------------------------------------------


def fence_name(call: Call) -> str | None:
    """The parameter naming the reporting worker, if the function has one."""
    return next((p for p in call.args if "worker" in p), None)


def reported(call: Call, wanted: dict[str, int], outcomes: set[str]) -> set[str]:
    """Jobs a report changed: only the attempt it names, only while the worker it
    names holds it (issue 12: fenced by worker as well as attempt)."""
    fence = fence_name(call)
    worker = call.integer(fence) if fence else None
    done, runs = set(), set()
    for change in updated(call):
        before, after, job_id = change.before, change.after, change.key[0]
        assert before is not None and after is not None
        if job_id not in wanted or before["status"] != "started":
            continue
        if before["attempts"] != str(wanted[job_id]):
            continue
        holder = before["worker_id"]
        if fence is None:
            call.bad(
                f"{call.function} changed job {job_id}, held by worker {holder}, though it names"
                " no worker: reports must be fenced by worker id as well as attempt"
            )
        elif not same_id(before, "worker_id", worker):
            call.bad(
                f"{call.function} for worker {worker} changed job {job_id}, held by worker {holder}"
            )
        if after["status"] not in outcomes and not refused_result(call, change):
            call.bad(f"{call.function} moved job {job_id} started -> {after['status']}")
        call.vet(change)
        done.add(job_id)
        if before["run_id"]:
            runs.add(before["run_id"])
    vet_runs(call, runs)
    vet_mirrors(call, done)
    return done


def refused_result(call: Call, change: Change) -> bool:
    """A completion whose result Python could not read back fails the job
    instead, without retry (InvalidResultError): it would reach the next step."""
    errors = loads(change.value("errors") or "[]")
    last = errors[-1] if isinstance(errors, list) and errors else {}
    invalid = isinstance(last, dict) and last.get("error") == "InvalidResultError"
    return call.function.startswith("complete") and change.value("status") == "failed" and invalid


def pairs(call: Call, ids: str, attempts: str) -> dict[str, int]:
    job_ids, numbers = call.ids(ids), call.ids(attempts)
    if job_ids is None or numbers is None:
        return {}
    return {str(j): a for j, a in zip(job_ids, numbers, strict=False)}


def complete(call: Call) -> None:
    job_id, attempt = call.integer("p_job_id"), call.integer("p_attempt")
    if job_id is not None and attempt is not None:
        reported(call, {str(job_id): attempt}, {"completed"})


def complete_many(call: Call) -> None:
    reported(call, pairs(call, "p_ids", "p_attempts"), {"completed"})


def fail(call: Call) -> None:
    job_id, attempt = call.integer("p_job_id"), call.integer("p_attempt")
    if job_id is None or attempt is None:
        return
    outcomes = {"failed"} if call.args.get("p_retry") is False else {"failed", "queued"}
    for job_id_ in reported(call, {str(job_id): attempt}, outcomes):
        change = next(c for c in updated(call) if c.key[0] == job_id_)
        if num(change.after, "failures") != (num(change.before, "failures") or 0) + 1:
            call.bad(f"fail left job {job_id_} with {change.describe()}")


def complete_and_claim(call: Call) -> None:
    reported(call, pairs(call, "p_ids", "p_attempts"), {"completed"})
    claim(call)


# --- claims -----------------------------------------------------------------------


def claim(call: Call) -> None:
    worker_id = call.integer("p_worker_id")
    worker = call.before.get("pgflow_worker", worker_id) if worker_id is not None else None
    limit, queues = call.integer("p_limit"), call.names("p_queues")
    taken = [
        c
        for c in updated(call)
        if c.before
        and c.after
        and c.before["status"] == "queued"
        and c.after["status"] == "started"
    ]
    for change in taken:
        call.vet(change)
        claimed_job(call, change, worker_id, worker, queues)
    if limit is not None and len(taken) > max(limit, 0):
        call.bad(f"claim with limit {limit} took {len(taken)} jobs")
    ids = {c.key[0] for c in taken}
    vet_mirrors(call, ids)
    taken_queues = {c.value("queue") for c in taken}
    for change in call.changes("pgflow_queue_rate_shard"):
        if change.value("queue") in taken_queues:
            call.vet(change)


def claimed_job(
    call: Call, change: Change, worker_id: int | None, worker: Row | None, queues: list[str] | None
) -> None:
    before, after, where = change.before, change.after, f"claimed job {change.key[0]}"
    assert before is not None and after is not None
    if worker is None or worker["state"] != "running":
        state = "not a registered worker" if worker is None else f"a {worker['state']} worker"
        call.bad(f"claim gave job {change.key[0]} to worker {worker_id}, {state}")
    if after["worker_id"] != (None if worker_id is None else str(worker_id)):
        call.bad(f"{where} went to worker {after['worker_id']}, not {worker_id}")
    if num(after, "attempts") != (num(before, "attempts") or 0) + 1:
        call.bad(f"{where}: attempts {before['attempts']} -> {after['attempts']}")
    # now() + timeout + margin, where the call's now() is no earlier than the snapshot before it.
    lease, timeout = num(after, "lease_expires_at"), num(after, "timeout")
    if lease is not None and timeout is not None and lease < call.before.at + timeout - 0.001:
        margin = call.args.get("p_lease_margin")
        call.bad(f"{where} got a lease shorter than its timeout (lease margin {margin!r})")
    if queues and after["queue"] not in queues:
        call.bad(f"{where} is in queue {after['queue']}, not one of {queues}")


# --- workers ------------------------------------------------------------------------


def register_worker(call: Call) -> None:
    made = inserted(call, "pgflow_worker")
    if len(made) != 1:
        call.bad(f"register_worker inserted {len(made)} workers")
    for change in made:
        call.vet(change)
        queues = loads(change.value("queues") or "null")
        if not (isinstance(queues, list) and all(isinstance(q, str) for q in queues)):
            call.bad(
                f"worker {change.key[0]} was registered with queues {change.value('queues')!s:.80}"
            )


def heartbeat(call: Call) -> None:
    worker_id = call.integer("p_worker_id")
    for change in updated(call, "pgflow_worker"):
        assert change.before is not None and change.after is not None
        revived = change.after["state"] == change.before["state"] or (
            change.before["state"] == "lost" and change.after["state"] == "running"
        )
        beat = set(change.columns) <= {"last_heartbeat", "state", "stopped_at"}
        if same_id(change.before, "id", worker_id) and revived and beat:
            call.vet(change)
    for change in updated(call):
        old, new = num(change.before, "lease_expires_at"), num(change.after, "lease_expires_at")
        mine = same_id(change.before, "worker_id", worker_id)
        extended = old is not None and new is not None and old <= new < math.inf
        if mine and change.columns == ["lease_expires_at"] and extended:
            call.vet(change)


def handed_back(call: Call, chosen: Callable[[int], bool]) -> None:
    worker_id = call.integer("p_worker_id")
    done = set()
    for change in updated(call):
        before, after = change.before, change.after
        assert before is not None and after is not None
        if not same_id(before, "worker_id", worker_id) or before["status"] != "started":
            continue
        if after["status"] != "queued" or not chosen(int(change.key[0] or 0)):
            continue
        call.vet(change)
        done.add(change.key[0])
        kept = (before["attempts"], before["failures"])
        if (after["attempts"], after["failures"], after["worker_id"]) != (*kept, None):
            call.bad(f"{call.function} handed back job {change.key[0]} as {change.describe()}")
    vet_mirrors(call, {d for d in done if d})


def release(call: Call) -> None:
    ids = call.ids("p_job_ids")
    listed = call.args.get("p_job_ids") is not None
    handed_back(call, lambda j: not listed or ids is None or j in ids)


def release_unknown(call: Call) -> None:
    known = call.ids("p_known") or []
    handed_back(call, lambda j: j not in known)


def stop_worker(call: Call) -> None:
    handed_back(call, lambda j: True)
    worker_id = call.integer("p_worker_id")
    for change in updated(call, "pgflow_worker"):
        stopped = change.value("state") == "stopped"
        only = set(change.columns) <= {"state", "stopped_at", "last_heartbeat"}
        if same_id(change.before, "id", worker_id) and stopped and only:
            call.vet(change)


def reap(call: Call) -> None:
    dead_after = call.number("p_dead_after")
    if dead_after is None or not math.isfinite(dead_after) or dead_after <= 0:
        return  # refused, or everything it did is undocumented
    silent_since = call.after.at - dead_after
    workers = call.before.rows("pgflow_worker")
    runs, done = set(), set()
    for change in updated(call):
        before, after = change.before, change.after
        assert before is not None and after is not None
        worker = workers.get((before["worker_id"],))
        lease = num(before, "lease_expires_at")
        lost = (
            (lease is not None and lease < call.after.at)
            or worker is None
            or worker["state"] == "stopped"
            or (num(worker, "last_heartbeat") or 0) < silent_since
        )
        failed = num(after, "failures") == (num(before, "failures") or 0) + 1
        if (
            before["status"] == "started"
            and lost
            and after["status"] in ("queued", "failed")
            and failed
        ):
            call.vet(change)
            done.add(change.key[0])
            if before["run_id"]:
                runs.add(before["run_id"])
    for change in updated(call, "pgflow_worker"):
        assert change.before is not None
        beat = num(change.before, "last_heartbeat") or 0
        if (
            change.before["state"] == "running"
            and change.value("state") == "lost"
            and beat < silent_since
        ):
            call.vet(change)
    vet_runs(call, runs)
    vet_mirrors(call, done)


# --- retention ----------------------------------------------------------------------


def old_enough(call: Call, row: Row | None, status_arg: str) -> bool:
    older_than = call.number("p_older_than")
    finished = num(row, "finished_at")
    if row is None or older_than is None or finished is None or not math.isfinite(older_than):
        return False
    status = text_of(call, status_arg)
    return row["status"] == status and status in FINISHED and finished <= call.after.at - older_than


def prune(call: Call) -> None:
    gone = [c for c in deleted(call, "pgflow_job") if old_enough(call, c.before, "p_status")]
    for change in gone:
        call.vet(change)
    batch = call.integer("p_batch_size")
    if batch is not None and len(gone) > batch:
        call.bad(f"prune with batch size {batch} deleted {len(gone)} jobs")
    vet_mirrors(call, {c.key[0] for c in gone if c.key[0]})


def prune_runs(call: Call) -> None:
    runs = {c.key[0] for c in deleted(call, "pgflow_run") if old_enough(call, c.before, "p_status")}
    for table in ("pgflow_run", "pgflow_step_state", "pgflow_step_task", "pgflow_event"):
        for change in deleted(call, table):
            if (change.key[0] if table == "pgflow_run" else change.value("run_id")) in runs:
                call.vet(change)


def prune_workers(call: Call) -> None:
    older_than = call.number("p_older_than")
    if older_than is None or not math.isfinite(older_than):
        return
    holding = {
        r["worker_id"] for r in call.before.rows("pgflow_job").values() if r["status"] == "started"
    }
    for change in deleted(call, "pgflow_worker"):
        row = change.before
        assert row is not None
        stopped = num(row, "stopped_at")
        old = stopped is not None and stopped < call.after.at - older_than
        if row["state"] in ("stopped", "lost") and old and row["id"] not in holding:
            call.vet(change)


# --- resources and limits ---------------------------------------------------------


def sync_limits(call: Call) -> None:
    for table in (
        "pgflow_resource",
        "pgflow_queue_limit",
        "pgflow_slot_state",
        "pgflow_queue_rate_shard",
    ):
        for change in call.changes(table):
            call.vet(change)
    for change in updated(call):
        if set(change.columns) <= {"gated", "impossible"} and change.value("status") == "queued":
            call.vet(change)
    check_limits(call)


def sync_slots(call: Call) -> None:
    for change in call.changes("pgflow_slot_state"):
        call.vet(change)
    check_limits(call)


def check_limits(call: Call) -> None:
    """What settings validation refuses, the database must not hold either; and
    each pool has exactly its capacity of active slots once synced."""
    pools: dict[tuple[str, str], int] = {}
    for row in call.after.rows("pgflow_resource").values():
        pools[("resource", row["name"] or "")] = int(row["capacity"] or 0)
    for row in call.after.rows("pgflow_queue_limit").values():
        check_queue_limit(call, row)
        if row["concurrency"] is not None:
            pools[("queue", row["queue"] or "")] = int(row["concurrency"])
    for (kind, name), capacity in pools.items():
        if capacity > MAX_CAPACITY:
            call.bad(
                f"{kind} {name} was given a capacity of {capacity}: capacities need an upper bound"
            )
        active = sum(
            1
            for s in call.after.rows("pgflow_slot_state").values()
            if (s["kind"], s["name"]) == (kind, name) and s["retired"] == "false"
        )
        if active != capacity and capacity <= MAX_CAPACITY:
            call.bad(f"{kind} {name} has capacity {capacity} but {active} active slots")


def check_queue_limit(call: Call, row: Row) -> None:
    concurrency, count, period = (num(row, c) for c in ("concurrency", "rate_count", "rate_period"))
    where = f"queue limit {row['queue']}"
    if concurrency is not None and concurrency < 1:
        call.bad(f"{where} stores concurrency {row['concurrency']}")
    if (count is None) != (period is None):
        call.bad(f"{where} stores a rate of {row['rate_count']} per {row['rate_period']} s")
    if count is not None and count < 1:
        call.bad(f"{where} stores rate count {row['rate_count']}")
    if period is not None and not (math.isfinite(period) and period > 0):
        call.bad(f"{where} stores rate period {row['rate_period']}")
    if count is not None and count > MAX_CAPACITY:
        call.bad(f"{where} stores rate count {row['rate_count']}: rates need an upper bound")


def nothing(call: Call) -> None:
    """Pure functions, and internals that only an entry point may drive: no change."""


Rule = Callable[[Call], None]


# --- added with the canonical schema ---------------------------------------------


def run_now(call: Call) -> None:
    job_id = call.integer("p_job_id")
    for change in updated(call):
        if same_id(change.before, "id", job_id) and change.columns == ["run_at"]:
            old, new = num(change.before, "run_at"), num(change.after, "run_at")
            if (
                change.value("status") == "queued"
                and old is not None
                and new is not None
                and new < old
            ):
                call.vet(change)


def worker_lost(call: Call) -> None:
    worker_id = call.integer("p_worker_id")
    for change in updated(call, "pgflow_worker"):
        assert change.before is not None
        moved = (change.before["state"], change.value("state")) == ("running", "lost")
        only = set(change.columns) <= {"state", "stopped_at"}
        if same_id(change.before, "id", worker_id) and moved and only:
            call.vet(change)


def flow_definition(call: Call) -> None:
    """sync_flow, create_flow, add_step: the definition rows of the flow they name."""
    slug = text_of(call, "p_flow_slug")
    if "p_flow" in call.args:
        flow = call.json("p_flow")
        slug = flow.get("slug") if isinstance(flow, dict) else None
    flows = {
        key[0]
        for snapshot in (call.before, call.after)
        for key, row in snapshot.rows("pgflow_flow").items()
        if row["slug"] == slug
    }
    for change in call.changes("pgflow_flow"):
        if change.key[0] in flows:
            call.vet(change)
    for table in ("pgflow_step", "pgflow_step_dep"):
        for change in call.changes(table):
            if change.value("flow_id") in flows:
                call.vet(change)
