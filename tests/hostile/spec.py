"""Every function of the schema ``django_pgflow``, with the rule for what it may
change and the roles of docs/guides/security.md that may call it.

``test_every_function_is_listed`` compares this with pg_proc: a function added
to the schema fails it, by name, until it is listed here with its rule.
"""

from __future__ import annotations

from . import rules
from .rules import Rule

ENTRY_POINTS: dict[str, Rule] = {
    "enqueue": rules.enqueue,
    "enqueue_many": rules.enqueue_many,
    "start_flow": rules.start_flow,
    "cancel": rules.cancel,
    "retry": rules.retry,
    "cancel_run": rules.cancel_run,
    "resume_run": rules.resume_run,
    "claim": rules.claim,
    "complete": rules.complete,
    "complete_many": rules.complete_many,
    "complete_and_claim": rules.complete_and_claim,
    "fail": rules.fail,
    "heartbeat": rules.heartbeat,
    "register_worker": rules.register_worker,
    "release": rules.release,
    "release_unknown": rules.release_unknown,
    "stop_worker": rules.stop_worker,
    "reap": rules.reap,
    "prune": rules.prune,
    "prune_runs": rules.prune_runs,
    "prune_workers": rules.prune_workers,
    "sync_limits": rules.sync_limits,
    "sync_slots": rules.sync_slots,
    "sync_periodic": rules.sync_periodic,
    "enqueue_periodic": rules.enqueue_periodic,
}
# Read-only helpers: whoever may call them, they change nothing.
PURE = ("backoff", "check_job", "check_job_json", "check_queue_name", "check_resources")
PURE += ("check_seconds", "step_task_name", "step_input", "rate_used")
# Steps of the cascade and of the claim. They run inside an entry point, on
# its rows and under its locks; called on their own (the worker role holds
# EXECUTE on every function) they must change nothing either: failing
# someone's run, or giving a slot to a job that is not being claimed, is not
# a worker's to do.
INTERNAL = ("apply_failure_policy", "cancel_step_jobs", "complete_step", "complete_step_task")
INTERNAL += ("fail_run", "fail_step_task", "maybe_complete_run", "on_step_job")
INTERNAL += ("release_dependents", "skip_step", "start_ready_steps", "start_step")
INTERNAL += ("claim_gated", "reserve_rate")

SPEC: dict[str, Rule] = {
    **ENTRY_POINTS,
    **dict.fromkeys(PURE, rules.nothing),
    **dict.fromkeys(INTERNAL, rules.nothing),
}

# What each role of the security guide may call; anything else must be
# refused with insufficient_privilege. The worker role gets EXECUTE on every
# function (grants-worker.sql).
WEB = {"enqueue", "enqueue_many", "start_flow"}
MAY_CALL = {
    "web": WEB,
    "operator": WEB | {"cancel", "retry", "cancel_run", "resume_run"},
    "worker": set(SPEC),
}
