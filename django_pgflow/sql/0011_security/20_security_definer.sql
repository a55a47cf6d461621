-- The application's entry points run with the rights of their owner (the role
-- that ran migrate), so a role that may only enqueue needs EXECUTE on them and
-- no write privilege on any table: it cannot claim, complete, fail, update or
-- delete a job, nor insert one in a state of its choosing. Starting a flow can
-- skip or fail steps, and cancelling a run updates its jobs: as SECURITY
-- INVOKER functions these would need UPDATE on pgflow_job, which is the claim.
-- The worker's functions stay SECURITY INVOKER: the worker role holds the
-- table privileges they use (docs/guides/security.md).
-- A later CREATE OR REPLACE of one of them resets SECURITY DEFINER: restate it.
ALTER FUNCTION django_pgflow.enqueue(
    text, text, jsonb, jsonb, integer, timestamptz, float8, integer, float8, float8, float8, text,
    jsonb, text
) SECURITY DEFINER;
ALTER FUNCTION django_pgflow.enqueue_many(jsonb) SECURITY DEFINER;
ALTER FUNCTION django_pgflow.start_flow(text, jsonb, text) SECURITY DEFINER;
ALTER FUNCTION django_pgflow.cancel(bigint) SECURITY DEFINER;
ALTER FUNCTION django_pgflow.retry(bigint, float8) SECURITY DEFINER;
ALTER FUNCTION django_pgflow.cancel_run(bigint) SECURITY DEFINER;
ALTER FUNCTION django_pgflow.resume_run(bigint) SECURITY DEFINER;
