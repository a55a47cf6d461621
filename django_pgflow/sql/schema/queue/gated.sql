-- What makes a job gated, written once: every path that inserts a job or
-- puts one back in the queue asks this function. Whether the job's queue has
-- limits is looked up by the caller (once per call for a batch). A plain SQL
-- function with no SET clause, so that PostgreSQL inlines it into the
-- statements that call it row by row; it reads no table and is granted to no
-- one (django_pgflow.sql.PURE lists such functions for the tests).
CREATE OR REPLACE FUNCTION django_pgflow.gated(p_resources jsonb, p_lock_key text, p_limited_queue boolean)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT (p_resources IS NOT NULL AND p_resources NOT IN ('null'::jsonb, '{}'::jsonb))
        OR p_lock_key IS NOT NULL
        OR coalesce(p_limited_queue, false);
$$;

COMMENT ON FUNCTION django_pgflow.gated(jsonb, text, boolean) IS
'Whether a job is gated, so that only claim_gated() takes it: it needs resources, holds a lock key, or its queue has a concurrency cap or a rate limit (p_limited_queue).';

REVOKE EXECUTE ON FUNCTION django_pgflow.gated(jsonb, text, boolean) FROM PUBLIC;
