"""Every function of the schema ``django_pgflow``, with the rule for what it may
change and the roles of docs/guides/security.md that may call it.

``test_every_function_is_listed`` compares this with pg_proc: a function added
to the schema fails it, by name, until it is listed here with its rule.
"""

from __future__ import annotations

from . import rules
from .rules import Rule

# The entry points (SECURITY DEFINER) and what each documents.
ENTRY_POINTS: dict[str, Rule] = {
    # the web's
    "enqueue": rules.enqueue,
    "enqueue_many": rules.enqueue_many,
    "enqueue_batch": rules.enqueue_batch,
    "start_flow": rules.start_flow,
    "get_run_with_states": rules.nothing,
    "cancel": rules.cancel,
    "retry": rules.retry,
    "run_now": rules.run_now,
    "cancel_run": rules.cancel_run,
    "resume_run": rules.resume_run,
    # the worker's
    "register_worker": rules.register_worker,
    "keep_alive": rules.nothing,
    "heartbeat": rules.heartbeat,
    "claim": rules.claim,
    "complete": rules.complete,
    "complete_many": rules.complete_many,
    "complete_and_claim": rules.complete_and_claim,
    "fail": rules.fail,
    "release": rules.release,
    "release_unknown": rules.release_unknown,
    "stop_worker": rules.stop_worker,
    "worker_lost": rules.worker_lost,
    "reap": rules.reap,
    "prune": rules.prune,
    "prune_runs": rules.prune_runs,
    "prune_workers": rules.prune_workers,
    "sync_flow": rules.flow_definition,
    "create_flow": rules.flow_definition,
    "add_step": rules.flow_definition,
    "sync_periodic": rules.sync_periodic,
    "enqueue_periodic": rules.enqueue_periodic,
    "rate_used": rules.nothing,
    # the owner's alone (migrate, pgflow_sync): capacities and limits
    "sync_limits": rules.sync_limits,
}
# Granted to no one: checks, and the steps of the cascade and of the claim.
# They run inside an entry point, on its rows and under its locks; called on
# their own they must be refused to every role (failing someone's run, or
# giving a slot to a job that is not being claimed, is nobody's to do).
INTERNAL: tuple[str, ...] = (
    "backoff",
    "check_job",
    "check_job_json",
    "check_jobs_json",
    "check_json",
)
INTERNAL += ("check_key", "check_limits", "check_metadata", "check_possible", "check_queue_name")
INTERNAL += ("check_resources", "check_seconds", "check_whole", "check_worker", "json_problem")
INTERNAL += ("max_payload_bytes", "resources_problem", "result_problem", "readable_error")
INTERNAL += ("gated", "step_input", "step_task_name", "unreadable_results", "check_flow")
INTERNAL += ("check_flow_step", "flow_changes", "enqueue_keyed", "fail_attempt", "claim_gated")
INTERNAL += ("give_slots", "give_slots_to_holders", "pick_gated_batch", "recheck_impossible")
INTERNAL += ("regate_queues", "reserve_rate", "turn_down", "reserve_rates", "size_slot_pool")
INTERNAL += ("store_limits", "sync_rate_shards", "sync_slots", "take_gated")
INTERNAL += ("apply_failure_policy", "cancel_step_jobs", "complete_step", "complete_step_tasks")
INTERNAL += ("fail_run", "fail_step_task", "insert_flow_steps", "map_items")
INTERNAL += ("maybe_complete_run", "on_step_job", "queue_compensation", "queue_step_tasks")
INTERNAL += ("release_dependents", "remove_flow", "skip_step", "start_ready_steps")
INTERNAL += ("start_step", "update_flow", "emit_event", "check_batch", "worker_sessions")
INTERNAL += ("speaks_for",)

SPEC: dict[str, Rule] = {**ENTRY_POINTS, **dict.fromkeys(INTERNAL, rules.nothing)}

# What each role of the security guide may call (its tables of entry points
# and its snippets); anything else must be refused with insufficient_privilege.
STATUS = {"enqueue", "enqueue_many", "enqueue_batch"}  # grants-web-status-only.sql
WEB = STATUS | {"start_flow", "get_run_with_states"}
OPERATOR = WEB | {"cancel", "retry", "run_now", "cancel_run", "resume_run", "rate_used"}
WORKER = {"register_worker", "heartbeat", "claim", "complete", "complete_many"}
WORKER |= {"complete_and_claim", "fail", "release", "release_unknown", "stop_worker"}
WORKER |= {"keep_alive"}
WORKER |= {"worker_lost", "reap", "prune", "prune_runs", "prune_workers", "sync_flow"}
WORKER |= {"sync_periodic", "enqueue_periodic", "rate_used", "create_flow", "add_step"}
WORKER |= WEB  # tasks that enqueue jobs or start flows of their own
MAY_CALL = {"web": WEB, "status": STATUS, "operator": OPERATOR, "worker": WORKER}
