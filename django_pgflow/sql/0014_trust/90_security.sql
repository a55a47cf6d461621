-- The worker's entry points run with the rights of their owner, like the
-- web's (0011): a worker role needs EXECUTE on them and SELECT on what it
-- reads, and no write privilege on any table. It cannot forge a status,
-- change a job's arguments, insert or delete jobs, touch runs, slots or
-- capacities, except as these functions do (docs/guides/security.md).
-- Capacities and queue limits (sync_limits) are the owner's alone.
-- A later CREATE OR REPLACE of one of them resets SECURITY DEFINER: restate it.
ALTER FUNCTION django_pgflow.claim(bigint, text[], integer, float8) SECURITY DEFINER;
ALTER FUNCTION django_pgflow.complete(bigint, bigint, integer, jsonb) SECURITY DEFINER;
ALTER FUNCTION django_pgflow.complete_many(bigint, bigint[], integer[], jsonb[], bigint[]) SECURITY DEFINER;
ALTER FUNCTION django_pgflow.complete_and_claim(
    bigint, text[], integer, float8, bigint[], integer[], jsonb[], bigint[]) SECURITY DEFINER;
ALTER FUNCTION django_pgflow.fail(bigint, bigint, integer, jsonb, boolean) SECURITY DEFINER;
ALTER FUNCTION django_pgflow.heartbeat(bigint, float8) SECURITY DEFINER;
ALTER FUNCTION django_pgflow.register_worker(text, integer, jsonb, integer) SECURITY DEFINER;
ALTER FUNCTION django_pgflow.release(bigint, bigint[]) SECURITY DEFINER;
ALTER FUNCTION django_pgflow.release_unknown(bigint, bigint[]) SECURITY DEFINER;
ALTER FUNCTION django_pgflow.stop_worker(bigint) SECURITY DEFINER;
ALTER FUNCTION django_pgflow.worker_lost(bigint) SECURITY DEFINER;
ALTER FUNCTION django_pgflow.reap(float8) SECURITY DEFINER;
ALTER FUNCTION django_pgflow.prune(text, float8, integer) SECURITY DEFINER;
ALTER FUNCTION django_pgflow.prune_runs(text, float8, integer) SECURITY DEFINER;
ALTER FUNCTION django_pgflow.prune_workers(float8) SECURITY DEFINER;
ALTER FUNCTION django_pgflow.sync_periodic(text, text, text, text, jsonb, timestamptz, timestamptz) SECURITY DEFINER;
ALTER FUNCTION django_pgflow.enqueue_periodic(text, timestamptz, timestamptz) SECURITY DEFINER;
ALTER FUNCTION django_pgflow.sync_flow(jsonb) SECURITY DEFINER;
-- pgflow_contention calls it, with the rights of whoever reads the view.
ALTER FUNCTION django_pgflow.rate_used(text, timestamptz) SECURITY DEFINER;
