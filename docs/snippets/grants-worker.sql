-- The worker role: runworkers (claim, report, heartbeat, reap, prune,
-- periodic schedules, LISTEN), pgflow_prune and pgflow_status.
-- Run as the role that ran `migrate`, with the same search_path.
GRANT USAGE ON SCHEMA django_pgflow TO myapp_worker;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA django_pgflow TO myapp_worker;
-- Jobs and workers: claimed, reported, reaped, pruned.
GRANT SELECT, INSERT, UPDATE, DELETE ON pgflow_job, pgflow_worker TO myapp_worker;
-- Runs: a completion cascades through them; retention deletes them.
GRANT SELECT, UPDATE, DELETE ON pgflow_run, pgflow_step_state TO myapp_worker;
GRANT SELECT, INSERT, UPDATE, DELETE ON pgflow_step_task TO myapp_worker;
-- Flow definitions: runworkers syncs those of its code when it starts.
GRANT SELECT, INSERT, UPDATE ON pgflow_flow TO myapp_worker;
GRANT SELECT, INSERT, UPDATE, DELETE ON pgflow_step, pgflow_step_dep TO myapp_worker;
-- Periodic schedules: synced at start, one tick claimed at a time.
GRANT SELECT, INSERT, UPDATE ON pgflow_periodic TO myapp_worker;
-- Resources and queue limits: synced at start; their slots and rate shards
-- are taken by the claim, which reads slots through pgflow_slot_state.
GRANT SELECT, INSERT, UPDATE, DELETE ON pgflow_resource, pgflow_queue_limit, pgflow_slot,
                                         pgflow_queue_rate_shard
    TO myapp_worker;
GRANT SELECT, UPDATE ON pgflow_slot_state TO myapp_worker;
-- pgflow_status: who holds and waits for resources, limits and lock keys.
GRANT SELECT ON pgflow_contention TO myapp_worker;
